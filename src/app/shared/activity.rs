//! The activity channel: one line per request, posted when it is submitted and
//! edited in place as it is decided, granted, revoked or expires. Pure: the caller
//! commits the message with the state change; the outbox delivers it in its own lane
//! (key `REQ-…/activity`), so a failure there never blocks or delays the request.

use serde_json::json;

use crate::app::shared::notify::Names;
use crate::config::ActivityConfig;
use crate::store::OutboxMessage;
use crate::templates::{Templates, Vars};
use crate::workflow::grant::GrantState;
use crate::workflow::request::{AccessRequest, State};

pub fn key(request_id: &str) -> String {
    format!("{request_id}/activity")
}

/// The line for `request` as it stands now: a post when `first`, else an edit.
/// `None` when no activity channel is configured or the line cannot be rendered.
pub fn line(
    config: &ActivityConfig,
    templates: &Templates,
    names: &Names,
    request: &AccessRequest,
    first: bool,
) -> Option<OutboxMessage> {
    let channel = config.channel.as_deref()?;
    let reason = if config.include_reason {
        format!("  ·  “{}”", request.justification)
    } else {
        String::new()
    };
    let vars = Vars::new()
        .text("request_id", &request.id)
        .mention("beneficiary", &request.beneficiary)
        .mention("requester", &request.requester)
        .text("entitlement", &names.entitlement)
        .text("resource", &names.resource)
        .mrkdwn(
            "duration",
            crate::app::shared::schedule_shown::duration_shown(request),
        )
        .text("stage", stage(request))
        .text("reason", reason)
        .date("requested_at", request.created_at.timestamp());
    let mut card = match templates.render("activity_line", &vars) {
        Ok(card) => card,
        Err(error) => {
            tracing::error!(%error, request_id = %request.id, "cannot render the activity line");
            return None;
        }
    };
    Some(if first {
        card["channel"] = json!(channel);
        OutboxMessage {
            method: "chat.postMessage".into(),
            args: card,
            record_ref: Some(key(&request.id)),
            update_ref: None,
            if_refused: None,
        }
    } else {
        OutboxMessage {
            method: "chat.update".into(),
            args: card,
            record_ref: None,
            update_ref: Some(key(&request.id)),
            if_refused: None,
        }
    })
}

/// Where the request stands, in a few words.
fn stage(request: &AccessRequest) -> String {
    if let Some(grant) = &request.grant {
        return match &grant.state {
            GrantState::Provisioning => "approved, being granted".into(),
            GrantState::Active => "active".into(),
            GrantState::Deprovisioning => "being revoked".into(),
            GrantState::Revoked => "revoked".into(),
            GrantState::Failed => "could not be granted".into(),
            GrantState::Superseded { by } => format!("extended by {by}"),
        };
    }
    match &request.state {
        State::Pending { step } => match request.steps.get(*step) {
            Some(s) => format!("waiting for {}", s.name),
            None => "pending".into(),
        },
        State::Approved { .. } if crate::workflow::schedule::waiting(request) => {
            "approved, waiting for its start".into()
        }
        State::Approved { .. } if request.emergency.is_some() => {
            "taken as emergency access (break-glass)".into()
        }
        State::Approved { auto: true } => "approved by policy".into(),
        State::Approved { auto: false } => "approved".into(),
        State::Denied { .. } => "denied".into(),
        State::Cancelled { .. } => "cancelled".into(),
        State::Expired => "expired without a decision".into(),
    }
}
