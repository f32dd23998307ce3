//! [`Change`]: everything one state transition writes, committed as one sled
//! transaction by [`super::SledStore::commit`]: expectations (compare-and-set on a
//! record's revision), record writes and deletes, outbox messages, audit events, and
//! timers scheduled or cancelled.
//!
//! The builder validates and serializes eagerly, outside the transaction; applying
//! is a pure function of the builder and the transaction view, so sled may rerun it.

use chrono::{DateTime, Utc};
use sled::transaction::ConflictableTransactionError;

use super::audit::AuditEvent;
use super::journal::JournalId;
use super::keys::{self, seq_key, timer_key, OUTBOX_COUNTER, RESERVED_META_PREFIX};
use super::outbox::{OutboxEntry, OutboxMessage, Queued};
use super::records::{IndexKey, Record};
use super::timers::TimerEntry;
use super::tx::{abort_with, Tx, TxResult};
use super::{CommitError, StoreError, Table};

/// One atomic state change and its consequences. Build with the chained methods; a
/// mistake (reserved key, index table, unserializable record) is reported by `commit`
/// as [`CommitError::Invalid`] and nothing is written.
#[derive(Debug, Clone, Default)]
pub struct Change {
    at: Option<DateTime<Utc>>,
    ops: Vec<Op>,
    invalid: Option<String>,
}

/// One operation of a [`Change`], in the order it was added (read by each backend's
/// commit path).
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Expect {
        table: Table,
        key: String,
        rev: Option<u64>,
    },
    Put {
        table: Table,
        key: String,
        v: u32,
        /// The record's index entries, as stored (see `IndexKey::stored`).
        idx: Vec<String>,
        json: String,
    },
    Delete {
        table: Table,
        key: String,
    },
    Outbox(Queued),
    Audit(AuditEvent),
    Timer {
        key: Vec<u8>,
        entry: TimerEntry,
    },
    CancelTimer {
        key: Vec<u8>,
    },
    /// Removes a journal row: this change is what processing its envelope did.
    JournalDone(JournalId),
}

/// What a commit allocated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Committed {
    /// The request number, for [`super::SledStore::commit_numbered`].
    pub number: Option<u64>,
    pub outbox_ids: Vec<u64>,
    /// Beside each outbox id, the conversation it is queued to (its `channel`
    /// argument), for the store's in-memory outbox index.
    pub(crate) outbox_channels: Vec<Option<String>>,
    pub audit_seqs: Vec<u64>,
    /// Whether a timer was scheduled or cancelled.
    pub timers_changed: bool,
}

impl Change {
    pub fn new() -> Self {
        Self::default()
    }

    /// The instant stamped on audit entries and outbox messages (default: the clock at
    /// commit). Lets a caller that takes `now` as a parameter stay deterministic.
    pub fn at(mut self, now: DateTime<Utc>) -> Self {
        self.at = Some(now);
        self
    }

    pub(crate) fn stamp(&self) -> Option<DateTime<Utc>> {
        self.at
    }

    /// The operations, in the order they were added.
    pub(crate) fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Why this change cannot be committed, if it cannot.
    pub(crate) fn invalid(&self) -> Option<&str> {
        self.invalid.as_deref()
    }

    /// Aborts the commit with [`CommitError::Conflict`] unless `key`'s revision is
    /// `rev` (`None`: unless `key` is absent). Checked before any write of this change.
    pub fn expect(mut self, table: Table, key: impl Into<String>, rev: Option<u64>) -> Self {
        let key = key.into();
        self.check_record_key(table, &key);
        self.ops.push(Op::Expect { table, key, rev });
        self
    }

    /// Writes `record` in its envelope under the next revision.
    pub fn put<R: Record>(mut self, table: Table, key: impl Into<String>, record: &R) -> Self {
        let key = key.into();
        self.check_record_key(table, &key);
        match record.encode() {
            Ok(json) => self.ops.push(Op::Put {
                table,
                key,
                v: R::VERSION,
                idx: record.index().iter().map(IndexKey::stored).collect(),
                json,
            }),
            Err(e) => self.invalidate(format!(
                "the record for {table} {key:?} does not serialize: {e}"
            )),
        }
        self
    }

    pub fn delete(mut self, table: Table, key: impl Into<String>) -> Self {
        let key = key.into();
        self.check_record_key(table, &key);
        self.ops.push(Op::Delete { table, key });
        self
    }

    /// Queues a Web API call, delivered after the commit by the outbox sender. The
    /// message is encoded now, not in the commit's transaction.
    pub fn outbox(mut self, message: OutboxMessage) -> Self {
        match Queued::new(message) {
            Ok(queued) => self.ops.push(Op::Outbox(queued)),
            Err(e) => self.invalidate(format!("an outbox message does not serialize: {e}")),
        }
        self
    }

    pub fn audit(mut self, event: AuditEvent) -> Self {
        self.ops.push(Op::Audit(event));
        self
    }

    /// Schedules `entry` at `due`. The same (due, subject, kind) twice is one timer.
    pub fn timer(mut self, due: DateTime<Utc>, entry: TimerEntry) -> Self {
        self.check_timer(&entry.subject, &entry.kind);
        let key = timer_key(due, &entry.subject, &entry.kind);
        self.ops.push(Op::Timer { key, entry });
        self
    }

    /// Removes the timer scheduled at `due` for (`subject`, `kind`); absent is fine.
    pub fn cancel_timer(mut self, due: DateTime<Utc>, subject: &str, kind: &str) -> Self {
        self.check_timer(subject, kind);
        let key = timer_key(due, subject, kind);
        self.ops.push(Op::CancelTimer { key });
        self
    }

    /// Marks journal row `id` processed by this change: the commit fails with a
    /// [`CommitError::Conflict`] on the `journal` table when the row is already
    /// gone (processed by someone else), so an envelope's effect commits once.
    pub fn completes(mut self, id: JournalId) -> Self {
        self.ops.push(Op::JournalDone(id));
        self
    }

    /// Appends every operation of `other` (its stamp is ignored; a problem in it
    /// makes this change invalid too).
    pub fn and(mut self, other: Change) -> Self {
        if let Some(detail) = other.invalid {
            self.invalidate(detail);
        }
        self.ops.extend(other.ops);
        self
    }

    /// The journal rows this change completes.
    pub fn journal_rows(&self) -> Vec<JournalId> {
        self.ops
            .iter()
            .filter_map(|op| match op {
                Op::JournalDone(id) => Some(*id),
                _ => None,
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    fn invalidate(&mut self, detail: String) {
        self.invalid.get_or_insert(detail);
    }

    fn check_record_key(&mut self, table: Table, key: &str) {
        if !table.holds_records() {
            self.invalidate(format!(
                "{table} is an index the store maintains; use outbox/audit/timer instead"
            ));
        } else if table == Table::Meta && key.starts_with(RESERVED_META_PREFIX) {
            self.invalidate(format!(
                "meta keys under {RESERVED_META_PREFIX:?} are the store's own: {key:?}"
            ));
        }
    }

    fn check_timer(&mut self, subject: &str, kind: &str) {
        let check = keys::check_timer_part("subject", subject)
            .and_then(|()| keys::check_timer_part("kind", kind));
        if let Err(detail) = check {
            self.invalidate(detail);
        }
    }
}

/// Applies `change` inside a transaction: every expectation first, then the writes in
/// the order they were added. A failed expectation or an invalid change aborts.
pub(crate) fn apply(
    tx: &Tx<'_>,
    change: &Change,
    at: DateTime<Utc>,
    number: Option<u64>,
) -> TxResult<Committed, CommitError> {
    if let Err(error) = check(tx, change)? {
        return Err(ConflictableTransactionError::Abort(error));
    }
    write(tx, change, at, number)
}

/// Whether `change` may be written in this transaction: it is valid and every
/// expectation holds (`Ok(Err(..))` otherwise; the transaction goes on).
pub(crate) fn check(
    tx: &Tx<'_>,
    change: &Change,
) -> TxResult<Result<(), CommitError>, CommitError> {
    if let Some(detail) = &change.invalid {
        return Ok(Err(CommitError::Invalid {
            detail: detail.clone(),
        }));
    }
    for op in &change.ops {
        let conflict = match op {
            Op::Expect { table, key, rev } => {
                (tx.revision::<CommitError>(*table, key.as_bytes())? != *rev)
                    .then(|| (*table, key.clone()))
            }
            Op::JournalDone(id) => tx
                .tree(Table::Journal)
                .get(seq_key(id.0))?
                .is_none()
                .then(|| (Table::Journal, id.to_string())),
            _ => None,
        };
        if let Some((table, key)) = conflict {
            return Ok(Err(CommitError::Conflict { table, key }));
        }
    }
    Ok(Ok(()))
}

/// Writes `change`, whose [`check`] passed, in this transaction.
pub(crate) fn write(
    tx: &Tx<'_>,
    change: &Change,
    at: DateTime<Utc>,
    number: Option<u64>,
) -> TxResult<Committed, CommitError> {
    let mut committed = Committed {
        number,
        ..Committed::default()
    };
    for op in &change.ops {
        match op {
            Op::Expect { .. } => {}
            Op::JournalDone(id) => {
                tx.tree(Table::Journal).remove(&seq_key(id.0))?;
            }
            Op::Put {
                table,
                key,
                v,
                idx,
                json,
            } => {
                tx.put_json::<CommitError>(*table, key.as_bytes(), *v, idx, json)?;
            }
            Op::Delete { table, key } => {
                tx.delete::<CommitError>(*table, key.as_bytes())?;
            }
            Op::Outbox(queued) => {
                let id = tx.next_counter::<CommitError>(OUTBOX_COUNTER, 1)?;
                let json = match queued.entry_json(at) {
                    Ok(json) => json,
                    Err(e) => {
                        return abort_with(StoreError::decode(Table::Outbox, &seq_key(id), e))
                    }
                };
                tx.put_json::<CommitError>(
                    Table::Outbox,
                    &seq_key(id),
                    OutboxEntry::VERSION,
                    &[],
                    &json,
                )?;
                committed.outbox_ids.push(id);
                committed.outbox_channels.push(queued.queued_to.clone());
            }
            Op::Audit(event) => {
                committed
                    .audit_seqs
                    .push(tx.append_audit::<CommitError>(event, at)?);
            }
            Op::Timer { key, entry } => {
                tx.put_timer::<CommitError>(key, entry)?;
                committed.timers_changed = true;
            }
            Op::CancelTimer { key } => {
                tx.cancel_timer::<CommitError>(key)?;
                committed.timers_changed = true;
            }
        }
    }
    Ok(committed)
}
