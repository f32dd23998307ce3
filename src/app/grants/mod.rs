//! Access after approval, driven by people: starting provisioning when a request is
//! approved, *Mark complete* / *Can't complete* on tasks, early revoke (`/c1 revoke`,
//! App Home, *I'm done*) and *Extend*.
//!
//! Like decisions, a button's value only names the request: who may act is checked
//! against the stored grant (its task's assignees) and, for revoke, policy. Each
//! change commits with its messages, timers and audit entry, expecting the revision
//! it was decided on; of two clicks on *Mark complete* exactly one counts.
//!
//! Here each change is decided and committed (`act`); starting provisioning, and
//! who provisions or removes access, is `start`'s; revoking by command or the reason
//! modal is `revoke`'s; grant timers are [`timers`], automatic runs [`provisioning`].

pub mod provisioning;
mod revoke;
mod start;
pub mod timers;

use serde_json::{json, Value};
use tracing::Instrument;

use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::consequences::Committed;
use crate::app::shared::services::Services;
use crate::policy::Action as PolicyAction;
use crate::store::{AuditEvent, Change, Table, Versioned};
use crate::workflow::grant::{self, GrantAction, TaskKind};
use crate::workflow::request::AccessRequest;
pub use revoke::{
    open_reason_modal, reason_submitted, revoke_command, revoke_now, Purpose, DONE_REASON,
};
pub use start::{
    fallback_for, owners_of, plan_start, removal_via, render, start, timer_entry, via_for,
    Rendered, StartPlan,
};

/// Timer kinds for grants, in the store's timer index.
pub const TIMER_GRANT_EXPIRE: &str = "grant-expire";
pub const TIMER_GRANT_REMIND: &str = "grant-remind";
pub const TIMER_REVOKE_OVERDUE: &str = "revoke-overdue";
pub const TIMER_PROVISIONER: &str = "provisioner-run";

/// What became of an action, for the person who took it.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Nothing changed, and trying again won't help.
    Refused(String),
    /// Slack or the store failed; nothing changed, and trying again may work.
    Unavailable(String),
}

impl From<Outcome> for crate::app::shared::journaled::Outcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Done => Self::Committed,
            Outcome::Refused(message) => Self::Refused(message),
            Outcome::Unavailable(message) => Self::Retry(message),
        }
    }
}

/// What a person's click or command asks for; resolved into a [`GrantAction`] on
/// the fresh state each attempt.
#[derive(Debug, Clone)]
pub enum Ask {
    Complete(TaskKind),
    CannotComplete(TaskKind, String),
    Revoke(String),
}

/// Applies `ask` by `user` to the stored request, retrying on a concurrent change.
/// `also` commits with the change (a journal row's completion, words owed).
pub async fn act(
    services: &Services,
    user: &str,
    request_id: &str,
    ask: Ask,
    also: &Change,
) -> Outcome {
    // Every line logged while deciding carries the request id.
    let span = tracing::info_span!("request", request_id = %request_id, user = %user);
    act_once(services, user, request_id, ask, also)
        .instrument(span)
        .await
}

async fn act_once(
    services: &Services,
    user: &str,
    request_id: &str,
    ask: Ask,
    also: &Change,
) -> Outcome {
    let ask = &ask;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        also,
        move || async move {
            match decide(services, user, request_id, ask).await {
                Ok((change, next)) => {
                    let state = next
                        .grant
                        .as_ref()
                        .map(|g| g.state.label())
                        .unwrap_or_default();
                    Decided::commit_of(change, Committed::Request(Box::new(next)), state)
                }
                Err(outcome) => Decided::Stop(outcome),
            }
        },
    )
    .await;
    if let Ended::Committed(state) = &ended {
        tracing::info!(
            request_id,
            user,
            action = audit_action(ask),
            state,
            "grant change recorded"
        );
    }
    outcome_of(ended, request_id)
}

/// One attempt: `ask` on the stored request, as the change to commit (expecting the
/// revision read) and the request it leaves; or what to tell the person.
async fn decide(
    services: &Services,
    user: &str,
    request_id: &str,
    ask: &Ask,
) -> Result<(Change, AccessRequest), Outcome> {
    let stored = load_to_act(services, request_id).await?;
    let request = stored.data;
    let action = resolve(services, user, &request, ask)
        .await
        .map_err(Outcome::Unavailable)?;
    let now = services.now();
    let transition = match grant::apply(&request, action, now, services.timing()) {
        Ok(transition) => transition,
        Err(refusal) => {
            services
                .audit_refusal(
                    user,
                    request_id,
                    audit_action(ask),
                    refusal.message(request_id),
                )
                .await;
            return Err(Outcome::Refused(refusal.message(request_id)));
        }
    };
    let state = transition
        .request
        .grant
        .as_ref()
        .map(|g| g.state.label())
        .unwrap_or_default();
    let rendered = render(services, transition.request, &transition.effects).map_err(|error| {
        tracing::error!(%error, request_id, "cannot render a grant change");
        Outcome::Unavailable("c1bot could not record that; nothing changed. Try again.".into())
    })?;
    let next = rendered.request.clone();
    let change = rendered.into_change(
        Change::new()
            .at(now)
            .expect(Table::Requests, request_id, Some(stored.rev))
            .audit(AuditEvent {
                actor: user.to_owned(),
                action: audit_action(ask).into(),
                subject: request_id.to_owned(),
                detail: audit_detail(ask, state),
            }),
    );
    Ok((change, next))
}

/// What the person who acted on `request_id` is told of how the commit path ended.
pub fn outcome_of<T>(ended: Ended<T, Outcome>, request_id: &str) -> Outcome {
    match ended {
        Ended::Committed(_) | Ended::AlreadyDone(_) => Outcome::Done,
        Ended::Stopped(outcome) => outcome,
        Ended::Failed(error) => {
            tracing::error!(%error, request_id, "cannot store a change");
            Outcome::Unavailable("c1bot could not record that; nothing changed. Try again.".into())
        }
        Ended::KeptChanging => Outcome::Refused(format!(
            "{request_id} is changing quickly right now; try again."
        )),
    }
}

/// The request an attempt decides on, or what to tell the person when there is none
/// (or it cannot be read now).
pub async fn load_to_act(
    services: &Services,
    request_id: &str,
) -> Result<Versioned<AccessRequest>, Outcome> {
    match services.load_request(request_id).await {
        Ok(Some(stored)) => Ok(stored),
        Ok(None) => Err(Outcome::Refused(format!(
            "There is no request {request_id}."
        ))),
        Err(error) => {
            tracing::error!(%error, request_id, "cannot read a request");
            Err(Outcome::Unavailable(
                "c1bot could not read that request just now; try again in a moment.".into(),
            ))
        }
    }
}

/// The workflow action for `ask` on the current state, with what it needs resolved:
/// the deprovisioning route, the owners, and policy's `space_write` verdict.
async fn resolve(
    services: &Services,
    user: &str,
    request: &AccessRequest,
    ask: &Ask,
) -> Result<GrantAction, String> {
    Ok(match ask {
        Ask::Complete(kind) => GrantAction::Complete {
            kind: *kind,
            by: user.to_owned(),
        },
        Ask::CannotComplete(kind, reason) => GrantAction::CannotComplete {
            kind: *kind,
            by: user.to_owned(),
            reason: reason.clone(),
            owners: owners_of(services, request),
        },
        Ask::Revoke(reason) => {
            let policy_allows = if request.involves(user)
                || request.decisions.iter().any(|d| d.approved && d.by == user)
            {
                false
            } else {
                let person = services.directory.person(user).await.map_err(|error| {
                    tracing::warn!(%error, "cannot read the revoker's profile");
                    "c1bot could not check your Slack account just now; nothing changed. Try again in a moment.".to_owned()
                })?;
                let decision = services.decide(
                    PolicyAction::Revoke,
                    &person,
                    "",
                    services.target(request),
                    Some(request),
                );
                decision.allowed
            };
            let via = removal_via(services, request);
            GrantAction::Revoke {
                by: user.to_owned(),
                reason: reason.clone(),
                via,
                policy_allows,
            }
        }
    })
}

fn audit_action(ask: &Ask) -> &'static str {
    match ask {
        Ask::Complete(TaskKind::Grant) => "task.grant.complete",
        Ask::Complete(TaskKind::Revoke) => "task.revoke.complete",
        Ask::CannotComplete(TaskKind::Grant, _) => "task.grant.cannot_complete",
        Ask::CannotComplete(TaskKind::Revoke, _) => "task.revoke.cannot_complete",
        Ask::Revoke(_) => "grant.revoke",
    }
}

fn audit_detail(ask: &Ask, state: &str) -> Value {
    match ask {
        Ask::CannotComplete(_, reason) | Ask::Revoke(reason) => {
            json!({ "reason": reason, "state": state })
        }
        Ask::Complete(_) => json!({ "state": state }),
    }
}
