//! Early revoke by people: `/c1 revoke` (with a reason at once, else through the
//! reason modal), and the reason modal itself, shared with *Can't complete*; each
//! submission is decided by [`act`].

use serde_json::{json, Value};

use crate::app::grants::{act, Ask, Outcome};
use crate::app::shared::services::Services;
use crate::store::Change;
use crate::workflow::grant::TaskKind;

/// The reason recorded when the person with the access clicks *I'm done*.
pub const DONE_REASON: &str = "no longer needed (I'm done)";

/// `/c1 revoke REQ-1042 reason`, journaled: revoke now; the person is told in the
/// same commit ("Revoking …") or, refused, by the journal with the reason.
pub async fn revoke_now(
    services: &Services,
    sender: &crate::app::shared::journaled::Sender,
    request_id: &str,
    reason: String,
    also: Change,
) -> crate::app::shared::journaled::Outcome {
    let told = format!(
        "Revoking {request_id}: its access is being removed, and the person who had it is told."
    );
    let also = also.outbox(sender.tell(&told));
    act(
        services,
        &sender.user,
        request_id,
        Ask::Revoke(reason),
        &also,
    )
    .await
    .into()
}

/// `/c1 revoke REQ-1042` without a reason: asks for it in a modal (with one, the
/// command is journaled and decided by [`revoke_now`]). Returns the ack payload.
pub fn revoke_command(
    services: &Services,
    trigger_id: String,
    request_id: String,
    reason: String,
) -> Option<Value> {
    if request_id.is_empty() {
        return Some(json!({
            "response_type": "ephemeral",
            "text": format!("Say which access to end: `{} revoke REQ-1042 [reason]`. `{} status` lists yours.", services.command, services.command),
        }));
    }
    if reason.trim().is_empty() {
        open_reason_modal(services, trigger_id, request_id, Purpose::Revoke);
    }
    None
}

/// *Can't complete* or *Revoke*: the reason modal opens at once (the trigger lives 3 s).
pub fn open_reason_modal(
    services: &Services,
    trigger_id: String,
    request_id: String,
    purpose: Purpose,
) {
    let services = services.clone();
    tokio::spawn(async move {
        let Ok(Some(stored)) = services.load_request(&request_id).await else {
            return;
        };
        let names = services.names(&stored.data);
        let what = format!(
            "*{}* on *{}* for <@{}> ({})",
            crate::app::shared::mrkdwn::escape(&names.entitlement),
            crate::app::shared::mrkdwn::escape(&names.resource),
            stored.data.beneficiary,
            stored.data.id
        );
        let (callback, metadata, title, submit, question, hint) = match purpose {
            Purpose::CannotComplete(kind) => (
                crate::controls::Modal::TaskFail.id(),
                format!("{request_id}/{}", kind.as_str()),
                "Can't complete",
                "Send",
                format!("Why can't you complete this task for {what}?"),
                match kind {
                    TaskKind::Grant => {
                        "The request fails; the requester and approvers see this reason."
                    }
                    TaskKind::Revoke => {
                        "The task stays open and goes to the resource's owners with this reason."
                    }
                },
            ),
            Purpose::Revoke => (
                crate::controls::Modal::Revoke.id(),
                request_id.clone(),
                "Revoke access",
                "Revoke",
                format!("Revoke {what} now?"),
                "Recorded in the audit log and shown to the person with the access.",
            ),
        };
        let vars = crate::templates::Vars::new()
            .text("callback_id", callback)
            .text("request_id", metadata)
            .text("title", title)
            .text("submit", submit)
            // A mention built here, with the catalog names escaped.
            .mrkdwn("question", crate::templates::Mrkdwn::built(question))
            .text("hint", hint);
        let view = match services.templates().render("reason_modal", &vars) {
            Ok(view) => view,
            Err(error) => return tracing::error!(%error, "cannot render the reason modal"),
        };
        services.open_view(&trigger_id, view, "reason").await;
    });
}

#[derive(Debug, Clone, Copy)]
pub enum Purpose {
    CannotComplete(TaskKind),
    Revoke,
}

/// The reason modal was submitted: the ack payload (the refusal under the reason
/// field) or `None` to close it.
pub async fn reason_submitted(
    services: &Services,
    user: &str,
    modal: crate::controls::Modal,
    input: &crate::slack::view_input::ViewInput,
) -> Option<Value> {
    let metadata = input.metadata.clone();
    let reason = input.words("reason");
    let Some(reason) = reason else {
        return Some(
            json!({ "response_action": "errors", "errors": { "reason": "Say why, in a few words." } }),
        );
    };
    let (request_id, ask) = if modal == crate::controls::Modal::Revoke {
        (metadata, Ask::Revoke(reason))
    } else {
        let (id, kind) = metadata
            .rsplit_once('/')
            .unwrap_or((metadata.as_str(), "grant"));
        let kind = if kind == "revoke" {
            TaskKind::Revoke
        } else {
            TaskKind::Grant
        };
        (id.to_owned(), Ask::CannotComplete(kind, reason))
    };
    match act(services, user, &request_id, ask, &Change::new()).await {
        Outcome::Done => None,
        Outcome::Refused(message) | Outcome::Unavailable(message) => {
            Some(json!({ "response_action": "errors", "errors": { "reason": message } }))
        }
    }
}
