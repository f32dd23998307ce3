//! The store: c1bot's only persistence, behind one interface ([`Store`]) with a
//! backend chosen at start-up: [`SledStore`] (embedded, the default) or [`PgStore`]
//! (PostgreSQL, which several instances may share under a lease, see `postgres`).
//!
//! Owns the versioned record envelope, atomic commits of a state change together with
//! its outbox messages, audit entries, timers and journal completions ([`Change`]),
//! the outbox bookkeeping, the timer index, the intake journal and the hash-chained
//! audit log. It stores opaque records: it must not know the workflow's domain types,
//! and it never calls Slack (the outbox is delivered by `crate::outbox_sender`).
//!
//! Every read and write is `async`, whatever the backend, so a backend that talks to
//! a server slots in without changing callers.

mod audit;
mod audit_prune;
mod audit_verify;
mod backup;
mod change;
mod error;
mod index;
mod journal;
mod keys;
pub mod migrate;
mod outbox;
mod outbox_index;
mod outbox_pending;
mod packed;
mod packed_tx;
mod packed_upgrade;
pub mod postgres;
mod quarantine;
mod records;
mod sled_store;
mod timer_rehash;
mod timers;
mod tx;
mod warm;

#[cfg(test)]
mod outbox_tests;
#[cfg(test)]
mod packed_tests;
// Also used by other modules' tests of records they keep (`both!`).
#[cfg(test)]
pub(crate) mod suite;
#[cfg(test)]
mod tests;

pub use audit::{AuditEvent, GENESIS_HASH};
pub use audit_prune::PruneError;
pub use audit_verify::{AuditAnchor, AuditProblem, AuditVerification};
pub use change::{Change, Committed};
pub use error::{CommitError, StoreError};
pub use journal::{JournalEntry, JournalId, Journaled, PendingJournal};
pub use keys::{Table, FIRST_REQUEST_NUMBER, JOURNAL_KEEP_KEYS};
pub use outbox::{IfRefused, OutboxEntry, OutboxMessage, Posted, SlackRef, RESPONSE_URL};
pub use outbox_pending::OutboxScan;
pub use quarantine::Quarantined;
pub use records::{IndexKey, KeyedReads, Record, Versioned};
pub use timers::{DueTimers, TimerEntry};

pub use postgres::{Fence, PgStore};
pub use sled_store::SledStore;

use std::path::Path;

use chrono::{DateTime, Utc};

/// The order in which a backlog of changes to the requests `subject`s name commits
/// fastest: on sled, a batch taken in this order rewrites a small run of the packed
/// buckets (timer windows, index entries) it touches instead of nearly all of them
/// (see `packed::locality`). Any order is correct; PostgreSQL does not care.
pub fn commit_order(subject: &str) -> u64 {
    packed::locality(subject.as_bytes())
}

/// A handle on the store, whichever backend holds it. Cheap to clone; clones share
/// the database and its wake-ups.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone, Debug)]
enum Backend {
    Sled(SledStore),
    Postgres(PgStore),
}

impl From<SledStore> for Store {
    fn from(sled: SledStore) -> Self {
        Store {
            backend: Backend::Sled(sled),
        }
    }
}

impl From<PgStore> for Store {
    fn from(pg: PgStore) -> Self {
        Store {
            backend: Backend::Postgres(pg),
        }
    }
}

impl Store {
    /// Connects to the PostgreSQL database at `url` and brings its schema up to date.
    pub async fn connect(url: &crate::config::DatabaseUrl) -> Result<Store, StoreError> {
        Ok(PgStore::connect(url).await?.into())
    }

    /// The PostgreSQL backend, when that is what holds the store.
    pub fn postgres(&self) -> Option<&PgStore> {
        match &self.backend {
            Backend::Postgres(pg) => Some(pg),
            Backend::Sled(_) => None,
        }
    }

    /// Opens (creating if needed) a sled database in `dir`. Refused with
    /// [`StoreError::Locked`] while another process has it open.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        Ok(SledStore::open(dir)?.into())
    }

    /// [`SledStore::reopen`]: the store just dropped in this process, opened again.
    #[cfg(test)]
    pub(crate) fn reopen(dir: &Path) -> Result<Store, StoreError> {
        Ok(SledStore::reopen(dir)?.into())
    }

    /// A throwaway sled database, deleted when the last clone is dropped. For tests.
    pub fn temporary() -> Result<Store, StoreError> {
        Ok(SledStore::temporary()?.into())
    }

    /// The sled backend, when that is what holds the store (backups, the admin socket).
    pub fn sled(&self) -> Option<&SledStore> {
        match &self.backend {
            Backend::Sled(sled) => Some(sled),
            Backend::Postgres(_) => None,
        }
    }

    /// The data directory of a sled store (`None` for a temporary one).
    pub fn dir(&self) -> Option<&Path> {
        self.sled().and_then(SledStore::dir)
    }

    /// The record under `key`, with its format version and revision.
    pub async fn get<T: Record>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.get(table, key),
            Backend::Postgres(p) => p.get(table, key).await,
        }
    }

    /// The records of `table` indexed under `name` (see [`Record::index`]): what a
    /// person-facing read costs is what is indexed there, not the table.
    pub async fn index<T: Record>(
        &self,
        table: Table,
        name: &str,
    ) -> Result<Vec<(String, Versioned<T>)>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.index_scan(table, name),
            Backend::Postgres(p) => p.index_scan(table, name).await,
        }
    }

    /// The keys of the records of `table` indexed under `name`.
    pub async fn index_keys(&self, table: Table, name: &str) -> Result<Vec<String>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.index_keys(table, name),
            Backend::Postgres(p) => p.index_keys(table, name).await,
        }
    }

    /// The records of `table` indexed under any of `names`, each once, in key order
    /// (one round trip on PostgreSQL); a record that cannot be read comes back as its
    /// error beside the others.
    pub async fn index_read_any<T: Record>(
        &self,
        table: Table,
        names: &[String],
    ) -> Result<KeyedReads<T>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.index_read_any(table, names),
            Backend::Postgres(p) => p.index_read_any(table, names).await,
        }
    }

    /// How many records of `table` hold the counted index entry `name`.
    pub async fn count(&self, table: Table, name: &str) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.count(table, name),
            Backend::Postgres(p) => p.count(table, name).await,
        }
    }

    /// [`Store::count`] for each of `names`, in order: one round trip on PostgreSQL.
    pub async fn counts(&self, table: Table, names: &[&str]) -> Result<Vec<u64>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => names.iter().map(|name| s.count(table, name)).collect(),
            Backend::Postgres(p) => p.counts(table, names).await,
        }
    }

    /// Rebuilds `table`'s index from `T::index` unless built with `version` already
    /// (at start-up, before serving); returns how many records changed.
    pub async fn reindex<T: Record>(
        &self,
        table: Table,
        version: u64,
    ) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.reindex::<T>(table, version).await,
            Backend::Postgres(p) => p.reindex::<T>(table, version).await,
        }
    }

    /// Every record whose key starts with `prefix`, in key order (a range read: tools,
    /// migrations and tests, never a person-facing path).
    pub async fn scan_prefix<T: Record>(
        &self,
        table: Table,
        prefix: &str,
    ) -> Result<Vec<(String, Versioned<T>)>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.scan_prefix(table, prefix),
            Backend::Postgres(p) => p.scan_prefix(table, prefix).await,
        }
    }

    /// Commits `change` atomically and durably (see [`SledStore::commit`]).
    pub async fn commit(&self, change: Change) -> Result<Committed, CommitError> {
        match &self.backend {
            Backend::Sled(s) => s.commit(change).await,
            Backend::Postgres(p) => p.commit(change).await,
        }
    }

    /// Commits `change` without waiting for the disk (see [`SledStore::commit_unhurried`]).
    pub async fn commit_unhurried(&self, change: Change) -> Result<Committed, CommitError> {
        match &self.backend {
            Backend::Sled(s) => s.commit_unhurried(change).await,
            Backend::Postgres(p) => p.commit_unhurried(change).await,
        }
    }

    /// Commits a batch with one flush (see [`SledStore::commit_all`]).
    pub async fn commit_all(&self, changes: Vec<Change>) -> Vec<Result<Committed, CommitError>> {
        match &self.backend {
            Backend::Sled(s) => s.commit_all(changes).await,
            Backend::Postgres(p) => p.commit_all(changes).await,
        }
    }

    /// Starts reading ahead, on another thread, what committing `changes` will read
    /// (sled: records and packed buckets, into its cache; see `warm`), giving up at
    /// `until`. Nothing on PostgreSQL. Returns at once; nothing depends on it.
    pub fn warm<'c>(
        &self,
        changes: impl IntoIterator<Item = &'c Change>,
        until: std::time::Instant,
    ) {
        let Backend::Sled(sled) = &self.backend else {
            return;
        };
        let reads = warm::Reads::of(changes);
        if reads.is_empty() {
            return;
        }
        let sled = sled.clone();
        tokio::task::spawn_blocking(move || match sled.warm(&reads, until) {
            Ok(read) => tracing::debug!(read, "read ahead for a batch of commits"),
            Err(error) => tracing::debug!(%error, "reading ahead failed (the commit reads again)"),
        });
    }

    /// [`Store::commit_all`] without waiting for the disk (sled): later reads see the
    /// changes; [`Store::flush_committed`] makes them durable and hands their messages
    /// to the outbox sender. On PostgreSQL every commit is durable when it returns.
    pub async fn commit_all_unflushed(
        &self,
        changes: Vec<Change>,
    ) -> Vec<Result<Committed, CommitError>> {
        match &self.backend {
            Backend::Sled(s) => s.commit_all_unflushed(changes).await,
            Backend::Postgres(p) => p.commit_all(changes).await,
        }
    }

    /// Makes the commits `results` came from durable and wakes who they concern.
    pub async fn flush_committed(
        &self,
        results: &[Result<Committed, CommitError>],
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.flush_committed(results).await,
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// Commits a change that needs a new request number (see [`SledStore::commit_numbered`]).
    pub async fn commit_numbered(
        &self,
        build: impl Fn(u64) -> Result<Change, String>,
    ) -> Result<Committed, CommitError> {
        match &self.backend {
            Backend::Sled(s) => s.commit_numbered(build).await,
            Backend::Postgres(p) => p.commit_numbered(build).await,
        }
    }

    /// Makes every write so far durable.
    pub async fn flush(&self) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.flush().await,
            Backend::Postgres(_) => Ok(()),
        }
    }

    /// Writes the audit log as JSON lines; returns how many entries.
    pub async fn export_audit(
        &self,
        w: &mut (impl std::io::Write + Send),
    ) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.export_audit(w),
            Backend::Postgres(p) => p.export_audit(w).await,
        }
    }

    /// The audit chain's newest entry, as an anchor to keep elsewhere.
    pub async fn audit_head(&self) -> Result<Option<AuditAnchor>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.audit_head(),
            Backend::Postgres(p) => p.audit_head().await,
        }
    }

    /// At most `limit` audit entries after `seq`, oldest first, as JSON.
    pub async fn audit_after(
        &self,
        seq: u64,
        limit: usize,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.audit_after(seq).take(limit).collect(),
            Backend::Postgres(p) => p.audit_after(seq, limit).await,
        }
    }

    /// Recomputes the audit chain.
    pub async fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.verify_audit(),
            Backend::Postgres(p) => p.verify_audit().await,
        }
    }

    /// Recomputes the audit chain and checks it against an anchor kept elsewhere.
    pub async fn verify_audit_against(
        &self,
        anchor: Option<&AuditAnchor>,
    ) -> Result<AuditVerification, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.verify_audit_against(anchor),
            Backend::Postgres(p) => p.verify_audit_against(anchor).await,
        }
    }

    /// Journals an envelope before its ack (see [`SledStore::journal`]).
    pub async fn journal(
        &self,
        keys: &[String],
        envelope: &serde_json::Value,
        now: DateTime<Utc>,
    ) -> Result<Journaled, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.journal(keys, envelope, now).await,
            Backend::Postgres(p) => p.journal(keys, envelope, now).await,
        }
    }

    /// Journal rows still to be processed.
    pub async fn journal_pending(&self) -> Result<PendingJournal, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.journal_pending(),
            Backend::Postgres(p) => p.journal_pending().await,
        }
    }

    /// Journal row `id`, if still to be processed.
    pub async fn journal_entry(&self, id: JournalId) -> Result<Option<JournalEntry>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.journal_entry(id),
            Backend::Postgres(p) => p.journal_entry(id).await,
        }
    }

    /// Records a failed attempt at a journal row.
    pub async fn journal_retry(
        &self,
        id: JournalId,
        error: &str,
        next_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.journal_retry(id, error, next_at).await,
            Backend::Postgres(p) => p.journal_retry(id, error, next_at).await,
        }
    }

    /// Gives a journal row up (see [`SledStore::journal_give_up`]).
    pub async fn journal_give_up(
        &self,
        id: JournalId,
        reason: &str,
        audit: &AuditEvent,
        then: &[OutboxMessage],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.journal_give_up(id, reason, audit, then, now).await,
            Backend::Postgres(p) => p.journal_give_up(id, reason, audit, then, now).await,
        }
    }

    /// How many journal rows were ever given up.
    pub async fn journal_failed_count(&self) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.journal_failed_count(),
            Backend::Postgres(p) => p.journal_failed_count().await,
        }
    }

    /// Forgets old dedupe keys.
    pub async fn prune_journal_keys(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.prune_journal_keys(now, limit).await,
            Backend::Postgres(p) => p.prune_journal_keys(now, limit).await,
        }
    }

    /// Settles a delivered outbox entry.
    pub async fn outbox_delivered(
        &self,
        id: u64,
        posted: Option<SlackRef>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.outbox_delivered(id, posted, now).await,
            Backend::Postgres(p) => p.outbox_delivered(id, posted, now).await,
        }
    }

    /// Records a failed delivery (see [`SledStore::outbox_failed`]).
    pub async fn outbox_failed(
        &self,
        id: u64,
        error: &str,
        give_up: bool,
        maybe_posted: bool,
        now: DateTime<Utc>,
        then: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sled(s) => {
                s.outbox_failed(id, error, give_up, maybe_posted, now, then)
                    .await
            }
            Backend::Postgres(p) => {
                p.outbox_failed(id, error, give_up, maybe_posted, now, then)
                    .await
            }
        }
    }

    /// Where the message recorded under `key` was posted.
    pub async fn slack_ref(&self, key: &str) -> Result<Option<SlackRef>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.slack_ref(key),
            Backend::Postgres(p) => p.slack_ref(key).await,
        }
    }

    /// Every recorded message whose key starts with `prefix`.
    pub async fn slack_refs(&self, prefix: &str) -> Result<Vec<(String, SlackRef)>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.slack_refs(prefix),
            Backend::Postgres(p) => p.slack_refs(prefix).await,
        }
    }

    /// Resolves after a commit that queued outbox messages.
    pub async fn outbox_changed(&self) {
        match &self.backend {
            Backend::Sled(s) => s.outbox_changed().await,
            Backend::Postgres(p) => p.outbox_changed().await,
        }
    }

    /// Every undelivered entry, oldest first (a full read: tools and tests).
    pub async fn pending_outbox(&self) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.pending_outbox(),
            Backend::Postgres(p) => p.pending_outbox().await,
        }
    }

    /// The start-up scan of the outbox (see [`SledStore::outbox_resume`]).
    pub async fn outbox_resume(&self) -> Result<OutboxScan, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.outbox_resume(),
            Backend::Postgres(p) => p.outbox_resume().await,
        }
    }

    /// Outbox ids committed and flushed since the last call, in commit order.
    pub fn take_committed_outbox(&self) -> Vec<u64> {
        match &self.backend {
            Backend::Sled(s) => s.take_committed_outbox(),
            Backend::Postgres(p) => p.take_committed_outbox(),
        }
    }

    /// Outbox entry `id`, if still pending.
    pub async fn outbox_entry(&self, id: u64) -> Result<Option<OutboxEntry>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.outbox_entry(id),
            Backend::Postgres(p) => p.outbox_entry(id).await,
        }
    }

    /// Marks, durably, that an attempt to post entry `id` starts now.
    pub async fn outbox_attempt_started(
        &self,
        id: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.outbox_attempt_started(id, now).await,
            Backend::Postgres(p) => p.outbox_attempt_started(id, now).await,
        }
    }

    /// How many entries are queued to one conversation (from memory).
    pub fn outbox_queued_to(&self, channel_or_user: &str) -> usize {
        match &self.backend {
            Backend::Sled(s) => s.outbox_queued_to(channel_or_user),
            Backend::Postgres(p) => p.outbox_queued_to(channel_or_user),
        }
    }

    /// Entries waiting in the outbox (from memory).
    pub fn outbox_depth(&self) -> usize {
        match &self.backend {
            Backend::Sled(s) => s.outbox_depth(),
            Backend::Postgres(p) => p.outbox_depth(),
        }
    }

    /// Moves an undecodable row aside (see [`SledStore::quarantine`]).
    pub async fn quarantine(
        &self,
        table: Table,
        key: &[u8],
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.quarantine(table, key, reason, now).await,
            Backend::Postgres(p) => p.quarantine(table, key, reason, now).await,
        }
    }

    /// How many rows were ever quarantined from `table`.
    pub async fn quarantined_count(&self, table: Table) -> Result<u64, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.quarantined_count(table),
            Backend::Postgres(p) => p.quarantined_count(table).await,
        }
    }

    /// [`Store::quarantined_count`] for each of `tables`, in order.
    pub async fn quarantined_counts(&self, tables: &[Table]) -> Result<Vec<u64>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => tables.iter().map(|t| s.quarantined_count(*t)).collect(),
            Backend::Postgres(p) => p.quarantined_counts(tables).await,
        }
    }

    /// Every timer due at or before `now`, earliest first.
    pub async fn due_timers(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, TimerEntry)>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.due_timers(now),
            Backend::Postgres(p) => p.due_timers(now).await,
        }
    }

    /// Timers of `kind` due before `until`.
    pub async fn timers_of_kind_before(
        &self,
        kind: &str,
        until: DateTime<Utc>,
    ) -> Result<Vec<(DateTime<Utc>, TimerEntry)>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.timers_of_kind_before(kind, until),
            Backend::Postgres(p) => p.timers_of_kind_before(kind, until).await,
        }
    }

    /// At most `limit` timers due at or before `now`.
    pub async fn due_timers_limit(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<DueTimers, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.due_timers_limit(now, limit),
            Backend::Postgres(p) => p.due_timers_limit(now, limit).await,
        }
    }

    /// When the earliest timer is due.
    pub async fn next_timer_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        match &self.backend {
            Backend::Sled(s) => s.next_timer_due(),
            Backend::Postgres(p) => p.next_timer_due().await,
        }
    }

    /// Resolves after a commit that scheduled or cancelled a timer.
    pub async fn timers_changed(&self) {
        match &self.backend {
            Backend::Sled(s) => s.timers_changed().await,
            Backend::Postgres(p) => p.timers_changed().await,
        }
    }
}
