//! The timer loop: reminders to approvers, the pending deadline, escalations, and
//! for grants the expiry, its reminder, overdue revokes and provisioner runs.
//!
//! Timers live in the store (a time-ordered index), so they survive restarts; at
//! start-up everything overdue fires at once. Firing a timer and what it causes
//! commit together; a timer for a request that has since moved on is removed. Due
//! timers are taken in batches and committed with one flush per batch (group
//! commit), so a burst of 10,000 expiries in one second is not 10,000 fsyncs.
//! No timer is ever dropped on an error: one that fails (an error, a panic, a
//! refused commit) is moved forward with capped backoff, counted
//! (`c1bot_timers_failing`), and after a few failures its owners are told; one that
//! cannot be read is quarantined.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use serde_json::json;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::requests::{TIMER_EXPIRE, TIMER_REMIND};
use super::services::Services;
use crate::slack::backoff::Backoff;
use crate::store::{AuditEvent, Change, CommitError, OutboxMessage, Table, TimerEntry};
use crate::supervise::Heartbeat;
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
                        TimerEntry::new(
                            format!("{TIMER_ESCALATE_PREFIX}{step}"),
                            request.id.clone(),
                        ),
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

/// A healthy timer loop beats at least every [`MAX_SLEEP`]; this long without a beat
/// means it is stuck (a pass that never ends).
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(180);

/// Timers prepared and committed together.
const BATCH: usize = 512;

/// A timer whose firing fails is moved forward by this backoff, never dropped.
const FAILED: Backoff = Backoff {
    initial: std::time::Duration::from_secs(5),
    max: std::time::Duration::from_secs(300),
};

/// At this many failures in a row, the people responsible are told (once).
const TELL_AFTER_FAILURES: u32 = 5;

pub async fn run(services: Services, beat: Heartbeat, shutdown: CancellationToken) {
    super::provisioning::resume_leases(&services).await;
    while !shutdown.is_cancelled() {
        if services.faults.take_timer_loop_panic() {
            panic!("injected fault: timer-loop-panic (C1BOT_FAULTS)");
        }
        match fire_due(&services).await {
            Ok(_) => beat.beat(),
            Err(error) => tracing::error!(error = format!("{error:#}"), "timer pass failed"),
        }
        let now = services.now();
        let wait = match services.store.next_timer_due().await {
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

/// Fires every timer due now, in batches; returns how many fired. A timer that
/// cannot be read is quarantined; one whose firing fails (an error, a panic, a
/// commit the store refuses) is moved forward with backoff, never dropped.
pub async fn fire_due(services: &Services) -> anyhow::Result<usize> {
    let mut fired = 0;
    loop {
        let now = services.now();
        let due = services.store.due_timers_limit(now, BATCH).await?;
        for key in &due.undecodable {
            services
                .store
                .quarantine(Table::Timers, key, "not a timer", now)
                .await?;
        }
        let due = due.timers;
        if due.is_empty() {
            services.failing_timers.publish(&services.metrics);
            return Ok(fired);
        }
        let full = due.len() == BATCH;
        let preparing = std::time::Instant::now();
        let mut changes = Vec::with_capacity(due.len());
        let mut concerned = Vec::with_capacity(due.len());
        let mut failed = Vec::new();
        for (at, entry) in &due {
            let span =
                tracing::info_span!("timer", request_id = %entry.subject, kind = %entry.kind);
            let prepared = AssertUnwindSafe(prepare(services, *at, entry, now).instrument(span))
                .catch_unwind()
                .await;
            match prepared {
                Ok(Ok(Fired::Commit(change, request, job))) => {
                    changes.push(change);
                    concerned.push((*at, entry, request, job));
                }
                Ok(Ok(Fired::Nothing)) => services.failing_timers.recovered(entry),
                Ok(Err(error)) => failed.push((*at, entry, format!("{error:#}"))),
                Err(panic) => {
                    failed.push((*at, entry, format!("it panicked: {}", panic_text(&panic))))
                }
            }
        }
        let prepared_in = preparing.elapsed();
        let committing = std::time::Instant::now();
        let results = services.store.commit_all(changes).await;
        tracing::debug!(
            batch = due.len(),
            prepare_ms = prepared_in.as_millis() as u64,
            commit_ms = committing.elapsed().as_millis() as u64,
            "timer batch"
        );
        let mut committed = 0;
        for (result, (at, entry, request, job)) in results.into_iter().zip(concerned) {
            match result {
                Ok(_) => {
                    committed += 1;
                    services.failing_timers.recovered(entry);
                    if let Some(request) = request {
                        super::status::refresh_homes(services, &request);
                    }
                    if let Some(job) = job {
                        super::provisioning::spawn(services, job);
                    }
                }
                // Someone acted meanwhile; the next pass sees the new state.
                Err(CommitError::Conflict { .. }) => {}
                Err(error) => failed.push((at, entry, format!("its commit failed: {error}"))),
            }
        }
        let moved = failed.len();
        for (at, entry, error) in failed {
            postpone(services, at, entry, &error, now).await?;
        }
        fired += committed;
        // A batch that moved nothing (conflicts only, or runs already under way)
        // waits for the next wake-up instead of spinning.
        if !full || committed + moved == 0 {
            services.failing_timers.publish(&services.metrics);
            return Ok(fired);
        }
    }
}

/// A timer that failed to fire: moved forward with backoff and its failure counted;
/// at [`TELL_AFTER_FAILURES`] the people responsible are told in the same commit.
async fn postpone(
    services: &Services,
    at: DateTime<Utc>,
    entry: &TimerEntry,
    error: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let failures = entry.failures + 1;
    let next = now + chrono::Duration::from_std(FAILED.ceiling(failures)).unwrap_or_default();
    tracing::error!(kind = %entry.kind, subject = %entry.subject, failures, retry_at = %next, error, "a timer could not fire; it stays and is tried again");
    services.failing_timers.failed(entry, error);
    services.metrics.inc(
        "c1bot_timer_failures_total",
        "Timer firings that failed and were moved forward to be tried again.",
        &[("kind", &entry.kind)],
    );
    let mut moved = entry.clone();
    moved.failures = failures;
    let since = *moved.failing_since.get_or_insert(now);
    let mut change = Change::new()
        .at(now)
        .cancel_timer(at, &entry.subject, &entry.kind)
        .timer(next, moved);
    if failures == TELL_AFTER_FAILURES {
        for owner in responsible(services, entry).await {
            change = change.outbox(OutboxMessage::text(
                &owner,
                &format!(
                    ":warning: c1bot cannot process the {} timer of {} ({} failures since {}): {}. It keeps trying; check c1bot's log and Slack's status.",
                    entry.kind,
                    super::mrkdwn::escape(&entry.subject),
                    failures,
                    crate::templates::slack_date(since.timestamp()),
                    super::mrkdwn::escape(error),
                ),
            ));
        }
    }
    services.store.commit(change).await?;
    Ok(())
}

/// Who is told about a timer that keeps failing: the resource's owners for a
/// request, the owners of a campaign.
async fn responsible(services: &Services, entry: &TimerEntry) -> Vec<String> {
    if entry.subject.starts_with("REQ-") {
        if let Ok(Some(stored)) = services.load_request(&entry.subject).await {
            return super::grants::owners_of(services, &stored.data)
                .into_iter()
                .collect();
        }
    }
    if entry.subject.starts_with("CMP-") {
        return super::campaigns::owners(services, &entry.subject).await;
    }
    Vec::new()
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// Timers whose firing is failing now, for the `c1bot_timers_failing` gauge. Cheap
/// to clone; kept across restarts of the loop.
#[derive(Clone, Default)]
pub struct FailingTimers(Arc<Mutex<BTreeMap<(String, String), String>>>);

impl FailingTimers {
    fn failed(&self, entry: &TimerEntry, error: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(
            (entry.kind.clone(), entry.subject.clone()),
            error.to_owned(),
        );
    }

    fn recovered(&self, entry: &TimerEntry) {
        if entry.failures > 0 {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&(entry.kind.clone(), entry.subject.clone()));
        }
    }

    fn publish(&self, metrics: &crate::metrics::Metrics) {
        let count = self.0.lock().unwrap_or_else(|p| p.into_inner()).len();
        metrics.set(
            "c1bot_timers_failing",
            "Timers whose last firing failed; each is tried again with backoff.",
            &[],
            count as f64,
        );
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
    if entry.kind == super::campaigns::ended::TIMER {
        super::campaigns::ended::fire(services, &entry.subject).await?;
        return Ok(Fired::Commit(
            Change::new()
                .at(now)
                .cancel_timer(at, &entry.subject, &entry.kind),
            None,
            None,
        ));
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
    let Some(stored) = services.load_request(&entry.subject).await? else {
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
            change = change.timer(next, TimerEntry::new(TIMER_REMIND, entry.subject.clone()));
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
