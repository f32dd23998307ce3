//! `/c1 break-glass`: a request id escalates that open request (its requester
//! only); anything else is asked like a one-line request, as an emergency: the
//! request modal opens filled with it and with *Emergency* ticked.
//! [`take_now`] is the escalation itself, after the confirm step.

use serde_json::{json, Value};

use crate::app::grants;
use crate::app::requests::break_glass::{plan, Planned};
use crate::app::shared::services::Services;
use crate::app::shared::stored::break_glass::Draft;
use crate::policy::Action;
use crate::slack::web::methods;
use crate::store::{AuditEvent, Change, CommitError, Table};
use crate::workflow::request::AccessRequest;
use crate::workflow::submit::Form;

fn ephemeral(text: String) -> Option<Value> {
    Some(json!({"response_type": "ephemeral", "text": text}))
}

/// The slash command's ack payload (`None`: a modal opens after the ack).
pub async fn command(
    services: &Services,
    trigger_id: String,
    channel: String,
    user: String,
    text: &str,
) -> Option<Value> {
    let first = text.split_whitespace().next().unwrap_or_default();
    if !first.to_uppercase().starts_with("REQ-") {
        crate::app::requests::one_line::open_as_emergency(
            services, trigger_id, channel, user, text,
        );
        return None;
    }
    let request_id = first.to_uppercase();
    let reason = text[first.len()..].trim().to_owned();
    let request = match services.load_request(&request_id).await {
        Ok(Some(stored)) => stored.data,
        Ok(None) => return ephemeral(format!("There is no request {request_id}.")),
        Err(error) => {
            tracing::error!(%error, "cannot read a request");
            return ephemeral(
                "c1bot could not read that request just now; try again in a moment.".into(),
            );
        }
    };
    if request.requester != user {
        return ephemeral(format!(
            "Only <@{}>, who asked for {request_id}, can escalate it.",
            request.requester
        ));
    }
    if !request.state.is_open() {
        return ephemeral(format!(
            "{request_id} is {} already: there is nothing to escalate.",
            request.state.label()
        ));
    }
    // The checks that need policy and the directory, and the modal, after the ack.
    let services = services.clone();
    tokio::spawn(async move {
        let planned = match planned(&services, &request, &channel).await {
            Ok(planned) => planned,
            Err(message) => return tell(&services, &channel, &user, &message).await,
        };
        let preview = match crate::workflow::break_glass::take(
            request.clone(),
            None,
            planned.reviewers,
            planned.cap,
            true,
            services.now(),
        ) {
            Ok((preview, _)) => preview,
            Err(message) => return tell(&services, &channel, &user, &message).await,
        };
        let draft = Draft {
            nonce: uuid::Uuid::new_v4().simple().to_string(),
            channel: channel.clone(),
            escalates: Some(request.id.clone()),
            form: Form {
                justification: Some(if reason.is_empty() {
                    request.justification.clone()
                } else {
                    reason
                }),
                emergency: true,
                ..Form::default()
            },
            created_at: services.now(),
        };
        match crate::app::requests::break_glass::confirm::confirm_view(&services, &preview, &draft)
            .await
        {
            Ok(view) => services.open_view(&trigger_id, view, "break-glass").await,
            Err(message) => tell(&services, &channel, &user, &message).await,
        }
    });
    None
}

/// Whether policy lets `request` be escalated, and who then reviews it.
async fn planned(
    services: &Services,
    request: &AccessRequest,
    channel: &str,
) -> Result<Planned, String> {
    let Some((resource, entitlement)) = services.target(request) else {
        return Err(format!(
            "{} is no longer in the catalog.",
            request.entitlement
        ));
    };
    let subject = services
        .directory
        .person(&request.beneficiary)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "cannot read the beneficiary's profile");
            "c1bot could not check the account just now; nothing changed. Try again in a moment."
                .to_owned()
        })?;
    let decision = services.decide(
        Action::Request,
        &subject,
        channel,
        Some((resource, entitlement)),
        Some(request),
    );
    plan(entitlement, resource, &decision, &request.steps)
}

async fn tell(services: &Services, channel: &str, user: &str, text: &str) {
    let args = json!({"channel": channel, "user": user, "text": text});
    if let Err(error) = services.web.call(methods::CHAT_POST_EPHEMERAL, args).await {
        tracing::warn!(%error, "cannot tell a person why their escalation was refused");
    }
}

/// Escalates open request `request_id` to emergency access for its requester
/// `user`, re-checking everything on the stored request; `also` (the draft's
/// removal) commits with it. Refusals are one sentence for the person.
pub async fn take_now(
    services: &Services,
    user: &str,
    request_id: &str,
    reason: &str,
    also: &Change,
) -> Result<(), String> {
    let stored = match services.load_request(request_id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return Err(format!("There is no request {request_id}.")),
        Err(error) => {
            tracing::error!(%error, "cannot read a request");
            return Err(
                "c1bot could not read that request just now; try again in a moment.".into(),
            );
        }
    };
    if stored.data.requester != user {
        return Err(format!(
            "Only the person who asked for {request_id} can escalate it."
        ));
    }
    let planned = planned(services, &stored.data, "").await?;
    let now = services.now();
    let (request, effects) = crate::workflow::break_glass::take(
        stored.data,
        Some(reason.to_owned()),
        planned.reviewers.clone(),
        planned.cap,
        true,
        now,
    )?;
    let plan = grants::plan_start(services, &request).await.map_err(|error| {
        tracing::warn!(%error, "cannot resolve who provisions");
        "c1bot could not look up who grants this access just now; nothing changed. Try again in a moment.".to_owned()
    })?;
    let rendered = render(services, &request, &effects, &plan, &planned, now, reason);
    let change = rendered.map_err(|error| {
        tracing::error!(%error, request_id, "cannot render an escalation");
        "c1bot could not record that; nothing changed. Try again.".to_owned()
    })?;
    let change = change.expect(Table::Requests, request_id, Some(stored.rev));
    match services.store.commit(change.and(also.clone())).await {
        Ok(_) => {
            services
                .consequences
                .committed(&crate::app::shared::consequences::Committed::Request(Box::new(request)));
            Ok(())
        }
        Err(error) if error.already_processed() => Ok(()),
        Err(CommitError::Conflict { .. }) => Err(format!(
            "{request_id} changed meanwhile; nothing was granted. Look at it again and ask again if you still need it."
        )),
        Err(error) => {
            tracing::error!(%error, request_id, "cannot store an escalation");
            Err("c1bot could not record that; nothing changed. Try again.".into())
        }
    }
}

/// The escalation's change: the approvers' cards closed, the requester told, the
/// provisioning started, everyone concerned told, audited.
fn render(
    services: &Services,
    request: &AccessRequest,
    effects: &[crate::workflow::approval::Effect],
    plan: &grants::StartPlan,
    planned: &Planned,
    now: chrono::DateTime<chrono::Utc>,
    reason: &str,
) -> anyhow::Result<Change> {
    let names = services.names(request);
    let mut notifier = services.notifier(&names);
    notifier.provisioning = Some(&plan.via);
    let mut change = Change::new().at(now).audit(AuditEvent {
        actor: request.requester.clone(),
        action: "request.break_glass".into(),
        subject: request.id.clone(),
        detail: json!({
            "break_glass": true,
            "escalated": true,
            "reason": reason,
            "duration": crate::app::shared::notify::duration_text(request.duration),
            "reviewers": planned.reviewers,
        }),
    });
    for message in notifier.messages(request, effects)? {
        change = change.outbox(message);
    }
    if let Some(line) = services.activity_line(request, false) {
        change = change.outbox(line);
    }
    let change = grants::start(services, request, plan, now, change)?;
    Ok(crate::app::requests::break_glass::announce(
        services, request, planned, now, change,
    )?)
}
