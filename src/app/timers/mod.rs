//! The timer loop: reminders to approvers, the pending deadline, escalations, and
//! for grants the expiry, its reminder, overdue revokes and provisioner runs.
//!
//! Timers live in the store (a time-ordered index), so they survive restarts; at
//! start-up everything overdue fires at once. Firing a timer and what it causes
//! commit together; a timer for a request that has since moved on is removed. Due
//! timers are taken in batches and committed with one flush per batch (group
//! commit, [`commit`]), so a burst of 10,000 expiries in one second is not 10,000
//! fsyncs; expiries due within seconds are prepared ahead and commit at their due
//! time ([`ahead`]); while a burst commits, the outbox sender yields to it
//! ([`crate::burst`]). A firing's audit entry is stamped when it commits
//! ([`firing`]). No timer is ever dropped on an error: one that fails (an error, a
//! panic, a refused commit) is moved forward with capped backoff and counted (see
//! [`failing`]); one that cannot be read is quarantined.

mod ahead;
mod commit;
mod failing;
mod fire;

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::{FutureExt, StreamExt};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::app::shared::services::Services;
use crate::store::{Table, TimerEntry};
use crate::supervise::Heartbeat;

pub use crate::app::shared::firing::{dropping, Fired, Firing, TimerAudit};
use ahead::{Ahead, Sorted, LOOK_AHEAD};
use commit::Committer;

/// Sleeps at most this long between looks, so a clock jump forward is noticed even
/// without [`crate::clock::Clock::advance`].
const MAX_SLEEP: Duration = Duration::from_secs(30);

/// A healthy timer loop beats at least every [`MAX_SLEEP`]; this long without a beat
/// means it is stuck (a pass that never ends).
pub const STALE_AFTER: Duration = Duration::from_secs(180);

/// Timers prepared and committed together (one flush). Bigger batches write each
/// packed bucket once for more changes, but a sled transaction holds the store's
/// global lock while it applies, and every ack waits behind it: at 1,000,000 grants
/// 2,048 let one `/c1 status` ack wait 2.5 s, 1,024 at most 0.6 s (BENCHMARKS.md).
const BATCH: usize = 1024;

/// Timers read from the store at once (due now, or expiries due within
/// [`LOOK_AHEAD`]), besides those already prepared.
const READ_AT_ONCE: usize = 8 * BATCH;

/// Expiries prepared at once ahead of their due time. Preparing one waits mostly on
/// store reads, so with a few in flight the store and the CPU both stay busy; an
/// expiry's preparation is pure (it commits nothing), so they cannot race.
const PREPARE_AT_ONCE: usize = 8;

/// After a pass that could move nothing that was due (conflicts only, or runs
/// already under way), look again this much later instead of spinning.
const NOTHING_MOVED_RETRY: Duration = Duration::from_secs(1);

pub async fn run(services: Services, beat: Heartbeat, shutdown: CancellationToken) {
    crate::app::grants::provisioning::resume_leases(&services).await;
    let mut ahead = Ahead::default();
    while !shutdown.is_cancelled() {
        if services.faults.take_timer_loop_panic() {
            panic!("injected fault: timer-loop-panic (C1BOT_FAULTS)");
        }
        let wake = match pass(&services, &mut ahead).await {
            Ok(wake) => {
                beat.beat();
                wake
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "timer pass failed");
                None
            }
        };
        services.metrics.set(
            "c1bot_expiries_prepared_ahead",
            "Expiries due within seconds, prepared and waiting to commit at their due time.",
            &[],
            ahead.len() as f64,
        );
        let wait = wake.map_or(MAX_SLEEP, |at| {
            (at - services.now())
                .to_std()
                .unwrap_or_default()
                .min(MAX_SLEEP)
        });
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
            _ = services.store.timers_changed() => {}
            _ = services.clock.jumped() => {}
        }
    }
}

use ahead::Due;

/// A firing ready to commit, with its timer.
type Ready = (DateTime<Utc>, TimerEntry, Firing);

/// A timer whose firing failed, and why.
type Failed = (DateTime<Utc>, TimerEntry, String);

/// Fires every timer due now, in batches of [`BATCH`] with one flush each, commits
/// the expiries prepared ahead that have come due, and prepares the expiries due
/// within [`LOOK_AHEAD`]. A timer that cannot be read is quarantined; one whose
/// firing fails (an error, a panic, a commit the store refuses) is moved forward
/// with backoff, never dropped. Returns when to look again (`None`: no timer).
async fn pass(services: &Services, ahead: &mut Ahead) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut committer = Committer::default();
    let outcome = pass_with(services, ahead, &mut committer).await;
    committer.settle(services).await?;
    outcome
}

async fn pass_with(
    services: &Services,
    ahead: &mut Ahead,
    committer: &mut Committer,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    // Held while full batches commit: the outbox sender yields to a burst.
    let mut burst = None;
    loop {
        let now = services.now();
        let ready = ahead.take_due(now, BATCH);
        if ready.len() == BATCH {
            burst.get_or_insert_with(|| services.burst.start());
        }
        if !ready.is_empty() {
            committer.commit(services, ready, Vec::new()).await?;
            continue;
        }
        let horizon = now + chrono::Duration::from_std(LOOK_AHEAD).unwrap_or_default();
        // The prepared ones are still in the store (until they commit): read past them.
        let read = services
            .store
            .due_timers_limit(horizon, ahead.len() + READ_AT_ONCE)
            .await?;
        for key in &read.undecodable {
            services
                .store
                .quarantine(Table::Timers, key, "not a timer", now)
                .await?;
        }
        // A read that came back short saw every timer due by the horizon.
        let full = read.timers.len() >= ahead.len() + READ_AT_ONCE;
        let Sorted { due, soon, later } = ahead.sort_out(read.timers, now);
        if due.is_empty() && soon.is_empty() {
            services.failing_timers.publish(&services.metrics);
            return next_look(services, ahead, later, horizon).await;
        }
        if due.len() >= BATCH {
            burst.get_or_insert_with(|| services.burst.start());
        }
        let none_due = due.is_empty();
        let fired_any = none_due || fire_now(services, committer, due, now).await?;
        // Expiries due soon: prepared as of their due time; committed when due. One
        // that fails to prepare stays in the store and is tried again at a later pass
        // (ahead, or when due, where a failure is counted and moves it forward).
        let (ready, failed) = prepare_ahead(services, soon).await;
        let prepared_any = !ready.is_empty();
        warm(services, &ready);
        for (at, entry, firing) in ready {
            ahead.insert(at, entry, firing);
        }
        let later = failed.iter().map(|(at, _, _)| *at).chain(later).min();
        if !fired_any {
            services.failing_timers.publish(&services.metrics);
            let retry = services.now()
                + chrono::Duration::from_std(NOTHING_MOVED_RETRY).unwrap_or_default();
            return Ok([ahead.earliest(), later, Some(retry)]
                .into_iter()
                .flatten()
                .min());
        }
        // Read again only if firing may have scheduled more, or the read was cut short.
        if none_due && !(prepared_any && full) {
            services.failing_timers.publish(&services.metrics);
            return next_look(services, ahead, later, horizon).await;
        }
    }
}

/// Fires `due` (due now) in batches; whether anything was committed or moved forward.
async fn fire_now(
    services: &Services,
    committer: &mut Committer,
    mut due: Due,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let mut moved_any = false;
    due = ahead::in_commit_order(due, BATCH);
    while !due.is_empty() {
        let batch: Due = due.drain(..due.len().min(BATCH)).collect();
        let started = Instant::now();
        // One at a time: firing some kinds commits on its own (a campaign's
        // follow-up, a provisioner run), and those would race each other.
        let (ready, failed) = prepare_all(services, batch, 1, |_| now).await;
        let took = started.elapsed();
        let (committed, moved) = committer.commit(services, ready, failed).await?;
        tracing::debug!(
            committed,
            moved,
            prepare_ms = took.as_millis() as u64,
            "timer batch"
        );
        moved_any |= committed + moved > 0;
    }
    Ok(moved_any)
}

/// When to look again: the first prepared expiry, the first other timer within the
/// horizon, or the first timer beyond it coming within [`LOOK_AHEAD`].
async fn next_look(
    services: &Services,
    ahead: &Ahead,
    later: Option<DateTime<Utc>>,
    horizon: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    // A timer due by the horizon was read (it is prepared or in `later`), or was
    // scheduled since, which wakes the loop by itself.
    let beyond = services
        .store
        .next_timer_due()
        .await?
        .filter(|due| *due > horizon)
        .map(|due| due - chrono::Duration::from_std(LOOK_AHEAD).unwrap_or_default());
    Ok([ahead.earliest(), later, beyond]
        .into_iter()
        .flatten()
        .min())
}

/// Prepares `soon` as of each one's due time; counts those that fail.
async fn prepare_ahead(services: &Services, soon: Due) -> (Vec<Ready>, Vec<Failed>) {
    let (count, started) = (soon.len(), Instant::now());
    let (ready, failed) = if !soon.is_empty() && services.faults.take_prepare_ahead_failure() {
        let why = "injected fault: prepare-ahead-fail (C1BOT_FAULTS)";
        let failed = soon
            .into_iter()
            .map(|(at, entry)| (at, entry, why.to_owned()));
        (Vec::new(), failed.collect())
    } else {
        prepare_all(services, soon, PREPARE_AT_ONCE, |at| at).await
    };
    if count > 0 {
        let prepare_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(count, prepare_ms, "expiries prepared ahead");
    }
    if let Some((_, entry, error)) = failed.first() {
        tracing::warn!(
            count = failed.len(),
            request_id = %entry.subject,
            %error,
            "expiries could not be prepared ahead (the first one's error); they fire when due"
        );
    }
    services.metrics.add(
        "c1bot_expiries_prepare_ahead_failed_total",
        "Expiries that could not be prepared ahead of their due time (each fires when due instead).",
        &[],
        failed.len() as u64,
    );
    (ready, failed)
}

/// Has the store read ahead what `ready` will read when it commits, until the first
/// of them is due (when the commits start and need the CPU).
fn warm(services: &Services, ready: &[Ready]) {
    let Some(first) = ready.iter().map(|(at, _, _)| *at).min() else {
        return;
    };
    let left = (first - services.now()).to_std().unwrap_or_default();
    let until = Instant::now() + left;
    services
        .store
        .warm(ready.iter().map(|(_, _, firing)| &firing.change), until);
}

/// Prepares each timer of `due` as of `as_of(its due time)`, catching errors and
/// panics per timer, `at_once` of them in flight (in order all the same).
async fn prepare_all(
    services: &Services,
    due: Due,
    at_once: usize,
    as_of: impl Fn(DateTime<Utc>) -> DateTime<Utc>,
) -> (Vec<Ready>, Vec<Failed>) {
    let prepared: Vec<_> = futures_util::stream::iter(due)
        .map(|(at, entry)| {
            let span =
                tracing::info_span!("timer", request_id = %entry.subject, kind = %entry.kind);
            let as_of = as_of(at);
            async move {
                let firing = fire::prepare(services, at, &entry, as_of).instrument(span);
                let prepared = AssertUnwindSafe(firing).catch_unwind().await;
                (at, entry, prepared)
            }
        })
        .buffered(at_once.max(1))
        .collect()
        .await;
    let (mut ready, mut failed) = (Vec::new(), Vec::new());
    for (at, entry, prepared) in prepared {
        match prepared {
            Ok(Ok(Fired::Commit(firing))) => ready.push((at, entry, firing)),
            Ok(Ok(Fired::Nothing)) => services.failing_timers.recovered(&entry),
            Ok(Err(error)) => failed.push((at, entry, format!("{error:#}"))),
            Err(panic) => {
                let why = format!("it panicked: {}", failing::panic_text(&panic));
                failed.push((at, entry, why));
            }
        }
    }
    (ready, failed)
}
