//! The timer loop: reminders to approvers, the pending deadline, escalations, and
//! for grants the expiry, its reminder, overdue revokes and provisioner runs.
//!
//! Timers live in the store (a time-ordered index), so they survive restarts; at
//! start-up everything overdue fires at once. Firing a timer and what it causes
//! commit together; a timer for a request that has since moved on is removed. Due
//! timers are taken in batches and committed with one flush per batch (group
//! commit), so a burst of 10,000 expiries in one second is not 10,000 fsyncs. No
//! timer is ever dropped on an error: one that fails (an error, a panic, a refused
//! commit) is moved forward with capped backoff and counted (see [`failing`]); one
//! that cannot be read is quarantined.

mod failing;
mod fire;

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::provisioning::Job;
use super::services::Services;
use crate::store::{Change, CommitError, Table, TimerEntry};
use crate::supervise::Heartbeat;
use crate::workflow::request::AccessRequest;

pub use failing::FailingTimers;
pub use fire::escalation_timers;

/// Sleeps at most this long between looks, so a clock jump forward is noticed even
/// without [`crate::clock::Clock::advance`].
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// A healthy timer loop beats at least every [`MAX_SLEEP`]; this long without a beat
/// means it is stuck (a pass that never ends).
pub const STALE_AFTER: Duration = Duration::from_secs(180);

/// Timers prepared and committed together (one flush).
const BATCH: usize = 512;

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
    Commit(Change, Option<Box<AccessRequest>>, Option<Job>),
    /// Handled another way (a provisioner run was started), or not due yet.
    Nothing,
}

type Due = Vec<(DateTime<Utc>, TimerEntry)>;

/// A timer whose change is ready, with what follows its commit.
type Ready = (
    DateTime<Utc>,
    TimerEntry,
    Option<Box<AccessRequest>>,
    Option<Job>,
);

/// A prepared batch: the changes to commit, and the timers that failed to fire.
#[derive(Default)]
struct Prepared {
    changes: Vec<Change>,
    ready: Vec<Ready>,
    failed: Vec<(DateTime<Utc>, TimerEntry, String)>,
    took: Duration,
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
        let started = Instant::now();
        let mut prepared = prepare_all(services, due, now).await;
        prepared.took = started.elapsed();
        let (committed, moved) = commit(services, prepared).await?;
        fired += committed;
        // A batch that moved nothing (conflicts only, or runs already under way)
        // waits for the next wake-up instead of spinning.
        if !full || committed + moved == 0 {
            services.failing_timers.publish(&services.metrics);
            return Ok(fired);
        }
    }
}

/// Prepares each timer of `due`, catching errors and panics per timer.
async fn prepare_all(services: &Services, due: Due, now: DateTime<Utc>) -> Prepared {
    let mut out = Prepared::default();
    for (at, entry) in due {
        let span = tracing::info_span!("timer", request_id = %entry.subject, kind = %entry.kind);
        let prepared = AssertUnwindSafe(fire::prepare(services, at, &entry, now).instrument(span))
            .catch_unwind()
            .await;
        match prepared {
            Ok(Ok(Fired::Commit(change, request, job))) => {
                out.changes.push(change);
                out.ready.push((at, entry, request, job));
            }
            Ok(Ok(Fired::Nothing)) => services.failing_timers.recovered(&entry),
            Ok(Err(error)) => out.failed.push((at, entry, format!("{error:#}"))),
            Err(panic) => {
                let why = format!("it panicked: {}", failing::panic_text(&panic));
                out.failed.push((at, entry, why));
            }
        }
    }
    out
}

/// Commits a prepared batch with one flush, then does what follows each commit;
/// moves every timer that failed forward. Returns (committed, moved forward).
async fn commit(services: &Services, prepared: Prepared) -> anyhow::Result<(usize, usize)> {
    let Prepared {
        changes,
        ready,
        mut failed,
        took,
    } = prepared;
    let batch = changes.len();
    let committing = Instant::now();
    let results = services.store.commit_all(changes).await;
    tracing::debug!(
        batch,
        prepare_ms = took.as_millis() as u64,
        commit_ms = committing.elapsed().as_millis() as u64,
        "timer batch"
    );
    let mut committed = 0;
    for (result, (at, entry, request, job)) in results.into_iter().zip(ready) {
        match result {
            Ok(_) => {
                committed += 1;
                services.failing_timers.recovered(&entry);
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
    let now = services.now();
    for (at, entry, error) in failed {
        failing::postpone(services, at, &entry, &error, now).await?;
    }
    Ok((committed, moved))
}
