//! The sled backend: c1bot's embedded store, and the only module that imports sled.
//!
//! Owns the trees ([`Table`]), atomic commits of a state change together with its
//! outbox messages, audit entries, timers and journal completions (one sled
//! transaction over every tree, flushed before the commit returns), the flush shared
//! by concurrent commits, and the gate a backup closes.
//!
//! Architecture invariants:
//! - every write goes through one sled transaction, and a commit returns only after
//!   `flush_async`, so a returned commit survives a crash;
//! - sequence numbers (request numbers, outbox ids, audit seqs) are counters in `meta`
//!   moved inside that transaction: gap-free, never reused;
//! - one process per data directory (sled's file lock, reported as [`StoreError::Locked`]).

use super::{
    change, outbox_index, records, Change, CommitError, Committed, Record, StoreError, Table,
    Versioned,
};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::Utc;
use sled::transaction::{TransactionError, Transactional};
use tokio::sync::Notify;

use super::keys::{FIRST_REQUEST_NUMBER, FORMAT_KEY, REQUEST_COUNTER};
use super::tx::{Tx, TxResult};

/// The on-disk layout this build writes (in `meta`); a newer one is refused.
/// 2: timers and index rows packed into groups (`packed`); a format-1 directory is
/// packed once when opened.
/// 3: timers placed in their window by their request's hash (`packed::timer_hash`);
/// a format-2 directory's timers are placed again once when opened.
const FORMAT: u64 = 3;

/// sled's page cache (its default is 1 GiB). Idle, c1bot's working set is small and
/// the cache fills only as pages are read; it must hold what an expiry burst reads
/// ahead (`warm`: at 1,000,000 grants, about 150,000 keys for 10,000 expiries), which
/// 64 MiB did not (BENCHMARKS.md, "Expiry bursts, session 9").
const CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// A handle on the open database. Cheap to clone; clones share the database and the
/// wake-ups.
#[derive(Clone)]
pub struct SledStore {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) db: sled::Db,
    /// Indexed by [`Table::index`].
    pub(crate) trees: Vec<sled::Tree>,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) outbox_ready: Notify,
    /// Outbox ids committed in order for the sender, and entries queued per conversation.
    pub(crate) outbox_index: outbox_index::OutboxIndex,
    pub(crate) timers_changed: Notify,
    /// Every write takes this shared; a backup takes it exclusively, so the copy is
    /// one consistent state across all tables. A tokio lock: a commit waiting for a
    /// backup yields its runtime thread instead of blocking it (see `backup`).
    pub(crate) gate: tokio::sync::RwLock<()>,
    /// Transactions committed so far, and how many of them a finished flush covers.
    pub(crate) written: AtomicU64,
    pub(crate) flushed: AtomicU64,
    /// One `flush_async` at a time: sled 0.34 runs each on its small I/O thread pool,
    /// and dozens at once (64 provisioner results settling together) left every pool
    /// thread waiting in `iobuf::flush` for good. Callers queue here, and a flush that
    /// started after a caller's write covers it, so concurrent commits share one fsync.
    pub(crate) flushing: tokio::sync::Mutex<()>,
}

impl fmt::Debug for SledStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStore")
            .field("dir", &self.inner.dir)
            .finish()
    }
}

impl SledStore {
    /// [`SledStore::open`] again in the process that just dropped the store there: sled
    /// 0.34 finishes a `flush_async` on its own I/O threads, which still hold the
    /// directory's lock a moment after the flush's future resolved and the store was
    /// dropped. A restart is a new process and never sees this. Waits at most 5 s.
    #[cfg(test)]
    pub(crate) fn reopen(dir: &Path) -> Result<SledStore, StoreError> {
        let mut tries = 250;
        loop {
            match SledStore::open(dir) {
                Err(StoreError::Locked { .. }) if tries > 0 => {
                    tries -= 1;
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                opened => return opened,
            }
        }
    }

    /// Opens (creating if needed) the database in `dir`. Refused with
    /// [`StoreError::Locked`] while another process (or another `SledStore` in this
    /// process) has it open.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
            dir: dir.to_owned(),
            source,
        })?;
        let config = sled::Config::new().path(dir).cache_capacity(CACHE_BYTES);
        Self::with_config(config, dir.to_owned(), Some(dir.to_owned()))
    }

    /// A throwaway database, deleted when the last clone is dropped. For tests.
    pub fn temporary() -> Result<SledStore, StoreError> {
        let config = sled::Config::new()
            .temporary(true)
            .cache_capacity(CACHE_BYTES);
        Self::with_config(config, PathBuf::from("(temporary)"), None)
    }

    fn with_config(
        config: sled::Config,
        shown_dir: PathBuf,
        dir: Option<PathBuf>,
    ) -> Result<SledStore, StoreError> {
        // sled 0.34 has been seen to panic on open over a damaged directory (sled#1533);
        // that becomes the same clear error as a detected corruption.
        let db = match catch_unwind(AssertUnwindSafe(|| config.open())) {
            Ok(Ok(db)) => db,
            Ok(Err(e)) => return Err(open_error(shown_dir, e)),
            Err(panic) => {
                let detail = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "sled panicked while opening".to_owned());
                return Err(StoreError::Corrupt {
                    dir: shown_dir,
                    detail,
                });
            }
        };
        let mut trees = Vec::with_capacity(Table::ALL.len());
        for table in Table::ALL {
            let tree = db
                .open_tree(table.name())
                .map_err(|e| open_error(shown_dir.clone(), e))?;
            trees.push(tree);
        }
        let store = SledStore {
            inner: Arc::new(Inner {
                db,
                trees,
                dir,
                outbox_ready: Notify::new(),
                outbox_index: outbox_index::OutboxIndex::default(),
                timers_changed: Notify::new(),
                gate: tokio::sync::RwLock::new(()),
                written: AtomicU64::new(0),
                flushed: AtomicU64::new(0),
                flushing: tokio::sync::Mutex::new(()),
            }),
        };
        store.check_format(shown_dir)?;
        store.index_outbox()?;
        Ok(store)
    }

    /// Stamps a new directory with [`FORMAT`]; refuses one written by a newer build.
    fn check_format(&self, dir: PathBuf) -> Result<(), StoreError> {
        let meta = self.tree(Table::Meta);
        let found = meta
            .get(FORMAT_KEY)
            .map_err(|e| StoreError::storage("reading the format version", e))?;
        match found.as_deref().map(<[u8; 8]>::try_from) {
            None => {
                meta.insert(FORMAT_KEY, &FORMAT.to_be_bytes()[..])
                    .map_err(|e| StoreError::storage("writing the format version", e))?;
                Ok(())
            }
            Some(Ok(be)) if u64::from_be_bytes(be) < FORMAT => {
                if u64::from_be_bytes(be) < 2 {
                    self.pack_unpacked_rows()?;
                }
                // Also after packing: an older release's packing, cut short by a
                // crash, may have left buckets in format 2's placement.
                self.rehash_timer_windows()?;
                meta.insert(FORMAT_KEY, &FORMAT.to_be_bytes()[..])
                    .map_err(|e| StoreError::storage("writing the format version", e))?;
                self.inner
                    .db
                    .flush()
                    .map_err(|e| StoreError::storage("flushing the upgraded rows", e))?;
                Ok(())
            }
            Some(Ok(be)) if u64::from_be_bytes(be) == FORMAT => Ok(()),
            Some(Ok(be)) => Err(StoreError::NewerFormat {
                dir,
                found: u64::from_be_bytes(be),
                supported: FORMAT,
            }),
            Some(Err(_)) => Err(StoreError::Corrupt {
                dir,
                detail: "the format version is not 8 bytes".into(),
            }),
        }
    }

    /// The data directory (`None` for a temporary store).
    pub fn dir(&self) -> Option<&Path> {
        self.inner.dir.as_deref()
    }

    /// The record under `key`, with its format version and revision.
    pub fn get<T: Record>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        self.read_versioned(table, key.as_bytes())
    }

    /// Every record whose key starts with `prefix`, in key order.
    pub fn scan_prefix<T: Record>(
        &self,
        table: Table,
        prefix: &str,
    ) -> Result<Vec<(String, Versioned<T>)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree(table).scan_prefix(prefix.as_bytes()) {
            let (key, bytes) = item.map_err(|e| StoreError::storage("scanning records", e))?;
            let record = records::decode(&bytes).map_err(|e| StoreError::decode(table, &key, e))?;
            out.push((String::from_utf8_lossy(&key).into_owned(), record));
        }
        Ok(out)
    }

    /// Commits `change` atomically and durably: when this returns `Ok`, every write,
    /// outbox message, audit entry and timer of the change is on disk; on `Err`
    /// (other than a failed flush) nothing was written.
    pub async fn commit(&self, change: Change) -> Result<Committed, CommitError> {
        let at = change.stamp().unwrap_or_else(Utc::now);
        let committed = self
            .transact_noted(|tx| change::apply(tx, &change, at, None))
            .await?;
        self.settle(committed).await
    }

    /// Commits `change` atomically without waiting for it to reach the disk: it is
    /// durable with the next flush anyone makes. Only for a change that holds no
    /// outbox message or timer and whose loss in a crash merely repeats idempotent
    /// work (a journal row completed with nothing to do is processed again).
    pub async fn commit_unhurried(&self, change: Change) -> Result<Committed, CommitError> {
        let at = change.stamp().unwrap_or_else(Utc::now);
        let committed = self
            .transact_noted(|tx| change::apply(tx, &change, at, None))
            .await?;
        if !committed.outbox_ids.is_empty() || committed.timers_changed {
            // Not what this is for: make it durable like any commit.
            return self.settle(committed).await;
        }
        Ok(committed)
    }

    /// Commits a batch of changes in one transaction, then makes them durable with one
    /// flush (group commit): a burst of timer firings costs one transaction and one
    /// fsync, not one each. Each change is checked and written as if committed alone,
    /// in the order given (a later change sees an earlier one's writes), and one that
    /// fails its expectations (a revision conflict) or is invalid is skipped without
    /// stopping the others. Nothing is reported committed before the flush returns.
    pub async fn commit_all(&self, changes: Vec<Change>) -> Vec<Result<Committed, CommitError>> {
        let mut results = self.commit_all_unflushed(changes).await;
        if let Err(error) = self.flush_committed(&results).await {
            let reason = error.to_string();
            for result in results.iter_mut().filter(|r| r.is_ok()) {
                *result = Err(CommitError::from(StoreError::storage(
                    "flushing a group commit",
                    sled::Error::Io(std::io::Error::other(reason.clone())),
                )));
            }
        }
        results
    }

    /// [`SledStore::commit_all`] without waiting for the disk: later reads see the
    /// changes, but they are neither durable nor handed to the outbox sender until
    /// [`SledStore::flush_committed`]. Lets the timer loop write its next batch while
    /// the disk takes the last one.
    pub async fn commit_all_unflushed(
        &self,
        changes: Vec<Change>,
    ) -> Vec<Result<Committed, CommitError>> {
        let now = Utc::now();
        let shared = self.inner.gate.read().await;
        let order = self.inner.outbox_index.lock_order();
        let written = self.transact_under(&shared, |tx| {
            let mut results = Vec::with_capacity(changes.len());
            for change in &changes {
                results.push(match change::check(tx, change)? {
                    Ok(()) => Ok(change::write(
                        tx,
                        change,
                        change.stamp().unwrap_or(now),
                        None,
                    )?),
                    Err(error) => Err(error),
                });
            }
            Ok(results)
        });
        let results = match written {
            Ok(results) => {
                let committed: Vec<Committed> = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .cloned()
                    .collect();
                self.note_committed(&committed);
                results
            }
            Err(error) => {
                let reason = error.to_string();
                changes
                    .iter()
                    .map(|_| {
                        Err(CommitError::from(StoreError::storage(
                            "committing a group of changes",
                            sled::Error::Io(std::io::Error::other(reason.clone())),
                        )))
                    })
                    .collect()
            }
        };
        drop(order);
        drop(shared);
        results
    }

    /// Makes every commit so far durable, then wakes the outbox sender and the timer
    /// loop for what `results` queued and scheduled.
    pub async fn flush_committed(
        &self,
        results: &[Result<Committed, CommitError>],
    ) -> Result<(), StoreError> {
        self.flush().await?;
        let committed = || results.iter().filter_map(|r| r.as_ref().ok());
        if committed().any(|c| !c.outbox_ids.is_empty()) {
            self.inner.outbox_ready.notify_one();
        }
        if committed().any(|c| c.timers_changed) {
            self.inner.timers_changed.notify_one();
        }
        Ok(())
    }

    /// Like [`SledStore::commit`], for a change that needs a new request number: `build`
    /// gets the next number (1001, 1002, …) and returns the change, inside the same
    /// transaction. The number, the request and its messages commit together or not at
    /// all, so numbers have no gaps; a `build` that fails aborts the commit with
    /// [`CommitError::Invalid`] and consumes no number. `build` may run more than once
    /// (sled retries a transaction on conflict): it must only build the change.
    pub async fn commit_numbered(
        &self,
        build: impl Fn(u64) -> Result<Change, String>,
    ) -> Result<Committed, CommitError> {
        let now = Utc::now();
        let committed = self
            .transact_noted(|tx| {
                let number =
                    tx.next_counter::<CommitError>(REQUEST_COUNTER, FIRST_REQUEST_NUMBER)?;
                let change = build(number).map_err(|detail| {
                    sled::transaction::ConflictableTransactionError::Abort(CommitError::Invalid {
                        detail,
                    })
                })?;
                if change.is_empty() {
                    return Err(sled::transaction::ConflictableTransactionError::Abort(
                        CommitError::Invalid {
                            detail: "a numbered commit with nothing in it".into(),
                        },
                    ));
                }
                change::apply(tx, &change, change.stamp().unwrap_or(now), Some(number))
            })
            .await?;
        self.settle(committed).await
    }

    /// Makes every write so far durable (fsync), off the async threads. Concurrent
    /// callers share a flush: one that began after this caller's writes covers them.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let mine = self.inner.written.load(Ordering::Acquire);
        let _turn = self.inner.flushing.lock().await;
        if self.inner.flushed.load(Ordering::Acquire) >= mine {
            return Ok(());
        }
        let covering = self.inner.written.load(Ordering::Acquire);
        self.inner
            .db
            .flush_async()
            .await
            .map_err(|e| StoreError::storage("flushing to disk", e))?;
        self.inner.flushed.fetch_max(covering, Ordering::AcqRel);
        Ok(())
    }

    /// Flushes, then wakes the outbox sender and timer loop. Waking only after the
    /// flush means nothing is sent to Slack about a change a crash could still undo.
    async fn settle(&self, committed: Committed) -> Result<Committed, CommitError> {
        self.flush().await?;
        if !committed.outbox_ids.is_empty() {
            self.inner.outbox_ready.notify_one();
        }
        if committed.timers_changed {
            self.inner.timers_changed.notify_one();
        }
        Ok(committed)
    }

    /// A counter in `meta` kept by the store (0 when never moved).
    pub(crate) fn meta_counter(&self, name: &str) -> Result<u64, StoreError> {
        let bytes = self
            .tree(Table::Meta)
            .get(name.as_bytes())
            .map_err(|e| StoreError::storage("reading a counter", e))?;
        Ok(bytes
            .as_deref()
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0))
    }

    /// [`SledStore::transact`] for a change that may queue outbox messages: under the
    /// gate, then the outbox order lock, so the ids it allocates are noted for the
    /// sender in allocation (commit) order, tagged with this write for [`SledStore::flush`].
    async fn transact_noted(
        &self,
        f: impl Fn(&Tx<'_>) -> TxResult<Committed, CommitError>,
    ) -> Result<Committed, CommitError> {
        let shared = self.inner.gate.read().await;
        let _order = self.inner.outbox_index.lock_order();
        let committed = self.transact_under(&shared, f)?;
        self.note_committed(std::slice::from_ref(&committed));
        Ok(committed)
    }

    /// Notes the outbox rows of `committed` (call with the order lock held).
    fn note_committed(&self, committed: &[Committed]) {
        let noted: Vec<(u64, Option<String>)> = committed
            .iter()
            .flat_map(|c| {
                c.outbox_ids
                    .iter()
                    .copied()
                    .zip(c.outbox_channels.iter().cloned())
            })
            .collect();
        if !noted.is_empty() {
            self.note_outbox(&noted);
        }
    }

    /// Notes outbox rows just written (call with the order lock held).
    pub(crate) fn note_outbox(&self, entries: &[(u64, Option<String>)]) {
        let written = self.inner.written.load(Ordering::Acquire);
        self.inner.outbox_index.note(entries, written);
    }

    pub(crate) fn tree(&self, table: Table) -> &sled::Tree {
        &self.inner.trees[table.index()]
    }

    pub(crate) fn read_versioned<T: Record>(
        &self,
        table: Table,
        key: &[u8],
    ) -> Result<Option<Versioned<T>>, StoreError> {
        let bytes = self
            .tree(table)
            .get(key)
            .map_err(|e| StoreError::storage("reading a record", e))?;
        bytes
            .map(|b| records::decode(&b).map_err(|e| StoreError::decode(table, key, e)))
            .transpose()
    }

    /// Runs `f` as one serializable transaction over every tree, after waiting (without
    /// blocking the runtime) for a backup that holds the gate. The closure may run more
    /// than once, so it must only use the view. It runs on the calling thread: it does
    /// no I/O (the fsync is the separate, async `flush`) and takes microseconds.
    pub(crate) async fn transact<A, E: From<StoreError>>(
        &self,
        f: impl Fn(&Tx<'_>) -> TxResult<A, E>,
    ) -> Result<A, E> {
        let shared = self.inner.gate.read().await;
        self.transact_under(&shared, f)
    }

    /// [`SledStore::transact`] for a caller already holding the gate's shared side.
    pub(crate) fn transact_under<A, E: From<StoreError>>(
        &self,
        _shared: &tokio::sync::RwLockReadGuard<'_, ()>,
        f: impl Fn(&Tx<'_>) -> TxResult<A, E>,
    ) -> Result<A, E> {
        self.transact_ungated(f)
    }

    /// The transaction itself, for callers that hold the gate or run before anyone
    /// else can (opening the store).
    pub(crate) fn transact_ungated<A, E: From<StoreError>>(
        &self,
        f: impl Fn(&Tx<'_>) -> TxResult<A, E>,
    ) -> Result<A, E> {
        let trees: &[sled::Tree] = &self.inner.trees;
        let result = trees.transaction(|view| {
            let tx = Tx::new(view);
            let out = f(&tx)?;
            tx.packed.write_out::<E>(view)?;
            Ok(out)
        });
        // Counted after the transaction, so a flush that reads this number starts
        // after the write it covers.
        self.inner.written.fetch_add(1, Ordering::AcqRel);
        match result {
            Ok(value) => Ok(value),
            Err(TransactionError::Abort(e)) => Err(e),
            Err(TransactionError::Storage(e)) => {
                Err(E::from(StoreError::storage("committing a transaction", e)))
            }
        }
    }
}

/// sled 0.34.7 reports a held lock only as an `Io(Other)` whose text starts "could not
/// acquire lock"; the text is frozen with that release.
fn open_error(dir: PathBuf, error: sled::Error) -> StoreError {
    match &error {
        sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
            StoreError::Locked { dir }
        }
        sled::Error::Corruption { .. } => StoreError::Corrupt {
            dir,
            detail: error.to_string(),
        },
        _ => StoreError::Open { dir, source: error },
    }
}
