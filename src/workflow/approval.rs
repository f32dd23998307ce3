//! Approval transitions: approve, deny, cancel, expire, remind.
//!
//! Pure: `(request, action, who, now) -> (next request, effects) | refusal`. The caller
//! loads the request, asks policy whether the actor may approve, and commits the next
//! state together with the effects' messages; a concurrent change makes that commit
//! fail and the action is re-run on the fresh state, so exactly one decision counts.

use chrono::{DateTime, Utc};

use super::request::{AccessRequest, Decision, State, UserId};

/// What someone did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Approve,
    Deny {
        reason: Option<String>,
    },
    Cancel,
    /// The pending deadline's timer fired.
    Expire,
    /// The reminder timer fired.
    Remind,
    /// Step `step` is still undecided after its `escalate_after`: ask its next tier.
    Escalate {
        step: usize,
    },
}

/// Who acts, and what policy said about them approving this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: UserId,
    /// Policy's verdict for `action == "approve"` on this request.
    pub policy_allows: bool,
    pub policy_reasons: Vec<String>,
    /// Policy explicitly allows the requester to approve their own request.
    pub self_approval_allowed: bool,
}

impl Actor {
    /// The system itself (timers): no approval rights needed.
    pub fn system() -> Self {
        Self {
            user: "c1bot".into(),
            policy_allows: false,
            policy_reasons: Vec::new(),
            self_approval_allowed: false,
        }
    }
}

/// How a request ended, for the people told about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Approved,
    AutoApproved,
    /// Taken in an emergency (break-glass): granted at once, reviewed afterwards.
    Emergency,
    Denied,
    Cancelled,
    Expired,
}

/// What must happen because of a transition. The caller turns these into messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// DM each eligible approver of the step (or post once in its channel).
    AskApprovers { step: usize },
    /// Redraw every copy of the request: approvers' DMs, the channel post, the requester's DM.
    RefreshCopies,
    /// Tell the requester (and the beneficiary, if another person) how it ended.
    TellRequester(Outcome),
    /// Approved: hand over to provisioning.
    Provision,
    /// Nudge the step's approvers who have not acted.
    RemindApprovers { step: usize },
    /// The step escalated: ask these newly added approvers.
    AskAdded { step: usize, added: Vec<UserId> },
}

/// Why an action changes nothing. Each has a sentence for the person who tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    AlreadyClosed {
        state: State,
        decision: Option<Decision>,
    },
    NotAnApprover,
    SelfApproval,
    PolicyDenied(Vec<String>),
    AlreadyApprovedByYou,
    NotYourRequest,
    NotDue,
    /// An escalation for a step that is no longer current, or already escalated.
    NothingToEscalate,
}

impl Refusal {
    pub fn message(&self, request_id: &str) -> String {
        match self {
            Refusal::AlreadyClosed { state, decision } => match (state, decision) {
                (State::Approved { .. }, Some(d)) => {
                    format!("{request_id} was already approved by <@{}>.", d.by)
                }
                (State::Denied { by, .. }, _) => {
                    format!("{request_id} was already denied by <@{by}>.")
                }
                (State::Cancelled { by, .. }, _) => {
                    format!("{request_id} was cancelled by <@{by}>.")
                }
                (State::Approved { auto: true }, _) => {
                    format!("{request_id} was approved automatically by policy.")
                }
                (state, _) => format!("{request_id} is already {}.", state.label()),
            },
            Refusal::NotAnApprover => {
                format!("You are not an approver of {request_id} at its current step.")
            }
            Refusal::SelfApproval => {
                format!("You cannot approve or deny {request_id}: it is your own request.")
            }
            Refusal::PolicyDenied(reasons) if reasons.is_empty() => {
                format!("Policy does not allow you to decide {request_id}.")
            }
            Refusal::PolicyDenied(reasons) => format!(
                "Policy does not allow you to decide {request_id}: {}",
                reasons.join("; ")
            ),
            Refusal::AlreadyApprovedByYou => {
                format!("You already approved {request_id}; it is waiting for other approvers.")
            }
            Refusal::NotYourRequest => format!("Only the requester can cancel {request_id}."),
            Refusal::NotDue => format!("{request_id} is not due yet."),
            Refusal::NothingToEscalate => format!("{request_id} needs no escalation."),
        }
    }
}

pub struct Transition {
    pub request: AccessRequest,
    pub effects: Vec<Effect>,
}

/// Applies `action` by `actor` at `now`.
pub fn apply(
    request: &AccessRequest,
    action: Action,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Transition, Refusal> {
    if action == Action::Cancel && super::schedule::waiting(request) {
        return super::schedule::withdraw(request, actor, now);
    }
    let Some((step_index, step)) = request.current_step() else {
        return Err(Refusal::AlreadyClosed {
            state: request.state.clone(),
            decision: request.closing_decision().cloned(),
        });
    };
    let mut next = request.clone();
    let effects = match action {
        Action::Approve | Action::Deny { .. } => {
            if request.involves(&actor.user) && !actor.self_approval_allowed {
                return Err(Refusal::SelfApproval);
            }
            if !step.approvers.contains(&actor.user) {
                return Err(Refusal::NotAnApprover);
            }
            if !actor.policy_allows {
                return Err(Refusal::PolicyDenied(actor.policy_reasons.clone()));
            }
            if step.approvals.contains(&actor.user) {
                return Err(Refusal::AlreadyApprovedByYou);
            }
            let approved = action == Action::Approve;
            let reason = match action {
                Action::Deny { reason } => reason,
                _ => None,
            };
            next.decisions.push(Decision {
                step: step_index,
                by: actor.user.clone(),
                approved,
                reason: reason.clone(),
                at: now,
            });
            if approved {
                next.steps[step_index].approvals.insert(actor.user.clone());
                approve_progress(&mut next, step_index)
            } else {
                next.state = State::Denied {
                    by: actor.user.clone(),
                    reason,
                };
                vec![
                    Effect::RefreshCopies,
                    Effect::TellRequester(Outcome::Denied),
                ]
            }
        }
        Action::Cancel => {
            if !request.involves(&actor.user) {
                return Err(Refusal::NotYourRequest);
            }
            next.state = State::Cancelled {
                by: actor.user.clone(),
                at: Some(now),
            };
            vec![
                Effect::RefreshCopies,
                Effect::TellRequester(Outcome::Cancelled),
            ]
        }
        Action::Expire => {
            if now < request.decide_by {
                return Err(Refusal::NotDue);
            }
            next.state = State::Expired;
            vec![
                Effect::RefreshCopies,
                Effect::TellRequester(Outcome::Expired),
            ]
        }
        Action::Remind => vec![Effect::RemindApprovers { step: step_index }],
        Action::Escalate { step: due } => {
            if due != step_index || step.escalated || step.escalate_to.is_empty() {
                return Err(Refusal::NothingToEscalate);
            }
            let added: Vec<UserId> = step
                .escalate_to
                .iter()
                .filter(|a| {
                    !step.approvers.contains(*a)
                        && (!request.involves(a) || actor.self_approval_allowed)
                })
                .cloned()
                .collect();
            let current = &mut next.steps[step_index];
            current.escalated = true;
            current.approvers.extend(added.iter().cloned());
            vec![
                Effect::AskAdded {
                    step: step_index,
                    added,
                },
                Effect::RefreshCopies,
            ]
        }
    };
    Ok(Transition {
        request: next,
        effects,
    })
}

/// After an approval: complete the step, move to the next, or approve the request.
fn approve_progress(next: &mut AccessRequest, step_index: usize) -> Vec<Effect> {
    if !next.steps[step_index].is_complete() {
        return vec![Effect::RefreshCopies];
    }
    if step_index + 1 < next.steps.len() {
        next.state = State::Pending {
            step: step_index + 1,
        };
        vec![
            Effect::RefreshCopies,
            Effect::AskApprovers {
                step: step_index + 1,
            },
        ]
    } else {
        next.state = State::Approved { auto: false };
        vec![
            Effect::RefreshCopies,
            Effect::TellRequester(Outcome::Approved),
            Effect::Provision,
        ]
    }
}

#[cfg(test)]
#[path = "approval_tests.rs"]
mod tests;
