//! From a request and the workflow's effects to the Slack messages they cause, as
//! outbox entries. Pure: rendering only; the caller commits them with the state.
//!
//! Every card about a request is recorded under a stable key (`REQ-1042/card/<who>`),
//! so a later change edits each copy in place: approvers' DMs, the step's channel
//! post, and the requester's own copy.

use serde_json::{json, Value};

use crate::store::OutboxMessage;
use crate::templates::{Mrkdwn, RenderError, Templates, Vars};
use crate::workflow::approval::{Effect, Outcome};
use crate::workflow::grant::Via;
use crate::workflow::request::{AccessDuration, AccessRequest, Decision, Quorum, State, Step};
use crate::workflow::submit::human;

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

/// The key a card for `who` (a user or channel id) is recorded under.
pub fn card_key(request_id: &str, who: &str) -> String {
    format!("{request_id}/card/{who}")
}

/// The key of the requester's own copy.
pub fn requester_key(request_id: &str) -> String {
    format!("{request_id}/card/requester")
}

/// The key of the copy sent to the person a request is for, when someone else asked.
pub fn beneficiary_key(request_id: &str) -> String {
    format!("{request_id}/card/beneficiary")
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

    fn step_vars(&self, vars: Vars, step: &Step) -> Vars {
        let approvers: Vec<&String> = step.approvers.iter().collect();
        vars.text("step", &step.name)
            .text("rule", rule_text(step))
            .mentions("approvers", &approvers)
    }

    /// The card with Approve / Deny for the step's approvers (or its channel).
    fn ask(
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
    fn ask_added(
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
    fn refresh(&self, request: &AccessRequest) -> Result<Vec<OutboxMessage>, RenderError> {
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

    /// The requester's copy: what they asked and where it stands (never any buttons).
    fn requester_copy(&self, request: &AccessRequest) -> Result<OutboxMessage, RenderError> {
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
    fn beneficiary_copy(
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

    /// A card with no buttons saying how the request (or this step of it) stands:
    /// everyone whose approval counted, or who denied, cancelled, and when.
    fn closed_card(
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

    fn tell(
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

    fn remind(&self, request: &AccessRequest, step_index: usize) -> Vec<OutboxMessage> {
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
fn approvals(request: &AccessRequest, step: Option<usize>) -> Vec<&Decision> {
    request
        .decisions
        .iter()
        .filter(|d| d.approved && step.is_none_or(|s| d.step == s))
        .collect()
}

/// Who gave `approvals`, each named once, first approval first.
fn approvers_of(approvals: &[&Decision]) -> Vec<String> {
    let mut people: Vec<String> = Vec::new();
    for decision in approvals {
        if !people.contains(&decision.by) {
            people.push(decision.by.clone());
        }
    }
    people
}

fn is_new(request: &AccessRequest) -> bool {
    request.state == State::Pending { step: 0 } && request.decisions.is_empty()
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

pub fn duration_text(duration: AccessDuration) -> String {
    match duration {
        AccessDuration::For(d) => human(d),
        AccessDuration::Permanent => "permanently".to_owned(),
    }
}
