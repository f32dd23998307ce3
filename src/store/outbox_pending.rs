//! Reading the outbox for the sender, at a cost per entry: the start-up scan (the
//! only full read), the rows later commits add (their ids come from the in-memory
//! index, in commit order), one row by id, and the durable "an attempt started" mark
//! that lets the sender find out after a crash whether a post reached Slack.
//!
//! Undecodable rows are reported, never fatal: the sender moves them aside with
//! [`SledStore::quarantine`] and goes on.

use chrono::{DateTime, Utc};

use super::keys::{seq_from_key, seq_key, OUTBOX_COUNTER};
use super::outbox::OutboxEntry;
use super::records;
use super::{SledStore, StoreError, Table};

/// What the sender starts from: every entry committed before it started, in commit
/// order, and the rows that could not be read.
#[derive(Debug, Default)]
pub struct OutboxScan {
    pub entries: Vec<(u64, OutboxEntry)>,
    /// The raw key and why it could not be read.
    pub undecodable: Vec<(Vec<u8>, String)>,
}

impl SledStore {
    /// Every entry that can be read, oldest first (by outbox id, i.e. commit order).
    /// Unreadable rows are left for the sender to quarantine.
    pub fn pending_outbox(&self) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        Ok(self.scan_outbox(u64::MAX)?.entries)
    }

    /// Starts a sender: from now on [`SledStore::take_committed_outbox`] hands out exactly
    /// the entries committed after this call, and the scan returned holds every entry
    /// committed before it (and every unreadable row, wherever it is).
    pub fn outbox_resume(&self) -> Result<OutboxScan, StoreError> {
        let next = {
            let _order = self.inner.outbox_index.lock_order();
            let next = self.outbox_counter()?;
            self.inner.outbox_index.forget_fresh_below(next);
            next
        };
        self.scan_outbox(next)
    }

    /// Ids of entries committed (and flushed) since the last call, in commit order.
    pub fn take_committed_outbox(&self) -> Vec<u64> {
        let flushed = self
            .inner
            .flushed
            .load(std::sync::atomic::Ordering::Acquire);
        self.inner.outbox_index.take_fresh(flushed)
    }

    /// Entry `id` as stored now (`None`: settled). An unreadable row is
    /// [`StoreError::Decode`].
    pub fn outbox_entry(&self, id: u64) -> Result<Option<OutboxEntry>, StoreError> {
        Ok(self
            .read_versioned::<OutboxEntry>(Table::Outbox, &seq_key(id))?
            .map(|r| r.data))
    }

    /// Records, durably, that an attempt to post entry `id` starts now, so that after
    /// a crash the sender looks for the post before sending it again. Returns false
    /// when the entry is already settled. Concurrent marks share one fsync.
    pub async fn outbox_attempt_started(
        &self,
        id: u64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let marked = self
            .transact(|tx| {
                let key = seq_key(id);
                let Some(stored) = tx.read::<OutboxEntry, StoreError>(Table::Outbox, &key)? else {
                    return Ok(false);
                };
                let mut entry = stored.data;
                entry.attempt_started_at.get_or_insert(now);
                entry.maybe_posted = true;
                tx.put::<_, StoreError>(Table::Outbox, &key, &entry)?;
                Ok(true)
            })
            .await?;
        self.flush().await?;
        Ok(marked)
    }

    /// How many entries are queued to `channel_or_user` (the `channel` argument as
    /// queued: a user id for a DM, a channel id), from memory: exact within this
    /// process, rebuilt when the store opens. For capping what one person can queue.
    pub fn outbox_queued_to(&self, channel_or_user: &str) -> usize {
        self.inner.outbox_index.queued_to(channel_or_user)
    }

    /// Entries waiting in the outbox, from memory.
    pub fn outbox_depth(&self) -> usize {
        self.inner.outbox_index.total()
    }

    /// Counts what the outbox holds into the in-memory index (at open).
    pub(crate) fn index_outbox(&self) -> Result<(), StoreError> {
        for (_, entry) in self.scan_outbox(u64::MAX)?.entries {
            self.inner
                .outbox_index
                .count_existing(entry.message.queued_to());
        }
        Ok(())
    }

    /// The next outbox id the counter will hand out.
    fn outbox_counter(&self) -> Result<u64, StoreError> {
        let bytes = self
            .tree(Table::Meta)
            .get(OUTBOX_COUNTER.as_bytes())
            .map_err(|e| StoreError::storage("reading the outbox counter", e))?;
        match bytes.as_deref().map(<[u8; 8]>::try_from) {
            None => Ok(1),
            Some(Ok(be)) => Ok(u64::from_be_bytes(be)),
            Some(Err(_)) => Err(StoreError::decode(
                Table::Meta,
                OUTBOX_COUNTER.as_bytes(),
                "a counter is not 8 bytes",
            )),
        }
    }

    /// Entries with ids below `below`, and every unreadable row.
    fn scan_outbox(&self, below: u64) -> Result<OutboxScan, StoreError> {
        let mut scan = OutboxScan::default();
        for item in self.tree(Table::Outbox).iter() {
            let (key, bytes) = item.map_err(|e| StoreError::storage("reading the outbox", e))?;
            let Some(id) = seq_from_key(&key).filter(|_| key.len() == 8) else {
                scan.undecodable
                    .push((key.to_vec(), "not an 8-byte sequence key".into()));
                continue;
            };
            match records::decode::<OutboxEntry>(&bytes) {
                Ok(entry) if id < below => scan.entries.push((id, entry.data)),
                Ok(_) => {}
                Err(error) => scan.undecodable.push((key.to_vec(), error.to_string())),
            }
        }
        Ok(scan)
    }
}
