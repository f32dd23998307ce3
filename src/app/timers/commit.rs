//! Committing timer firings: each batch in one transaction, stamped with the time it
//! commits, and made durable by a flush that runs while the next batches are written
//! (on sled, at most [`UNFLUSHED`] batches at a time; a PostgreSQL commit is durable
//! when it returns). What follows a commit (App Home refreshes, provisioner runs)
//! waits for its flush, so nothing is shown or started for a change a crash could
//! still undo (its timers are undone with it, and fire again). A firing that fails,
//! or whose flush fails, is moved forward (see [`crate::app::timers::failing`]).

use chrono::{DateTime, Utc};
use tokio::task::JoinHandle;

use crate::app::shared::handles::Job;
use crate::app::shared::services::Services;
use crate::app::timers::{failing, Failed, Ready};
use crate::store::{CommitError, StoreError, TimerEntry};
use crate::workflow::request::AccessRequest;

/// What follows one committed firing.
type After = (
    DateTime<Utc>,
    TimerEntry,
    Option<Box<AccessRequest>>,
    Option<Job>,
);

/// Batches written and not yet known to be on disk, at most: a burst's writes do not
/// wait for each flush (one flush often covers two batches: sled's flushes queue, and
/// the later one covers every write before it started).
const UNFLUSHED: usize = 4;

/// A batch written, on its way to the disk.
struct InFlight {
    flush: JoinHandle<Result<(), StoreError>>,
    after: Vec<After>,
}

/// Commits batches one after another, at most [`UNFLUSHED`] of them not yet flushed.
#[derive(Default)]
pub(super) struct Committer {
    /// Oldest first; each flush covers the ones before it.
    in_flight: std::collections::VecDeque<InFlight>,
}

impl Committer {
    /// Writes `ready` in one transaction, settles the batches before it that are on
    /// disk (waiting for the oldest while [`UNFLUSHED`] are not), and starts this
    /// one's flush; moves every timer in `failed` (or whose commit failed)
    /// forward. Returns (committed, moved forward).
    pub async fn commit(
        &mut self,
        services: &Services,
        ready: Vec<Ready>,
        mut failed: Vec<Failed>,
    ) -> anyhow::Result<(usize, usize)> {
        let batch = ready.len();
        let now = services.now();
        let mut changes = Vec::with_capacity(batch);
        let mut after = Vec::with_capacity(batch);
        for (at, entry, firing) in ready {
            let (change, request, job) = firing.commit_at(at, now);
            changes.push(change);
            after.push((at, entry, request, job));
        }
        let writing = std::time::Instant::now();
        let results = services.store.commit_all_unflushed(changes).await;
        tracing::debug!(
            batch,
            write_ms = writing.elapsed().as_millis() as u64,
            "timer batch written"
        );
        let mut written = Vec::with_capacity(batch);
        for (result, (at, entry, request, job)) in results.iter().zip(after) {
            match result {
                Ok(_) => written.push((at, entry, request, job)),
                // Someone acted meanwhile; the next pass sees the new state.
                Err(CommitError::Conflict { .. }) => {}
                Err(error) => failed.push((at, entry, format!("its commit failed: {error}"))),
            }
        }
        let committed = written.len();
        while let Some(oldest) = self.in_flight.front() {
            if !oldest.flush.is_finished() && self.in_flight.len() < UNFLUSHED {
                break;
            }
            self.settle_oldest(services).await?;
        }
        let store = services.store.clone();
        self.in_flight.push_back(InFlight {
            flush: tokio::spawn(async move { store.flush_committed(&results).await }),
            after: written,
        });
        let moved = failed.len();
        let now = services.now();
        for (at, entry, error) in failed {
            failing::postpone(services, at, &entry, &error, now).await?;
        }
        Ok((committed, moved))
    }

    /// Waits for every batch in flight to reach the disk, then does what follows each
    /// of its commits; if a flush failed, moves its timers forward.
    pub async fn settle(&mut self, services: &Services) -> anyhow::Result<()> {
        while !self.in_flight.is_empty() {
            self.settle_oldest(services).await?;
        }
        Ok(())
    }

    /// [`Committer::settle`] for the oldest batch in flight.
    async fn settle_oldest(&mut self, services: &Services) -> anyhow::Result<()> {
        let Some(InFlight { flush, after }) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let flushed = match flush.await {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(joined) => Err(format!("the flush did not finish: {joined}")),
        };
        match flushed {
            Ok(()) => {
                for (_, entry, request, job) in after {
                    services.failing_timers.recovered(&entry);
                    if let Some(request) = request {
                        services.consequences.committed(
                            &crate::app::shared::consequences::Committed::Request(request),
                        );
                    }
                    if let Some(job) = job {
                        crate::app::grants::provisioning::spawn(services, job);
                    }
                }
            }
            Err(error) => {
                let now = services.now();
                for (at, entry, _, _) in after {
                    let why = format!("its flush failed: {error}");
                    failing::postpone(services, at, &entry, &why, now).await?;
                }
            }
        }
        Ok(())
    }
}
