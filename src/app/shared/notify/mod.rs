//! From a request and the workflow's effects to the Slack messages they cause, as
//! outbox entries. Pure: rendering only; the caller commits them with the state.
//!
//! Every card about a request is recorded under a stable key (`REQ-1042/card/<who>`),
//! so a later change edits each copy in place: approvers' DMs, the step's channel
//! post, and the requester's own copy.
//!
//! The approvers' cards, redrawn and closed, are in `approvers`; the requester's
//! (and the beneficiary's) own copy and the outcome they are told are in `requester`.

mod approvers;
mod requester;

pub use approvers::card_key;
pub use requester::{beneficiary_key, duration_text, requester_key};

use crate::store::OutboxMessage;
use crate::templates::{Mrkdwn, RenderError, Templates, Vars};
use crate::workflow::approval::Effect;
use crate::workflow::grant::Via;
use crate::workflow::request::{AccessRequest, State};

/// Catalog names for the request's ids, looked up by the caller.
#[derive(Debug, Clone)]
pub struct Names {
    pub resource: String,
    pub entitlement: String,
    pub space: String,
    /// The request form's filled fields as card lines (empty when none).
    pub form_fields: Mrkdwn,
}

pub struct Notifier<'a> {
    pub templates: Templates,
    pub names: &'a Names,
    /// Who sets the access up, when it starts with these messages (auto-approval).
    pub provisioning: Option<&'a Via>,
}

impl Notifier<'_> {
    /// Messages for `effects` on `request` (already in its new state).
    pub fn messages(
        &self,
        request: &AccessRequest,
        effects: &[Effect],
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let mut out = Vec::new();
        for effect in effects {
            match effect {
                Effect::AskApprovers { step } => out.extend(self.ask(request, *step)?),
                Effect::RefreshCopies => out.extend(self.refresh(request)?),
                Effect::TellRequester(outcome) => out.extend(self.tell(request, *outcome)?),
                // The grant workflow posts the task (`app::grants::start`).
                Effect::Provision => {}
                Effect::RemindApprovers { step } => out.extend(self.remind(request, *step)),
                Effect::AskAdded { step, added } => {
                    out.extend(self.ask_added(request, *step, added)?)
                }
            }
        }
        Ok(out)
    }

    fn base(&self, request: &AccessRequest) -> Vars {
        Vars::new()
            .text("request_id", &request.id)
            .person_asked_by("requester", &request.beneficiary, &request.requester)
            .text("resource", &self.names.resource)
            .text("entitlement", &self.names.entitlement)
            .text("space", &self.names.space)
            .mrkdwn(
                "duration",
                crate::app::shared::schedule_shown::duration_shown(request),
            )
            .text("justification", &request.justification)
            .mrkdwn("form_fields", self.names.form_fields.clone())
            .date("requested_at", request.created_at.timestamp())
    }
}

fn is_new(request: &AccessRequest) -> bool {
    request.state == State::Pending { step: 0 } && request.decisions.is_empty()
}
