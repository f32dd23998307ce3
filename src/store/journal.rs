//! The intake journal: an envelope c1bot acks before deciding on it is written here
//! first, durably, so a crash after the ack cannot lose it.
//!
//! Owns the journal's rows and dedupe keys. A row lives from receipt until the commit
//! that processes it removes it ([`super::Change::completes`]), so "processed" and
//! "what processing changed" are one transaction. Dedupe keys (`env:<envelope_id>`,
//! `evt:<event_id>`) outlive the row for [`JOURNAL_KEEP_KEYS`], so a copy Slack
//! delivers again, even after a restart, is recognised. A row that cannot be
//! processed after its retries is moved to `journal_failed` and counted. Concurrent
//! envelopes share one fsync (the store's group flush). The store keeps envelopes
//! as opaque JSON: it must not know Slack's formats.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::audit::AuditEvent;
use super::keys::{
    journal_key_by_time, seq_from_key, seq_key, JOURNAL_COUNTER, JOURNAL_FAILED_COUNTER,
    JOURNAL_KEEP_KEYS,
};
use super::outbox::OutboxMessage;
use super::records::{self, Record};
use super::{SledStore, StoreError, Table};

/// A journal row's number, in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct JournalId(pub u64);

impl std::fmt::Display for JournalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "J{}", self.0)
    }
}

/// An envelope waiting to be processed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub received_at: DateTime<Utc>,
    /// Its dedupe keys.
    pub keys: Vec<String>,
    /// The envelope as received, for the processor to decode again.
    pub envelope: Value,
    /// Failed processing attempts so far.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_error: Option<String>,
}

impl Record for JournalEntry {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

/// What [`SledStore::journal`] did with an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journaled {
    /// Written (and flushed) under this number: process it.
    New(JournalId),
    /// One of its keys was seen within [`JOURNAL_KEEP_KEYS`]: a copy, not to be
    /// processed again.
    Duplicate(JournalId),
}

/// Pending rows, and the keys of rows that could not be decoded.
#[derive(Debug, Default)]
pub struct PendingJournal {
    pub rows: Vec<(JournalId, JournalEntry)>,
    pub undecodable: Vec<Vec<u8>>,
}

impl SledStore {
    /// Writes `envelope` to the journal unless one of `keys` was journaled already;
    /// returns once the row is on disk (one fsync shared by concurrent callers).
    pub async fn journal(
        &self,
        keys: &[String],
        envelope: &Value,
        now: DateTime<Utc>,
    ) -> Result<Journaled, StoreError> {
        let entry = JournalEntry {
            received_at: now,
            keys: keys.to_vec(),
            envelope: envelope.clone(),
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
        };
        let json = serde_json::to_string(&entry)
            .map_err(|e| StoreError::decode(Table::Journal, b"(new)", e))?;
        let outcome = self
            .transact(|tx| {
                for key in keys {
                    if let Some(seq) = tx.tree(Table::JournalKeys).get(key.as_bytes())? {
                        let seq = seq_from_key(&seq).unwrap_or_default();
                        return Ok(Journaled::Duplicate(JournalId(seq)));
                    }
                }
                let seq = tx.next_counter::<StoreError>(JOURNAL_COUNTER, 1)?;
                tx.put_json::<StoreError>(
                    Table::Journal,
                    &seq_key(seq),
                    JournalEntry::VERSION,
                    &[],
                    &json,
                )?;
                for key in keys {
                    tx.tree(Table::JournalKeys)
                        .insert(key.as_bytes(), &seq_key(seq))?;
                    tx.tree(Table::JournalKeysByTime)
                        .insert(journal_key_by_time(now, key), &[][..])?;
                }
                Ok(Journaled::New(JournalId(seq)))
            })
            .await?;
        if let Journaled::New(_) = outcome {
            self.flush().await?;
        }
        Ok(outcome)
    }

    /// Every row still to be processed, oldest first. Rows that cannot be decoded
    /// are reported apart, for the caller to quarantine; they stop nothing.
    pub fn journal_pending(&self) -> Result<PendingJournal, StoreError> {
        let mut pending = PendingJournal::default();
        for item in self.tree(Table::Journal).iter() {
            let (key, bytes) = item.map_err(|e| StoreError::storage("reading the journal", e))?;
            match (seq_from_key(&key), records::decode::<JournalEntry>(&bytes)) {
                (Some(seq), Ok(entry)) if key.len() == 8 => {
                    pending.rows.push((JournalId(seq), entry.data))
                }
                _ => pending.undecodable.push(key.to_vec()),
            }
        }
        Ok(pending)
    }

    /// The row `id`, if it is still to be processed.
    pub fn journal_entry(&self, id: JournalId) -> Result<Option<JournalEntry>, StoreError> {
        Ok(self
            .read_versioned::<JournalEntry>(Table::Journal, &seq_key(id.0))?
            .map(|r| r.data))
    }

    /// Records a failed attempt; the row is tried again at `next_at`.
    pub async fn journal_retry(
        &self,
        id: JournalId,
        error: &str,
        next_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.transact(|tx| {
            let key = seq_key(id.0);
            let Some(stored) = tx.read::<JournalEntry, StoreError>(Table::Journal, &key)? else {
                return Ok(());
            };
            let mut entry = stored.data;
            entry.attempts += 1;
            entry.next_attempt_at = Some(next_at);
            entry.last_error = Some(error.to_owned());
            tx.put::<_, StoreError>(Table::Journal, &key, &entry)?;
            Ok(())
        })
        .await?;
        self.flush().await
    }

    /// Gives row `id` up: moved to `journal_failed`, counted, audited, and `then`
    /// (the words owed to the person) queued, in one transaction.
    pub async fn journal_give_up(
        &self,
        id: JournalId,
        reason: &str,
        audit: &AuditEvent,
        then: &[OutboxMessage],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let shared = self.inner.gate.read().await;
        let order = self.inner.outbox_index.lock_order();
        let queued = self.transact_under(&shared, |tx| {
            let key = seq_key(id.0);
            let Some(stored) = tx.read::<JournalEntry, StoreError>(Table::Journal, &key)? else {
                return Ok(None);
            };
            let mut entry = stored.data;
            entry.last_error = Some(reason.to_owned());
            tx.tree(Table::Journal).remove(key.as_slice())?;
            tx.put::<_, StoreError>(Table::JournalFailed, &key, &entry)?;
            tx.next_counter::<StoreError>(JOURNAL_FAILED_COUNTER, 0)?;
            tx.append_audit::<StoreError>(audit, now)?;
            let queued = tx.queue_outbox::<StoreError>(then, now)?;
            Ok(Some(queued))
        })?;
        let moved = queued.is_some();
        let any_queued = queued.as_ref().is_some_and(|q| !q.is_empty());
        if let Some(queued) = &queued {
            self.note_outbox(queued);
        }
        drop(order);
        drop(shared);
        self.flush().await?;
        if any_queued {
            self.inner.outbox_ready.notify_one();
        }
        Ok(moved)
    }

    /// How many journal rows were ever given up.
    pub fn journal_failed_count(&self) -> Result<u64, StoreError> {
        self.meta_counter(JOURNAL_FAILED_COUNTER)
    }

    /// Forgets dedupe keys received before `now - JOURNAL_KEEP_KEYS`, at most `limit`
    /// of them; returns how many. Reads only the expired part of the time index.
    pub async fn prune_journal_keys(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let bound = journal_key_by_time(now - JOURNAL_KEEP_KEYS, "");
        let mut expired = Vec::new();
        for item in self
            .tree(Table::JournalKeysByTime)
            .range(..bound)
            .take(limit)
        {
            let (key, _) = item.map_err(|e| StoreError::storage("reading the journal keys", e))?;
            expired.push(key.to_vec());
        }
        if expired.is_empty() {
            return Ok(0);
        }
        self.transact(|tx| {
            for by_time in &expired {
                tx.tree(Table::JournalKeysByTime)
                    .remove(by_time.as_slice())?;
                if let Some(key) = by_time.get(8..) {
                    tx.tree(Table::JournalKeys).remove(key)?;
                }
            }
            Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(())
        })
        .await?;
        Ok(expired.len())
    }
}
