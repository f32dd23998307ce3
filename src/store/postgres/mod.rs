//! The PostgreSQL backend: the same operations as [`super::SledStore`], on a database
//! that several c1bot processes may share.
//!
//! Owns the connection pool and the transaction discipline every write follows; the
//! submodules own the SQL: `schema` (tables and versioned migrations), `connect` (URL,
//! TLS, pool), `commit` (a [`super::Change`] in one transaction), `records` (keyed,
//! revisioned records), `index`, `outbox`, `timers`, `journal`, `audit`, `quarantine`,
//! `lease` (who serves, and the fencing token), and `cluster` (a throwaway server for
//! tests and benchmarks).
//!
//! Architecture invariants (see ARCHITECTURE.md, "Store backends"):
//! - a write is one transaction at READ COMMITTED whose first statement checks the
//!   fence (when one is set), and that takes its row locks in one global order:
//!   lease row (shared) → request counter → records (by table, key) → journal rows →
//!   outbox rows → outbox counter → audit head. A deadlock or serialization failure
//!   (a safety net) and a lost race to insert a new key are retried whole;
//! - counters (request numbers, outbox ids, journal numbers, audit seq) are rows moved
//!   by `UPDATE … RETURNING` inside the transaction that uses them: gap-free, never
//!   reused, serialized by the row lock;
//! - a commit returns after PostgreSQL's COMMIT, which (with the default
//!   `synchronous_commit = on`) has flushed the WAL.

mod audit;
mod cached;
pub mod cluster;
mod commit;
mod connect;
mod group;
mod halves;
mod index;
mod journal;
mod lease;
mod net;
mod outbox;
mod pipeline;
mod quarantine;
mod records;
mod schema;
mod timers;

pub use schema::SCHEMA_VERSION;

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use deadpool_postgres::{Object, Pool, Transaction};
use tokio::sync::Notify;

use super::outbox_index::OutboxIndex;
use super::{CommitError, StoreError};
use cached::Cached;

/// How many times a transaction is tried before its error is returned.
const MAX_ATTEMPTS: u32 = 8;

/// The lease every commit must still hold: the row `name` in `c1bot_lease` carries
/// `token`. Set by whatever wins the lease (high availability); while it is set, a
/// write whose transaction finds another token there is refused with
/// [`StoreError::Fenced`] and writes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub lease: String,
    pub token: i64,
}

/// A handle on a PostgreSQL database. Cheap to clone; clones share the pool and the
/// wake-ups.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pool: Pool,
    /// The URL without its password, for errors.
    pub(crate) database: String,
    pub(crate) outbox_ready: Notify,
    pub(crate) timers_changed: Notify,
    pub(crate) outbox_index: OutboxIndex,
    fence: RwLock<Option<Fence>>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &self.inner.database)
            .finish()
    }
}

/// What a transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A write: the fence is checked first.
    Write,
    /// A write whose loss in a crash only repeats idempotent work: it does not wait
    /// for the WAL flush (`synchronous_commit = off`, [`super::Store::commit_unhurried`]).
    WriteUnhurried,
    /// Reads that must agree with each other (one snapshot, REPEATABLE READ).
    Snapshot,
}

impl PgStore {
    /// Connects (bounded waits), then creates or migrates the schema.
    pub async fn connect(url: &crate::config::DatabaseUrl) -> Result<PgStore, StoreError> {
        let store = Self::unmigrated(url)?;
        schema::migrate(&store).await?;
        store.index_outbox().await?;
        Ok(store)
    }

    /// The pool, before anything is read or migrated.
    fn unmigrated(url: &crate::config::DatabaseUrl) -> Result<PgStore, StoreError> {
        Ok(PgStore {
            inner: Arc::new(Inner {
                pool: connect::pool(url)?,
                database: url.to_string(),
                outbox_ready: Notify::new(),
                timers_changed: Notify::new(),
                outbox_index: OutboxIndex::default(),
                fence: RwLock::new(None),
            }),
        })
    }

    /// The database, as `postgres://user@host:port/name` (no password).
    pub fn database(&self) -> &str {
        &self.inner.database
    }

    /// From now on every write checks `fence` first (`None`: no check).
    pub fn set_fence(&self, fence: Option<Fence>) {
        *self.inner.fence.write().unwrap_or_else(|p| p.into_inner()) = fence;
    }

    fn fence(&self) -> Option<Fence> {
        self.inner
            .fence
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// A pooled connection (waits at most the pool's timeouts).
    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| connect::pool_error(&self.inner.database, e))
    }

    /// Starts a transaction for `mode`; a write checks the fence first.
    pub(crate) async fn begin<'a>(
        &self,
        client: &'a mut Object,
        mode: Mode,
    ) -> Result<Transaction<'a>, StoreError> {
        let builder = client.build_transaction();
        let tx = match mode {
            Mode::Snapshot => builder
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .ctx("starting a read")?,
            Mode::Write | Mode::WriteUnhurried => {
                builder.start().await.ctx("starting a transaction")?
            }
        };
        if mode == Mode::WriteUnhurried {
            tx.batch_execute("SET LOCAL synchronous_commit = off")
                .await
                .ctx("starting a transaction")?;
        }
        if mode != Mode::Snapshot {
            if let Some(fence) = self.fence() {
                check_fence(&tx, &fence).await?;
            }
        }
        Ok(tx)
    }
}

/// Refuses the transaction unless the lease row still carries our token. `FOR SHARE`
/// keeps a taker's `UPDATE` of the row waiting until this transaction ends, so no
/// commit of ours lands after a takeover commits.
pub(crate) async fn check_fence(tx: &Transaction<'_>, fence: &Fence) -> Result<(), StoreError> {
    let row = tx
        .query_opt_cached(
            "SELECT token FROM c1bot_lease WHERE name = $1 FOR SHARE",
            &[&fence.lease],
        )
        .await
        .ctx("checking the lease")?;
    let found: Option<i64> = row.map(|r| r.get(0));
    if found == Some(fence.token) {
        Ok(())
    } else {
        Err(StoreError::Fenced {
            lease: fence.lease.clone(),
            ours: fence.token,
            found,
        })
    }
}

/// Commits on `Ok`, rolls back on `Err` (whose error is kept).
pub(crate) async fn finish<T, E: From<StoreError>>(
    tx: Transaction<'_>,
    outcome: Result<T, E>,
) -> Result<T, E> {
    match outcome {
        Ok(value) => {
            tx.commit().await.ctx("committing")?;
            Ok(value)
        }
        Err(error) => {
            // A failed rollback leaves nothing behind either: the pool drops a
            // connection whose transaction did not end.
            let _ = tx.rollback().await;
            Err(error)
        }
    }
}

/// Errors after which the whole transaction may run again: nothing was committed.
pub(crate) trait Retry {
    fn retryable(&self) -> bool;
}

impl Retry for StoreError {
    fn retryable(&self) -> bool {
        let StoreError::Postgres { source, .. } = self else {
            return false;
        };
        use tokio_postgres::error::SqlState;
        source.code().is_some_and(|code| {
            *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::UNIQUE_VIOLATION
        })
    }
}

impl Retry for CommitError {
    fn retryable(&self) -> bool {
        matches!(self, CommitError::Storage(e) if e.retryable())
    }
}

/// A short, growing, jittered pause before trying a transaction again.
pub(crate) async fn pause(attempt: u32) {
    let base = 2u64.saturating_pow(attempt.min(6));
    let jitter = rand::random::<u64>() % (base + 1);
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

/// Context for a driver error: what c1bot was doing.
pub(crate) trait Ctx<T> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> Ctx<T> for Result<T, tokio_postgres::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::postgres(context, e))
    }
}

/// Runs `$body` (which uses the transaction `$tx` and `?` with errors of type `$err`)
/// in a transaction of `$mode`, committed when it returns `Ok`; tried again whole
/// (up to [`MAX_ATTEMPTS`]) when it failed in a way that committed nothing and may
/// pass next time (see [`Retry`]). Evaluates to `Result<_, $err>`.
macro_rules! transaction {
    ($store:expr, $mode:expr, $err:ty, |$tx:ident| $body:block) => {{
        let mut attempt: u32 = 1;
        loop {
            let outcome: Result<_, $err> = async {
                let mut client = $store.client().await?;
                let $tx = $store.begin(&mut client, $mode).await?;
                let outcome: Result<_, $err> = async { $body }.await;
                $crate::store::postgres::finish($tx, outcome).await
            }
            .await;
            match outcome {
                Err(error)
                    if $crate::store::postgres::Retry::retryable(&error)
                        && attempt < $crate::store::postgres::MAX_ATTEMPTS_PUB =>
                {
                    $crate::store::postgres::pause(attempt).await;
                    attempt += 1;
                }
                done => break done,
            }
        }
    }};
}
pub(crate) use transaction;

pub(crate) const MAX_ATTEMPTS_PUB: u32 = MAX_ATTEMPTS;
