//! The approvers' side of a request: the Approve / Deny card each approver (or the
//! step's channel) is sent under `card_key`, every copy redrawn as the request moves
//! and closed once decided, and the reminders for those who have not acted.

use serde_json::{json, Value};

use super::{is_new, Notifier};
use crate::store::OutboxMessage;
use crate::templates::{RenderError, Vars};
use crate::workflow::request::{AccessRequest, Decision, Quorum, State, Step};

/// The key a card for `who` (a user or channel id) is recorded under.
pub fn card_key(request_id: &str, who: &str) -> String {
    format!("{request_id}/card/{who}")
}

impl Notifier<'_> {
    pub(super) fn step_vars(&self, vars: Vars, step: &Step) -> Vars {
        let approvers: Vec<&String> = step.approvers.iter().collect();
        vars.text("step", &step.name)
            .text("rule", rule_text(step))
            .mentions("approvers", &approvers)
    }

    /// The card with Approve / Deny for the step's approvers (or its channel).
    pub(super) fn ask(
        &self,
        request: &AccessRequest,
        step_index: usize,
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let Some(step) = request.steps.get(step_index) else {
            return Ok(Vec::new());
        };
        let card = self.templates.render(
            "approval_request",
            &self.step_vars(self.base(request), step),
        )?;
        let targets: Vec<String> = match &step.notify_channel {
            Some(channel) => vec![channel.clone()],
            None => step.approvers.iter().cloned().collect(),
        };
        Ok(targets
            .into_iter()
            .map(|to| OutboxMessage::post(&to, &card, card_key(&request.id, &to)))
            .collect())
    }

    /// An escalated step's new approvers get their own card; a channel step's post
    /// is redrawn by the refresh that follows, with the new approvers named.
    pub(super) fn ask_added(
        &self,
        request: &AccessRequest,
        step_index: usize,
        added: &[String],
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let Some(step) = request.steps.get(step_index) else {
            return Ok(Vec::new());
        };
        if step.notify_channel.is_some() {
            return Ok(Vec::new());
        }
        let card = self.templates.render(
            "approval_request",
            &self.step_vars(self.base(request), step),
        )?;
        Ok(added
            .iter()
            .map(|to| OutboxMessage::post(to, &card, card_key(&request.id, to)))
            .collect())
    }

    /// Redraws every copy already sent: the requester's (and the beneficiary's, when
    /// someone asked for them) and each asked step's cards.
    pub(super) fn refresh(
        &self,
        request: &AccessRequest,
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let mut out = vec![self.requester_copy(request)?];
        out.extend(self.beneficiary_copy(request)?);
        if is_new(request) {
            // Nothing else has been sent yet; the approvers' cards are being posted.
            return Ok(out);
        }
        for (index, step) in request.steps.iter().enumerate().take(asked_steps(request)) {
            let current = matches!(request.state, State::Pending { step } if step == index);
            match &step.notify_channel {
                Some(channel) => {
                    let card = if current {
                        self.templates.render(
                            "approval_request",
                            &self.step_vars(self.base(request), step),
                        )?
                    } else {
                        self.closed_card(request, index)?
                    };
                    out.push(OutboxMessage::update(&card, card_key(&request.id, channel)));
                }
                None => {
                    for approver in &step.approvers {
                        let card = if current && !step.approvals.contains(approver) {
                            self.templates.render(
                                "approval_request",
                                &self.step_vars(self.base(request), step),
                            )?
                        } else {
                            self.closed_card(request, index)?
                        };
                        out.push(OutboxMessage::update(
                            &card,
                            card_key(&request.id, approver),
                        ));
                    }
                }
            }
        }
        Ok(out)
    }

    /// A card with no buttons saying how the request (or this step of it) stands:
    /// everyone whose approval counted, or who denied, cancelled, and when.
    pub(super) fn closed_card(
        &self,
        request: &AccessRequest,
        step_index: usize,
    ) -> Result<Value, RenderError> {
        let (outcome, deciders, at, reason) = match &request.state {
            State::Approved { .. } if request.emergency.is_some() => (
                "Taken as emergency access (break-glass), without approval; the approvers review it afterwards".to_owned(),
                vec![request.beneficiary.clone()],
                request.emergency.as_ref().map(|e| e.at),
                request.emergency.as_ref().map(|e| e.reason.clone()),
            ),
            State::Approved { auto: true } => (
                "Approved automatically by policy".to_owned(),
                Vec::new(),
                None,
                None,
            ),
            State::Approved { auto: false } => {
                let approvals = approvals(request, None);
                let at = approvals.last().map(|d| d.at);
                ("Approved".to_owned(), approvers_of(&approvals), at, None)
            }
            State::Denied { .. } => {
                let decision = request.decisions.last();
                (
                    "Denied".to_owned(),
                    decision.map(|d| vec![d.by.clone()]).unwrap_or_default(),
                    decision.map(|d| d.at),
                    decision.and_then(|d| d.reason.clone()),
                )
            }
            State::Cancelled { by, at } => ("Cancelled".to_owned(), vec![by.clone()], *at, None),
            State::Expired => (
                "Expired without a decision".to_owned(),
                Vec::new(),
                Some(request.decide_by),
                None,
            ),
            State::Pending { step } => {
                // This step is done (or this approver acted); the request moves on.
                let approvals = approvals(request, Some(step_index));
                let waiting = request
                    .steps
                    .get(*step)
                    .map(|s| s.name.as_str())
                    .unwrap_or("the next step");
                let at = approvals.last().map(|d| d.at);
                (
                    format!("Approved · now waiting for {waiting}"),
                    approvers_of(&approvals),
                    at,
                    None,
                )
            }
        };
        let vars = self.base(request).text("outcome", outcome).text(
            "reason",
            reason.map(|r| format!("Reason: {r}")).unwrap_or_default(),
        );
        let vars = if deciders.is_empty() {
            vars.text("decided_by", "c1bot")
        } else {
            vars.mentions("decided_by", &deciders)
        };
        let vars = vars.date("decided_at", at.unwrap_or(request.created_at).timestamp());
        self.templates.render("request_decided", &vars)
    }

    pub(super) fn remind(&self, request: &AccessRequest, step_index: usize) -> Vec<OutboxMessage> {
        let Some(step) = request.steps.get(step_index) else {
            return Vec::new();
        };
        let text = format!(
            "Reminder: {} is still waiting for a decision ({} on {} for <@{}>). The request with its buttons is above.",
            request.id,
            crate::app::shared::mrkdwn::escape(&self.names.entitlement),
            crate::app::shared::mrkdwn::escape(&self.names.resource),
            request.requester
        );
        let targets: Vec<String> = match &step.notify_channel {
            Some(channel) => vec![channel.clone()],
            None => step
                .approvers
                .iter()
                .filter(|a| !step.approvals.contains(*a))
                .cloned()
                .collect(),
        };
        targets
            .into_iter()
            .map(|to| OutboxMessage {
                method: "chat.postMessage".into(),
                args: json!({ "channel": to, "text": text }),
                record_ref: None,
                update_ref: None,
                if_refused: None,
            })
            .collect()
    }
}
/// The approvals that counted, in the order given: of step `step`, or of every step.
pub(super) fn approvals(request: &AccessRequest, step: Option<usize>) -> Vec<&Decision> {
    request
        .decisions
        .iter()
        .filter(|d| d.approved && step.is_none_or(|s| d.step == s))
        .collect()
}

/// Who gave `approvals`, each named once, first approval first.
pub(super) fn approvers_of(approvals: &[&Decision]) -> Vec<String> {
    let mut people: Vec<String> = Vec::new();
    for decision in approvals {
        if !people.contains(&decision.by) {
            people.push(decision.by.clone());
        }
    }
    people
}

/// How many steps have had their approvers asked.
fn asked_steps(request: &AccessRequest) -> usize {
    match &request.state {
        State::Pending { step } => step + 1,
        State::Approved { auto: true } => 0,
        State::Approved { auto: false } => request.steps.len(),
        _ => request
            .decisions
            .iter()
            .map(|d| d.step + 1)
            .max()
            .unwrap_or(1),
    }
}

fn rule_text(step: &Step) -> String {
    match step.quorum {
        Quorum::Any => "any one of".to_owned(),
        Quorum::All => "all of".to_owned(),
        Quorum::AtLeast(n) => format!("{n} of"),
    }
}
