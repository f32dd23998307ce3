//! The timer loop: reminders to approvers, the pending deadline, escalations, and
//! for grants the expiry, its reminder, overdue revokes and provisioner runs.
//!
//! Timers live in the store (a time-ordered index), so they survive restarts; at
//! start-up everything overdue fires at once. Firing a timer and what it causes
//! commit together; a timer for a request that has since moved on is dropped. Due
//! timers are taken in batches and committed with one flush per batch (group
//! commit), so a burst of 10,000 expiries in one second is not 10,000 fsyncs.

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::requests::{TIMER_EXPIRE, TIMER_REMIND};
use super::services::Services;
use crate::store::{AuditEvent, Change, CommitError, Table, TimerEntry};
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

/// Sleeps at most this long between looks, so a clock jump forward is noticed even
/// without [`crate::clock::Clock::advance`].
const MAX_SLEEP: std::time::Duration = std::time::Duration::from_secs(30);

/// Timers prepared and committed together.
const BATCH: usize = 512;

pub async fn run(services: Services, shutdown: CancellationToken) {
    super::provisioning::resume_leases(&services);
    loop {
        if let Err(error) = fire_due(&services).await {
            tracing::error!(%error, "timer pass failed");
        }
        let now = services.now();
        let wait = match services.store.next_timer_due() {
            Ok(Some(due)) => (due - now).to_std().unwrap_or_default().min(MAX_SLEEP),
            _ => MAX_SLEEP,
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = services.store.timers_changed() => {}
            _ = services.clock.jumped() => {}
        }
    }
}

/// What firing one timer comes to.
pub enum Fired {
    /// Commit this; then refresh the homes of the people on this request, and start
    /// the provisioner run whose lease the change holds.
    Commit(
        Change,
        Option<Box<AccessRequest>>,
        Option<super::provisioning::Job>,
    ),
    /// Handled another way (a provisioner run was started), or not due yet.
    Nothing,
}

/// Fires every timer due now, in batches; returns how many fired.
pub async fn fire_due(services: &Services) -> anyhow::Result<usize> {
    let mut fired = 0;
    loop {
        let now = services.now();
        let due = services.store.due_timers_limit(now, BATCH)?;
        if due.is_empty() {
            return Ok(fired);
        }
        let full = due.len() == BATCH;
        let mut changes = Vec::with_capacity(due.len());
        let mut concerned = Vec::with_capacity(due.len());
        for (at, entry) in &due {
            let span =
                tracing::info_span!("timer", request_id = %entry.subject, kind = %entry.kind);
            match prepare(services, *at, entry, now).instrument(span).await {
                Ok(Fired::Commit(change, request, job)) => {
                    changes.push(change);
                    concerned.push((request, job));
                }
                Ok(Fired::Nothing) => {}
                Err(error) => {
                    tracing::error!(%error, kind = %entry.kind, subject = %entry.subject, "a timer could not fire; dropped");
                    changes.push(Change::new().at(now).cancel_timer(
                        *at,
                        &entry.subject,
                        &entry.kind,
                    ));
                    concerned.push((None, None));
                }
            }
        }
        let mut committed = 0;
        for (result, (request, job)) in services
            .store
            .commit_all(changes)
            .await
            .into_iter()
            .zip(concerned)
        {
            match result {
                Ok(_) => {
                    committed += 1;
                    if let Some(request) = request {
                        super::status::refresh_homes(services, &request);
                    }
                    if let Some(job) = job {
                        super::provisioning::spawn(services, job);
                    }
                }
                // Someone acted meanwhile; the next pass sees the new state.
                Err(CommitError::Conflict { .. }) => {}
                Err(error) => return Err(error.into()),
            }
        }
        fired += committed;
        // A batch that moved nothing (conflicts only, or runs already under way)
        // waits for the next wake-up instead of spinning.
        if !full || committed == 0 {
            return Ok(fired);
        }
    }
}

async fn prepare(
    services: &Services,
    at: DateTime<Utc>,
    entry: &TimerEntry,
    now: DateTime<Utc>,
) -> anyhow::Result<Fired> {
    if super::grant_timers::handles(&entry.kind) {
        return super::grant_timers::prepare(services, at, entry, now).await;
    }
    if entry.kind == super::campaigns::reminders::TIMER {
        let cancel = Change::new()
            .at(now)
            .cancel_timer(at, &entry.subject, &entry.kind);
        return Ok(
            if super::campaigns::reminders::fire(services, &entry.subject, at).await? {
                Fired::Nothing
            } else {
                Fired::Commit(cancel, None, None)
            },
        );
    }
    if entry.kind == super::dm::TIMER {
        // The conversation ends in its own commits; this one only drops the timer.
        super::dm::expire(services, &entry.subject, now).await?;
        return Ok(Fired::Commit(
            Change::new()
                .at(now)
                .cancel_timer(at, &entry.subject, &entry.kind),
            None,
            None,
        ));
    }
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
            return Ok(Fired::Commit(done, None, None));
        }
    };
    let Some(stored) = services.load_request(&entry.subject)? else {
        return Ok(Fired::Commit(done, None, None));
    };
    let transition = match approval::apply(&stored.data, action.clone(), &Actor::system(), now) {
        Ok(transition) => transition,
        // Not yet due by the request's own deadline: fire again then.
        Err(Refusal::NotDue) => {
            let change = done.timer(stored.data.decide_by, entry.clone());
            return Ok(Fired::Commit(change, None, None));
        }
        Err(_) => return Ok(Fired::Commit(done, None, None)),
    };
    let names = services.names(&transition.request);
    let messages = services
        .notifier(&names)
        .messages(&transition.request, &transition.effects)?;
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
    Ok(Fired::Commit(
        change,
        Some(Box::new(transition.request)),
        None,
    ))
}
