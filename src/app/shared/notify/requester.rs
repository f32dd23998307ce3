//! The requester's side of a request: their own copy (and the copy for the person
//! it is for, when someone else asked), edited in place, and the outcome they are told.

use super::approvers::{approvals, approvers_of};
use super::{is_new, Notifier};
use crate::store::OutboxMessage;
use crate::templates::{Mrkdwn, RenderError};
use crate::workflow::approval::Outcome;
use crate::workflow::grant::Via;
use crate::workflow::request::{AccessDuration, AccessRequest, State};
use crate::workflow::submit::human;

/// The key of the requester's own copy.
pub fn requester_key(request_id: &str) -> String {
    format!("{request_id}/card/requester")
}

/// The key of the copy sent to the person a request is for, when someone else asked.
pub fn beneficiary_key(request_id: &str) -> String {
    format!("{request_id}/card/beneficiary")
}

impl Notifier<'_> {
    /// The requester's copy: what they asked and where it stands (never any buttons).
    pub(super) fn requester_copy(
        &self,
        request: &AccessRequest,
    ) -> Result<OutboxMessage, RenderError> {
        let card = match request.current_step() {
            Some((_, step)) => {
                let vars = self.step_vars(self.base(request), step);
                let vars = if request.beneficiary == request.requester {
                    vars.text("for_whom", "You")
                } else {
                    vars.mention("for_whom", &request.beneficiary)
                };
                self.templates.render("request_submitted", &vars)?
            }
            None => self.closed_card(request, usize::MAX)?,
        };
        Ok(match request.state {
            // A brand-new request: its copy is posted, not updated.
            _ if is_new(request) => {
                OutboxMessage::post(&request.requester, &card, requester_key(&request.id))
            }
            _ => OutboxMessage::update(&card, requester_key(&request.id)),
        })
    }

    /// The copy for the person a request is for, when someone else asked: who asked,
    /// and a Cancel button while it is open (the workflow lets either person cancel).
    pub(super) fn beneficiary_copy(
        &self,
        request: &AccessRequest,
    ) -> Result<Option<OutboxMessage>, RenderError> {
        if request.beneficiary == request.requester {
            return Ok(None);
        }
        let card = match request.current_step() {
            Some((_, step)) => {
                let vars = self
                    .step_vars(self.base(request), step)
                    .mention("requester", &request.requester);
                self.templates.render("request_for_you", &vars)?
            }
            None => self.closed_card(request, usize::MAX)?,
        };
        let key = beneficiary_key(&request.id);
        Ok(Some(if is_new(request) {
            OutboxMessage::post(&request.beneficiary, &card, key)
        } else {
            OutboxMessage::update(&card, key)
        }))
    }

    pub(super) fn tell(
        &self,
        request: &AccessRequest,
        outcome: Outcome,
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let decision = request.decisions.last();
        let (title, detail) = match outcome {
            Outcome::Approved => ("Approved", "Your access is being set up; you will be told when it is active. The clock starts then.".to_owned()),
            Outcome::AutoApproved => ("Approved automatically", self.auto_detail()),
            Outcome::Emergency => ("Emergency access granted", format!(
                "Granted without approval, for {}: it is being set up now. The approvers and the resource's owners were told, and the approvers review it afterwards.",
                duration_text(request.duration)
            )),
            Outcome::Denied => ("Denied", match &request.state {
                State::Denied { reason: Some(reason), .. } => format!("Reason: {}", crate::app::shared::mrkdwn::escape(reason)),
                _ => "No reason was given.".to_owned(),
            }),
            Outcome::Cancelled => ("Cancelled", "The request was withdrawn; nobody needs to act on it.".to_owned()),
            Outcome::Expired => ("Expired", "Nobody decided in time. Ask again if you still need this access.".to_owned()),
        };
        // Approved ahead of its window: when it starts instead of "being set up".
        let detail = match outcome {
            Outcome::Approved | Outcome::AutoApproved => {
                crate::app::shared::schedule_shown::waiting_detail(request).unwrap_or(detail)
            }
            _ => detail,
        };
        // The detail is c1bot's own sentence: mentions from stored ids, the deny
        // reason escaped.
        let mut vars = self
            .base(request)
            .text("outcome", title)
            .mrkdwn("detail", Mrkdwn::built(detail));
        vars = match (outcome, decision, &request.state) {
            (Outcome::Approved, Some(d), _) => vars
                .mentions("decided_by", &approvers_of(&approvals(request, None)))
                .date("decided_at", d.at.timestamp()),
            (Outcome::Denied, Some(d), _) => vars
                .mention("decided_by", &d.by)
                .date("decided_at", d.at.timestamp()),
            (Outcome::Cancelled, _, State::Cancelled { by, at }) => vars
                .mention("decided_by", by)
                .date("decided_at", at.unwrap_or(request.created_at).timestamp()),
            (Outcome::Emergency, _, _) => vars.mention("decided_by", &request.requester).date(
                "decided_at",
                request
                    .emergency
                    .as_ref()
                    .map_or(request.created_at, |e| e.at)
                    .timestamp(),
            ),
            (Outcome::Expired, _, _) => vars
                .text("decided_by", "c1bot")
                .date("decided_at", request.decide_by.timestamp()),
            _ => vars
                .text("decided_by", "c1bot")
                .date("decided_at", request.created_at.timestamp()),
        };
        let card = self.templates.render("requester_decision", &vars)?;
        let mut people = vec![request.requester.clone()];
        if request.beneficiary != request.requester {
            people.push(request.beneficiary.clone());
        }
        Ok(people
            .iter()
            .map(|to| OutboxMessage::post(to, &card, format!("{}/outcome/{to}", request.id)))
            .collect())
    }

    /// What an auto-approved requester is told: who sets the access up.
    fn auto_detail(&self) -> String {
        let who = match self.provisioning {
            Some(Via::Automatic { .. }) => "c1bot sets it up automatically".to_owned(),
            Some(Via::Manual { assignees, .. }) if assignees.len() == 1 => {
                let one: Vec<&String> = assignees.iter().collect();
                format!("<@{}> sets it up by hand", one[0])
            }
            Some(Via::Manual { assignees, .. }) if !assignees.is_empty() => {
                let names: Vec<String> = assignees.iter().map(|a| format!("<@{a}>")).collect();
                format!("One of {} sets it up by hand", names.join(", "))
            }
            _ => "It is being set up".to_owned(),
        };
        format!("Policy approves this access without a review. {who}; you will be told when it is active, and the clock starts then.")
    }
}

pub fn duration_text(duration: AccessDuration) -> String {
    match duration {
        AccessDuration::For(d) => human(d),
        AccessDuration::Permanent => "permanently".to_owned(),
    }
}
