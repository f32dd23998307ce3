//! The outbox sender: delivers the Web API calls that commits queued in the store's
//! outbox, and settles each one in the store (delivered with where it landed, retried
//! later, or given up and audited).
//!
//! Ordering: an entry waits for the newest earlier entry of its conversation (the
//! same `channel` argument) and of its logical message (`record_ref` /
//! `update_ref`), so each conversation goes strictly in commit order and an update
//! never overtakes its post ([`lanes`]). Conversations are independent: each ready
//! entry is delivered by its own task, which waits for pacing and retry backoff
//! without holding one of the [`CONCURRENT_CALLS`] delivery slots, so a slow, paced or
//! failing conversation never delays another's newest message.
//!
//! Cost per entry: the whole outbox is read once at start-up; after that the store
//! hands over the ids each commit added (in commit order, once flushed) and the
//! sender reads just those rows. An unreadable row is quarantined, counted and
//! logged, and delivery goes on.
//!
//! Exactly once for posts ([`history`]): a post carries metadata naming its entry;
//! the attempt is marked durably before the call, and an entry whose earlier attempt
//! may have reached Slack is first looked for in the conversation's history.
//!
//! Exactly one sender may run per store. A panic in a delivery task ends the sender
//! (its supervisor restarts it, which scans the outbox again).

mod deliver;
mod history;
mod lanes;
mod outcome;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::{JoinError, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::burst::{Burst, MAX_YIELD};
use crate::slack::web::{ApiMethod, ApiResponse, WebApi, WebApiError};
use crate::store::{Store, StoreError};
use crate::supervise::Heartbeat;
use deliver::Done;
use lanes::{conversation_keys, Lanes};

/// Web API calls in flight at once; the Web API client paces each method anyway.
pub const CONCURRENT_CALLS: usize = 16;

/// On shutdown, how long calls already under way may take to finish (and record what
/// they sent) before they are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The longest the sender goes without a heartbeat while idle.
const IDLE_BEAT: Duration = Duration::from_secs(10);

/// How long a supervisor should wait for a beat before calling the sender stuck.
pub const STALE_AFTER: Duration = Duration::from_secs(60);

/// What the delivery tasks share.
pub(crate) struct Shared {
    store: Store,
    web: WebApi,
    burst: Burst,
    slots: Semaphore,
    scopes: history::Scopes,
}

impl Shared {
    /// Waits while a burst of timer firings commits (at most [`MAX_YIELD`]); true when
    /// `stop` came first.
    async fn yield_to_burst(&self, stop: &CancellationToken) -> bool {
        tokio::select! {
            () = stop.cancelled() => true,
            () = self.burst.yield_to(MAX_YIELD) => false,
        }
    }

    /// One call in a delivery slot, without pacing (the caller took its pacer slot).
    async fn call_now(
        &self,
        method: &'static ApiMethod,
        args: Value,
    ) -> Result<ApiResponse, WebApiError> {
        // A burst of expiries commits first (bounded: see `crate::burst`).
        self.burst.yield_to(MAX_YIELD).await;
        // The semaphore is never closed.
        let _slot = self.slots.acquire().await.ok();
        self.web.call_once(method, args).await
    }

    /// One paced call in a delivery slot.
    async fn call(
        &self,
        method: &'static ApiMethod,
        args: Value,
    ) -> Result<ApiResponse, WebApiError> {
        let channel = args.get("channel").and_then(Value::as_str);
        self.web.pace(method, channel).await;
        self.call_now(method, args).await
    }
}

/// Delivers what is pending at start (crash recovery) and whatever later commits
/// queue, until `shutdown`; beats `heartbeat` after every step and at least every
/// [`IDLE_BEAT`]. Each call first yields to a `burst` of timer firings under way.
pub async fn run(
    store: Store,
    web: WebApi,
    burst: Burst,
    shutdown: CancellationToken,
    heartbeat: Heartbeat,
) {
    let shared = Arc::new(Shared {
        store: store.clone(),
        web,
        burst,
        slots: Semaphore::new(CONCURRENT_CALLS),
        scopes: history::Scopes::new(),
    });
    let mut sender = Sender {
        shared,
        lanes: Lanes::default(),
        tasks: JoinSet::new(),
        backlog: VecDeque::new(),
        stop: shutdown.clone(),
    };
    if !sender.resume(&heartbeat).await {
        return;
    }
    loop {
        heartbeat.beat();
        // What a burst of expiries queues is read once it has committed (bounded).
        if sender.shared.yield_to_burst(&shutdown).await {
            break;
        }
        sender.backlog.extend(store.take_committed_outbox());
        let paused = !sender.admit_backlog().await;
        let wait = if paused {
            deliver::STORE_ERROR_PAUSE
        } else {
            IDLE_BEAT
        };
        tokio::select! {
            () = shutdown.cancelled() => break,
            Some(joined) = sender.tasks.join_next() => sender.joined(joined),
            () = store.outbox_changed() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
    sender.finish().await;
}

struct Sender {
    shared: Arc<Shared>,
    lanes: Lanes,
    tasks: JoinSet<(u64, Done)>,
    /// Ids committed but not yet admitted (in commit order).
    backlog: VecDeque<u64>,
    stop: CancellationToken,
}

impl Sender {
    /// Reads the whole outbox once; false when shutdown came first.
    async fn resume(&mut self, heartbeat: &Heartbeat) -> bool {
        let scan = loop {
            match self.shared.store.outbox_resume().await {
                Ok(scan) => break scan,
                Err(error) => {
                    tracing::error!(%error, "reading the outbox at start-up failed");
                    heartbeat.beat();
                    tokio::select! {
                        () = self.stop.cancelled() => return false,
                        () = tokio::time::sleep(deliver::STORE_ERROR_PAUSE) => {}
                    }
                }
            }
        };
        for (key, reason) in &scan.undecodable {
            let Some(id) = <[u8; 8]>::try_from(key.as_slice())
                .ok()
                .map(u64::from_be_bytes)
            else {
                self.quarantine_key(key, reason).await;
                continue;
            };
            deliver::quarantine(&self.shared, id, reason).await;
        }
        if !scan.entries.is_empty() {
            tracing::info!(
                pending = scan.entries.len(),
                "delivering messages left from before the start"
            );
        }
        for (id, entry) in scan.entries {
            self.admit(id, conversation_keys(&entry.message));
        }
        true
    }

    async fn quarantine_key(&self, key: &[u8], reason: &str) {
        let moved = self
            .shared
            .store
            .quarantine(crate::store::Table::Outbox, key, reason, chrono::Utc::now())
            .await;
        if let Err(error) = moved {
            tracing::error!(%error, "an unreadable outbox row could not be moved aside");
        }
    }

    /// Reads and admits the backlog in order; false when a storage error stopped it
    /// (the rest stays, in order, for the next try).
    async fn admit_backlog(&mut self) -> bool {
        while let Some(&id) = self.backlog.front() {
            match self.shared.store.outbox_entry(id).await {
                Ok(Some(entry)) => self.admit(id, conversation_keys(&entry.message)),
                Ok(None) => {}
                Err(StoreError::Decode { detail, .. }) => {
                    deliver::quarantine(&self.shared, id, &detail).await;
                }
                Err(error) => {
                    tracing::error!(outbox_id = id, %error, "reading a new outbox entry failed");
                    return false;
                }
            }
            self.backlog.pop_front();
        }
        true
    }

    fn admit(&mut self, id: u64, keys: Vec<String>) {
        if self.lanes.admit(id, keys) {
            self.spawn(id);
        }
    }

    fn spawn(&mut self, id: u64) {
        let task = deliver::deliver(self.shared.clone(), id, self.stop.clone());
        self.tasks.spawn(task);
    }

    /// A delivery task ended. A panic ends the sender, so that it is restarted on a
    /// fresh scan rather than leaving that conversation stuck behind a dead task.
    fn joined(&mut self, joined: Result<(u64, Done), JoinError>) {
        match joined {
            Ok((id, Done::Settled)) => {
                for next in self.lanes.finish(id) {
                    self.spawn(next);
                }
            }
            Ok((_, Done::Stopped)) => {}
            Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
            Err(error) => tracing::warn!(%error, "an outbox delivery task was cancelled"),
        }
    }

    /// Lets calls under way finish (bounded); the rest is delivered at the next start.
    async fn finish(mut self) {
        let waiting = self.lanes.len();
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() || waiting > 0 {
            tracing::info!(
                waiting,
                "outbox sender stopped; undelivered messages go out at the next start"
            );
        }
        self.tasks.abort_all();
    }
}
