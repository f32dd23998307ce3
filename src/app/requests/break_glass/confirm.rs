//! The confirm step: what was asked is checked like any request and kept as a
//! draft (server-side, one per person), and a modal says exactly what will happen,
//! with the emergency reason to confirm. *Grant now* takes the access; the view's
//! `private_metadata` only names the draft, which is used once.

use serde_json::{json, Value};

use crate::app::requests::break_glass::{draft_key, escalate};
use crate::app::requests::{self, Rejected};
use crate::app::shared::services::Services;
use crate::app::shared::stored::break_glass::Draft;
use crate::store::{Change, Table};
use crate::templates::{Mrkdwn, Vars};
use crate::workflow::request::AccessRequest;
use crate::workflow::submit::{human, FieldErrors, Form};

/// The confirm modal's reason input (block id).
const REASON: &str = "reason";

/// The request modal was submitted with *Emergency* ticked: the ack that replaces
/// it with the confirm step, or the errors (nothing is taken yet).
pub async fn ask_to_confirm(
    services: &Services,
    user: &str,
    channel: &str,
    form: Form,
) -> Option<Value> {
    let preview = match requests::preview(services, user, channel, &form).await {
        Ok(preview) => preview,
        Err(rejected) => {
            return Some(json!({"response_action": "errors", "errors": rejected.errors}))
        }
    };
    let draft = Draft {
        nonce: uuid::Uuid::new_v4().simple().to_string(),
        channel: channel.to_owned(),
        escalates: None,
        form,
        created_at: services.now(),
    };
    match confirm_view(services, &preview, &draft).await {
        Ok(view) => Some(json!({"response_action": "update", "view": view})),
        Err(message) => Some(json!({"response_action": "errors", "errors": {
            crate::workflow::submit::fields::JUSTIFICATION: message
        }})),
    }
}

/// Stores `draft` and renders the confirm modal for `preview` (the request as it
/// would be taken).
pub(super) async fn confirm_view(
    services: &Services,
    preview: &AccessRequest,
    draft: &Draft,
) -> Result<Value, String> {
    services
        .store
        .commit(Change::new().put(Table::Sessions, draft_key(&preview.requester), draft))
        .await
        .map_err(|error| {
            tracing::error!(%error, "cannot store a break-glass draft");
            "c1bot could not prepare this just now; nothing was granted. Try again in a moment."
                .to_owned()
        })?;
    let names = services.names(preview);
    let duration = match preview.duration {
        crate::workflow::request::AccessDuration::For(d) => human(d),
        crate::workflow::request::AccessDuration::Permanent => "permanent".to_owned(),
    };
    let for_whom = if preview.beneficiary == preview.requester {
        "you".to_owned()
    } else {
        format!("<@{}>", preview.beneficiary)
    };
    let vars = Vars::new()
        .text("draft", &draft.nonce)
        .text("resource", &names.resource)
        .text("entitlement", &names.entitlement)
        .text("duration", duration)
        .mrkdwn("for_whom", Mrkdwn::built(for_whom))
        .mrkdwn(
            "what_happens",
            Mrkdwn::built(what_happens(services, preview)),
        )
        .text(
            "reason",
            draft.form.justification.clone().unwrap_or_default(),
        );
    services
        .templates()
        .render("break_glass_confirm_modal", &vars)
        .map_err(|error| {
            tracing::error!(%error, "cannot render the break-glass confirmation");
            "c1bot could not show the confirmation; nothing was granted.".to_owned()
        })
}

/// The list of what *Grant now* sets off, with ids c1bot checked.
fn what_happens(services: &Services, preview: &AccessRequest) -> String {
    let mentions = |ids: &mut dyn Iterator<Item = &String>| {
        ids.map(|id| format!("<@{id}>"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reviewers = preview
        .emergency
        .as_ref()
        .map(|e| mentions(&mut e.reviewers.iter()))
        .unwrap_or_default();
    let mut lines = vec![
        "• Provisioning starts at once; the clock starts when the access is active.".to_owned(),
        format!("• {reviewers} are told now and get a *post-incident review* (*Looks right* / *Revoke now*), with reminders until one of them answers."),
    ];
    if let Some((resource, _)) = services.target(preview) {
        let owners: Vec<String> = resource.owners.iter().map(|o| o.to_string()).collect();
        if !owners.is_empty() {
            lines.push(format!(
                "• The resource's owners ({}) are told by DM.",
                mentions(&mut owners.iter())
            ));
        }
    }
    if let Some(channel) = &services.break_glass.channel {
        lines.push(format!("• A line goes to <#{channel}>."));
    }
    lines.push("• The audit log records it as break-glass access.".to_owned());
    lines.join("\n")
}

/// *Grant now*: the ack (`None` closes the modal), or the refusal under the reason.
pub async fn confirmed(
    services: &Services,
    user: &str,
    input: &crate::slack::view_input::ViewInput,
) -> Option<Value> {
    let reason = input.words(REASON);
    let Some(reason) = reason else {
        return Some(error(
            "Say why this is an emergency: everyone told sees it.",
        ));
    };
    let nonce = input.metadata.as_str();
    let key = draft_key(user);
    let stored = match services.store.get::<Draft>(Table::Sessions, &key).await {
        Ok(Some(stored)) if !nonce.is_empty() && stored.data.nonce == nonce => stored,
        Ok(_) => {
            services
                .audit_refusal(user, "", "break_glass.confirm", "no matching draft".into())
                .await;
            return Some(error("This confirmation is no longer valid (it was used, or replaced by a newer one): nothing was granted. Ask again."));
        }
        Err(error_) => {
            tracing::error!(error = %error_, "cannot read a break-glass draft");
            return Some(error(
                "c1bot could not read this just now; nothing was granted. Try again in a moment.",
            ));
        }
    };
    // Used once: the commit that takes the access removes it, expecting this revision.
    let also = Change::new()
        .expect(Table::Sessions, key.clone(), Some(stored.rev))
        .delete(Table::Sessions, key);
    let draft = stored.data;
    let outcome = match &draft.escalates {
        Some(request_id) => escalate::take_now(services, user, request_id, &reason, &also)
            .await
            .map_err(|message| FieldErrors::from([(REASON.to_owned(), message)])),
        None => {
            let form = Form {
                justification: Some(reason),
                emergency: true,
                ..draft.form
            };
            requests::create(
                services,
                user,
                &draft.channel,
                &form,
                None,
                "break_glass",
                &also,
            )
            .await
            .map_err(|rejected: Rejected| rejected.errors)
        }
    };
    match outcome {
        Ok(()) => None,
        Err(errors_) => Some(errors(errors_)),
    }
}

fn error(message: &str) -> Value {
    errors(FieldErrors::from([(REASON.to_owned(), message.to_owned())]))
}

/// The errors on the confirm modal's one input (every problem is about the whole
/// request here; the first submission checked the fields).
fn errors(errors: FieldErrors) -> Value {
    let mut sentences: Vec<String> = errors.into_values().collect();
    sentences.dedup();
    json!({"response_action": "errors", "errors": {REASON: sentences.join(" ")}})
}
