//! The view a transaction closure gets: typed helpers over sled's `TransactionalTree`s
//! for versioned records, gap-free counters and audit appends.
//!
//! Everything here runs inside a sled transaction whose closure may run more than once,
//! so it only reads and writes the transaction's trees: no I/O, no clocks, no outside
//! state. sled offers no range scans inside a transaction, which is why counters and
//! the audit head are single keys in `meta`.

use std::cell::RefCell;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

use super::audit::{self, AuditEvent, AuditHead, GENESIS_HASH};
use super::keys::{count_key, index_prefix, seq_key, timer_window, AUDIT_HEAD, OUTBOX_COUNTER};
use super::outbox::{OutboxEntry, OutboxMessage};
use super::packed_tx::{Group, PackedWrites};
use super::records::{self, IndexKey, Record, Versioned};
use super::timers::TimerEntry;
use super::{StoreError, Table};

pub(crate) type TxResult<T, E> = Result<T, ConflictableTransactionError<E>>;

/// Aborts the transaction with a store error.
pub(crate) fn abort_with<T, E: From<StoreError>>(error: StoreError) -> TxResult<T, E> {
    Err(ConflictableTransactionError::Abort(E::from(error)))
}

pub(crate) struct Tx<'a> {
    pub(crate) trees: &'a [TransactionalTree],
    /// Packed buckets read and changed so far, written out when the closure succeeds.
    pub(crate) packed: PackedWrites,
    /// Record headers this view has read or written (`None`: absent), kept in step
    /// with every record write made through it ([`Tx::put_json`], [`Tx::delete`]):
    /// a change's expectation and its write then parse the stored record once. Lives
    /// as long as the view, so a closure that sled runs again starts without it.
    headers: RefCell<HashMap<RecordAt, Option<records::Header>>>,
}

/// A record's table and key.
type RecordAt = (Table, Vec<u8>);

impl<'a> Tx<'a> {
    pub(crate) fn new(trees: &'a [TransactionalTree]) -> Self {
        Tx {
            trees,
            packed: PackedWrites::default(),
            headers: RefCell::default(),
        }
    }

    /// The packed group `prefix` of `table` (index entries, timer windows).
    pub(crate) fn group<'g>(&'g self, table: Table, prefix: &'g [u8]) -> Group<'g> {
        Group {
            writes: &self.packed,
            tree: self.tree(table),
            table,
            prefix,
        }
    }

    /// Schedules `entry` under the timer key `key` (replacing the same key).
    pub(crate) fn put_timer<E: From<StoreError>>(
        &self,
        key: &[u8],
        entry: &TimerEntry,
    ) -> TxResult<(), E> {
        let Some(window) = timer_window(key) else {
            return abort_with(StoreError::decode(Table::Timers, key, "not a timer key"));
        };
        let json = match entry.encode() {
            Ok(json) => json,
            Err(e) => return abort_with(StoreError::decode(Table::Timers, key, e)),
        };
        let value = records::envelope(TimerEntry::VERSION, 1, &[], &json);
        self.group(Table::Timers, &window)
            .insert::<E>(key, &value)?;
        Ok(())
    }

    /// Cancels the timer under `key`; returns its stored bytes if it was scheduled.
    pub(crate) fn cancel_timer<E: From<StoreError>>(
        &self,
        key: &[u8],
    ) -> TxResult<Option<Vec<u8>>, E> {
        let Some(window) = timer_window(key) else {
            return Ok(None);
        };
        self.group(Table::Timers, &window).remove::<E>(key)
    }
    pub(crate) fn tree(&self, table: Table) -> &TransactionalTree {
        &self.trees[table.index()]
    }

    pub(crate) fn read<T: Record, E: From<StoreError>>(
        &self,
        table: Table,
        key: &[u8],
    ) -> TxResult<Option<Versioned<T>>, E> {
        let Some(bytes) = self.tree(table).get(key)? else {
            return Ok(None);
        };
        match records::decode(&bytes) {
            Ok(record) => Ok(Some(record)),
            Err(e) => abort_with(StoreError::decode(table, key, e)),
        }
    }

    /// The stored revision of `key` (`None` when absent).
    pub(crate) fn revision<E: From<StoreError>>(
        &self,
        table: Table,
        key: &[u8],
    ) -> TxResult<Option<u64>, E> {
        Ok(self.header::<E>(table, key)?.map(|h| h.rev))
    }

    /// The revision and index entries stored under `key` (`None` when absent).
    fn header<E: From<StoreError>>(
        &self,
        table: Table,
        key: &[u8],
    ) -> TxResult<Option<records::Header>, E> {
        let at = (table, key.to_vec());
        if let Some(known) = self.headers.borrow().get(&at) {
            return Ok(known.clone());
        }
        let header = match self.tree(table).get(key)? {
            None => None,
            Some(bytes) => match records::header(&bytes) {
                Ok(header) => Some(header),
                Err(e) => return abort_with(StoreError::decode(table, key, e)),
            },
        };
        self.headers.borrow_mut().insert(at, header.clone());
        Ok(header)
    }

    /// Writes `data_json` (already serialized) under the next revision with its index
    /// entries `idx` (as stored), moving the index rows and counters from the entries
    /// the record had to the ones it has; returns the new revision.
    pub(crate) fn put_json<E: From<StoreError>>(
        &self,
        table: Table,
        key: &[u8],
        v: u32,
        idx: &[String],
        data_json: &str,
    ) -> TxResult<u64, E> {
        let old = self.header::<E>(table, key)?;
        let rev = old.as_ref().map_or(0, |h| h.rev) + 1;
        let before = old.map(|h| h.idx).unwrap_or_default();
        self.move_index::<E>(table, key, &before, idx)?;
        self.tree(table)
            .insert(key, records::envelope(v, rev, idx, data_json))?;
        let header = records::Header {
            rev,
            idx: idx.to_vec(),
        };
        self.headers
            .borrow_mut()
            .insert((table, key.to_vec()), Some(header));
        Ok(rev)
    }

    /// Removes the record under `key` with its index rows and counts.
    pub(crate) fn delete<E: From<StoreError>>(&self, table: Table, key: &[u8]) -> TxResult<(), E> {
        if let Some(old) = self.header::<E>(table, key)? {
            self.move_index::<E>(table, key, &old.idx, &[])?;
        }
        self.tree(table).remove(key)?;
        self.headers
            .borrow_mut()
            .insert((table, key.to_vec()), None);
        Ok(())
    }

    /// Index rows and counters from entries `before` to entries `after` for `key`.
    fn move_index<E: From<StoreError>>(
        &self,
        table: Table,
        key: &[u8],
        before: &[String],
        after: &[String],
    ) -> TxResult<(), E> {
        if before == after {
            return Ok(());
        }
        let (gone, new) = records::index_moves(before, after);
        for gone in gone {
            let entry = IndexKey::from_stored(gone);
            // Also for a counted entry: stores written before counted entries lost
            // their rows still have one.
            let prefix = index_prefix(table, &entry.name);
            self.group(Table::Index, &prefix).remove::<E>(key)?;
            if entry.counted {
                self.add_to_counter::<E>(&count_key(table, &entry.name), -1)?;
            }
        }
        for new in new {
            let entry = IndexKey::from_stored(new);
            // A counted entry is a counter only: nothing looks records up by it, and a
            // row per record would double the index (and sled's memory) for nothing.
            if entry.counted {
                self.add_to_counter::<E>(&count_key(table, &entry.name), 1)?;
            } else {
                let prefix = index_prefix(table, &entry.name);
                self.group(Table::Index, &prefix).insert::<E>(key, &[])?;
            }
        }
        Ok(())
    }

    /// Adds `by` to a counter in `meta` (never below zero).
    fn add_to_counter<E: From<StoreError>>(&self, name: &str, by: i64) -> TxResult<(), E> {
        let meta = self.tree(Table::Meta);
        let current = meta
            .get(name.as_bytes())?
            .and_then(|b| <[u8; 8]>::try_from(b.as_ref()).ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0);
        let next = current.saturating_add_signed(by);
        meta.insert(name.as_bytes(), &next.to_be_bytes())?;
        Ok(())
    }

    pub(crate) fn put<R: Record, E: From<StoreError>>(
        &self,
        table: Table,
        key: &[u8],
        record: &R,
    ) -> TxResult<u64, E> {
        let idx: Vec<String> = record.index().iter().map(IndexKey::stored).collect();
        match record.encode() {
            Ok(json) => self.put_json(table, key, R::VERSION, &idx, &json),
            Err(e) => abort_with(StoreError::decode(table, key, e)),
        }
    }

    /// Returns the counter's current value (`first` if never used) and stores the next,
    /// in this transaction: numbers are gap-free and never handed out twice.
    pub(crate) fn next_counter<E: From<StoreError>>(
        &self,
        name: &str,
        first: u64,
    ) -> TxResult<u64, E> {
        let meta = self.tree(Table::Meta);
        let current = match meta.get(name.as_bytes())? {
            None => first,
            Some(bytes) => match <[u8; 8]>::try_from(bytes.as_ref()) {
                Ok(be) => u64::from_be_bytes(be),
                Err(_) => {
                    return abort_with(StoreError::decode(
                        Table::Meta,
                        name.as_bytes(),
                        "a counter is not 8 bytes",
                    ))
                }
            },
        };
        meta.insert(name.as_bytes(), &(current + 1).to_be_bytes())?;
        Ok(current)
    }

    /// Queues `messages` in the outbox at `now`; returns each new id with the
    /// conversation it is queued to, for the sender's index.
    pub(crate) fn queue_outbox<E: From<StoreError>>(
        &self,
        messages: &[OutboxMessage],
        now: DateTime<Utc>,
    ) -> TxResult<Vec<(u64, Option<String>)>, E> {
        let mut queued = Vec::with_capacity(messages.len());
        for message in messages {
            let id = self.next_counter::<E>(OUTBOX_COUNTER, 1)?;
            self.put::<_, E>(
                Table::Outbox,
                &seq_key(id),
                &OutboxEntry::new(message.clone(), now),
            )?;
            queued.push((id, message.queued_to().map(str::to_owned)));
        }
        Ok(queued)
    }

    /// Appends one chained entry and moves the head; returns its seq.
    pub(crate) fn append_audit<E: From<StoreError>>(
        &self,
        event: &AuditEvent,
        at: DateTime<Utc>,
    ) -> TxResult<u64, E> {
        let head = self.read::<AuditHead, E>(Table::Meta, AUDIT_HEAD.as_bytes())?;
        let (seq, prev_hash) = match head {
            Some(head) => (head.data.seq + 1, head.data.hash),
            None => (1, GENESIS_HASH.to_owned()),
        };
        let (bytes, hash) = audit::build_entry(seq, at, &prev_hash, event);
        self.tree(Table::Audit).insert(&seq_key(seq), bytes)?;
        self.put(Table::Meta, AUDIT_HEAD.as_bytes(), &AuditHead { seq, hash })?;
        Ok(seq)
    }
}
