//! The timer loop: reminders to approvers and the pending deadline.
//!
//! Timers live in the store (a time-ordered index), so they survive restarts; at
//! start-up everything overdue fires at once. Firing a timer and what it causes
//! commit together; a timer for a request that has since closed is simply dropped.

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::notify::Provisioners;
use super::requests::{TIMER_EXPIRE, TIMER_REMIND};
use super::services::Services;
use crate::store::{AuditEvent, Change, Table, TimerEntry};
use crate::workflow::approval::{self, Action, Actor, Effect, Refusal};
use crate::workflow::request::AccessRequest;

/// Timer kinds `escalate-<step>`: the step index is part of the kind so a timer for
/// an earlier step never escalates a later one.
const TIMER_ESCALATE_PREFIX: &str = "escalate-";

/// Escalation timers for the steps `effects` start asking.
pub fn escalation_timers(
    request: &AccessRequest,
    effects: &[Effect],
    now: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, TimerEntry)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::AskApprovers { step } => request.steps.get(*step).and_then(|s| {
                let after = chrono::Duration::from_std(s.escalate_after?).ok()?;
                (!s.escalate_to.is_empty()).then(|| {
                    (
                        now + after,
                        TimerEntry {
                            kind: format!("{TIMER_ESCALATE_PREFIX}{step}"),
                            subject: request.id.clone(),
                        },
                    )
                })
            }),
            _ => None,
        })
        .collect()
}

/// Sleeps at most this long between looks, so a clock jump forward is noticed.
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn run(services: Services, shutdown: CancellationToken) {
    loop {
        if let Err(error) = fire_due(&services).await {
            tracing::error!(%error, "timer pass failed");
        }
        let now = Utc::now();
        let wait = match services.store.next_timer_due() {
            Ok(Some(due)) => (due - now).to_std().unwrap_or_default().min(MAX_SLEEP),
            _ => MAX_SLEEP,
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = services.store.timers_changed() => {}
        }
    }
}

/// Fires every timer due now; returns how many fired.
pub async fn fire_due(services: &Services) -> anyhow::Result<usize> {
    let now = Utc::now();
    let due = services.store.due_timers(now)?;
    let count = due.len();
    for (at, entry) in due {
        fire(services, at, &entry, now).await?;
    }
    Ok(count)
}

async fn fire(
    services: &Services,
    at: DateTime<Utc>,
    entry: &TimerEntry,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let done = Change::new()
        .at(now)
        .cancel_timer(at, &entry.subject, &entry.kind);
    let escalation = entry
        .kind
        .strip_prefix(TIMER_ESCALATE_PREFIX)
        .and_then(|step| step.parse::<usize>().ok());
    let action = match (entry.kind.as_str(), escalation) {
        (_, Some(step)) => Action::Escalate { step },
        (TIMER_REMIND, _) => Action::Remind,
        (TIMER_EXPIRE, _) => Action::Expire,
        (other, None) => {
            tracing::warn!(kind = other, "unknown timer kind dropped");
            services.store.commit(done).await?;
            return Ok(());
        }
    };
    let Some(stored) = services.load_request(&entry.subject)? else {
        services.store.commit(done).await?;
        return Ok(());
    };
    let transition = match approval::apply(&stored.data, action.clone(), &Actor::system(), now) {
        Ok(transition) => transition,
        // Not yet due by the request's own clock: leave the timer for the next pass.
        Err(Refusal::NotDue) => return Ok(()),
        Err(_) => {
            services.store.commit(done).await?;
            return Ok(());
        }
    };
    let names = services.names(&transition.request);
    let messages = services.notifier(&names).messages(
        &transition.request,
        &transition.effects,
        &Provisioners { assignees: &[] },
    )?;
    let mut change = done
        .expect(Table::Requests, &entry.subject, Some(stored.rev))
        .put(Table::Requests, &entry.subject, &transition.request)
        .audit(AuditEvent {
            actor: "c1bot".into(),
            action: format!("request.{}", entry.kind),
            subject: entry.subject.clone(),
            detail: json!({ "due": at, "fired": now, "late_ms": (now - at).num_milliseconds() }),
        });
    if action == Action::Remind {
        let next = now
            + chrono::Duration::from_std(services.requests.remind_every)
                .unwrap_or(chrono::Duration::hours(4));
        if next < transition.request.decide_by {
            change = change.timer(
                next,
                TimerEntry {
                    kind: TIMER_REMIND.into(),
                    subject: entry.subject.clone(),
                },
            );
        }
    }
    for message in messages {
        change = change.outbox(message);
    }
    match services.store.commit(change).await {
        Ok(_) => {
            super::status::refresh_homes(services, &transition.request);
            Ok(())
        }
        // Someone decided meanwhile; the next pass sees the new state.
        Err(crate::store::CommitError::Conflict { .. }) => Ok(()),
        Err(error) => Err(error.into()),
    }
}
