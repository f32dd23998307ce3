//! A [`Change`] committed in one PostgreSQL transaction: [`PgStore::commit`],
//! [`PgStore::commit_unhurried`] and [`PgStore::commit_numbered`]; and the steps every
//! commit shares, group commits ([`super::group`]) included.
//!
//! Checking a change locks, in this order: every record it expects, writes or deletes
//! (sorted by table and key), then the journal rows it completes (deleted at once: a
//! row already gone is the conflict). Then its writes are sent together and run in
//! the order the change lists them ([`super::pipeline`]: one round trip). Last, once
//! per transaction (a group's kept changes together), the outbox counter takes all
//! the ids and the audit head all the entries ([`Deferred`]). A failed check rolls
//! the transaction back (in a group, see there).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;

use super::audit::Chain;
use super::cached::Cached;
use super::outbox::Reserved;
use super::pipeline::{Pipeline, Write};
use super::records::{lost_insert_race, move_counts, Counts, Locked, Stored};
use super::{transaction, Ctx, Mode, PgStore};
use crate::store::change::Op;
use crate::store::keys::{parse_timer_key, FIRST_REQUEST_NUMBER};
use crate::store::outbox::{OutboxEntry, Queued};
use crate::store::records::Record;
use crate::store::{AuditEvent, Change, CommitError, Committed, StoreError, Table};

impl PgStore {
    /// Commits `change` atomically; when this returns `Ok` PostgreSQL has committed it
    /// durably. On `Err` nothing was written (but for a connection lost during COMMIT,
    /// when the outcome is unknown).
    pub async fn commit(&self, change: Change) -> Result<Committed, CommitError> {
        self.commit_in(change, Mode::Write).await
    }

    /// Commits `change` without waiting for the WAL flush (`synchronous_commit = off`):
    /// durable within moments, lost in a server crash. Only for a change whose loss
    /// repeats idempotent work; one with outbox messages or timers waits as usual.
    pub async fn commit_unhurried(&self, change: Change) -> Result<Committed, CommitError> {
        let queues = change.ops().iter().any(|op| {
            matches!(
                op,
                Op::Outbox(_) | Op::Timer { .. } | Op::CancelTimer { .. }
            )
        });
        let mode = if queues {
            Mode::Write
        } else {
            Mode::WriteUnhurried
        };
        self.commit_in(change, mode).await
    }

    async fn commit_in(&self, change: Change, mode: Mode) -> Result<Committed, CommitError> {
        let at = change.stamp().unwrap_or_else(Utc::now);
        let (committed, reserved) = transaction!(self, mode, CommitError, |tx| {
            let mut reserved = Reserved::new(&self.inner.outbox_index);
            let mut counts = Counts::new();
            let mut deferred = Deferred::default();
            let mut locked = Locked::default();
            let mut committed =
                apply(&tx, &change, at, None, 0, &mut deferred, &mut locked).await?;
            locked.counted_into(&mut counts);
            move_counts(&tx, counts).await?;
            for (_, assigned) in write_deferred(&tx, deferred, &mut reserved).await? {
                assigned.record(&mut committed);
            }
            Ok((committed, reserved))
        })?;
        reserved.committed();
        self.wake(std::slice::from_ref(&committed));
        Ok(committed)
    }

    /// Like [`PgStore::commit`], for a change that needs a new request number: `build`
    /// gets the next number (1001, 1002, …) in the transaction that commits it, so
    /// numbers have no gaps; a failed `build`, an empty change or a conflict rolls the
    /// number back with the rest. `build` may run more than once.
    pub async fn commit_numbered(
        &self,
        build: impl Fn(u64) -> Result<Change, String>,
    ) -> Result<Committed, CommitError> {
        let now = Utc::now();
        let (committed, reserved) = transaction!(self, Mode::Write, CommitError, |tx| {
            let number = next_counter(&tx, "request", 1).await?;
            let number = u64::try_from(number).unwrap_or(FIRST_REQUEST_NUMBER);
            let change = build(number).map_err(|detail| CommitError::Invalid { detail })?;
            if change.is_empty() {
                return Err(CommitError::Invalid {
                    detail: "a numbered commit with nothing in it".into(),
                });
            }
            let mut reserved = Reserved::new(&self.inner.outbox_index);
            let at = change.stamp().unwrap_or(now);
            let mut counts = Counts::new();
            let mut deferred = Deferred::default();
            let mut locked = Locked::default();
            let mut committed = apply(
                &tx,
                &change,
                at,
                Some(number),
                0,
                &mut deferred,
                &mut locked,
            )
            .await?;
            locked.counted_into(&mut counts);
            move_counts(&tx, counts).await?;
            for (_, assigned) in write_deferred(&tx, deferred, &mut reserved).await? {
                assigned.record(&mut committed);
            }
            Ok((committed, reserved))
        })?;
        reserved.committed();
        self.wake(std::slice::from_ref(&committed));
        Ok(committed)
    }

    /// Wakes the outbox sender and the timer loop for what was committed.
    pub(super) fn wake(&self, committed: &[Committed]) {
        if committed.iter().any(|c| !c.outbox_ids.is_empty()) {
            self.inner.outbox_ready.notify_one();
        }
        if committed.iter().any(|c| c.timers_changed) {
            self.inner.timers_changed.notify_one();
        }
    }
}

/// Moves counter `name` on by `n`; returns the first of the `n` values it handed out.
pub(super) async fn next_counter(
    tx: &Transaction<'_>,
    name: &str,
    n: i64,
) -> Result<i64, StoreError> {
    let row = tx
        .query_one_cached(
            "UPDATE c1bot_counters SET value = value + $2 WHERE name = $1 RETURNING value - $2",
            &[&name, &n],
        )
        .await
        .ctx("moving a counter")?;
    Ok(row.get(0))
}

/// Checks `change` and writes it in `tx` (see the module docs), locking through
/// `locked`; the caller moves `locked`'s counted entries once the change is kept, so
/// a change that fails moves no counter.
pub(super) async fn apply<'c>(
    tx: &Transaction<'_>,
    change: &'c Change,
    at: DateTime<Utc>,
    number: Option<u64>,
    slot: usize,
    deferred: &mut Deferred<'c>,
    locked: &mut Locked,
) -> Result<Committed, CommitError> {
    let (committed, pipeline) = prepare(tx, change, at, number, slot, deferred, locked).await?;
    pipeline
        .run(tx)
        .await
        .map_err(|failed| match failed.creating {
            Some((table, key)) => lost_race(change, table, &key, failed.error),
            None => CommitError::Storage(failed.error),
        })?;
    Ok(committed)
}

/// Checks `change` and lists its writes, to be sent together; only a journal row it
/// completes is deleted at once (its absence is the conflict).
pub(super) async fn prepare<'c>(
    tx: &Transaction<'_>,
    change: &'c Change,
    at: DateTime<Utc>,
    number: Option<u64>,
    slot: usize,
    deferred: &mut Deferred<'c>,
    locked: &mut Locked,
) -> Result<(Committed, Pipeline), CommitError> {
    if let Some(detail) = change.invalid() {
        return Err(CommitError::Invalid {
            detail: detail.to_owned(),
        });
    }
    let keys: BTreeMap<(&'static str, &str), Table> = records_of(change, true)
        .map(|(table, key)| ((table.name(), key), table))
        .collect();
    for ((_, key), table) in &keys {
        locked.lock(tx, *table, key).await?;
    }
    for op in change.ops() {
        match op {
            Op::Expect { table, key, rev } if locked.lock(tx, *table, key).await? != *rev => {
                return Err(CommitError::Conflict {
                    table: *table,
                    key: key.clone(),
                });
            }
            Op::JournalDone(id) => {
                let removed = tx
                    .execute_cached("DELETE FROM c1bot_journal WHERE id = $1", &[&(id.0 as i64)])
                    .await
                    .ctx("completing a journal row")?;
                if removed == 0 {
                    return Err(CommitError::Conflict {
                        table: Table::Journal,
                        key: id.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    let mut committed = Committed {
        number,
        ..Committed::default()
    };
    // The writes go to the server together (see `pipeline`); only the locks above
    // waited for their answers.
    let mut pipeline = Pipeline::default();
    for op in change.ops() {
        match op {
            Op::Expect { .. } | Op::JournalDone(_) => {}
            Op::Put {
                table,
                key,
                v,
                idx,
                json,
            } => {
                let stored = Stored { v: *v, idx, json };
                locked
                    .put_into(tx, *table, key, stored, &mut pipeline)
                    .await?;
            }
            Op::Delete { table, key } => {
                locked.delete_into(tx, *table, key, &mut pipeline).await?;
            }
            Op::Outbox(queued) => deferred.messages.push((slot, queued, at)),
            Op::Audit(event) => deferred.events.push((slot, event, at)),
            Op::Timer { key, entry } => {
                let (due, subject, kind) = timer_parts(key)?;
                let json = entry.encode().map_err(|e| CommitError::Invalid {
                    detail: format!("a timer does not serialize: {e}"),
                })?;
                pipeline.push(Write::PutTimer {
                    due,
                    subject,
                    kind,
                    v: crate::store::TimerEntry::VERSION as i32,
                    json,
                });
                committed.timers_changed = true;
            }
            Op::CancelTimer { key } => {
                let (due, subject, kind) = timer_parts(key)?;
                pipeline.push(Write::CancelTimer { due, subject, kind });
                committed.timers_changed = true;
            }
        }
    }
    Ok((committed, pipeline))
}

/// The outbox messages and audit events of the changes a transaction keeps, written
/// at its end: the outbox counter and the audit head move once per transaction, not
/// once per change. (Each update leaves a dead row version that every later update in
/// the transaction walks: moved per change, a 10,000-expiry burst slowed down as it
/// went.) Rows go in one statement each, in change order.
#[derive(Default)]
pub(super) struct Deferred<'c> {
    messages: Vec<(usize, &'c Queued, DateTime<Utc>)>,
    events: Vec<(usize, &'c AuditEvent, DateTime<Utc>)>,
}

impl<'c> Deferred<'c> {
    /// Adds a kept change's own.
    pub(super) fn keep(&mut self, own: Deferred<'c>) {
        self.messages.extend(own.messages);
        self.events.extend(own.events);
    }
}

/// What [`write_deferred`] gave the change in one slot.
pub(super) enum Assigned {
    Outbox(u64, Option<String>),
    Audit(u64),
}

impl Assigned {
    pub(super) fn record(self, committed: &mut Committed) {
        match self {
            Assigned::Outbox(id, channel) => {
                committed.outbox_ids.push(id);
                committed.outbox_channels.push(channel);
            }
            Assigned::Audit(seq) => committed.audit_seqs.push(seq),
        }
    }
}

/// Queues `deferred`'s messages under consecutive outbox ids and appends its events to
/// the audit chain; returns what each slot was given, in order.
pub(super) async fn write_deferred(
    tx: &Transaction<'_>,
    deferred: Deferred<'_>,
    reserved: &mut Reserved<'_>,
) -> Result<Vec<(usize, Assigned)>, CommitError> {
    let mut assigned = Vec::new();
    if !deferred.messages.is_empty() {
        let count = deferred.messages.len() as i64;
        let first = next_counter(tx, "outbox", count).await?;
        reserved.reserve((first..first + count).map(|id| id as u64));
        let (mut ids, mut entries) = (Vec::new(), Vec::new());
        for (id, (slot, queued, at)) in (first..).zip(deferred.messages) {
            entries.push(queued.entry_json(at).map_err(|e| CommitError::Invalid {
                detail: format!("an outbox entry does not serialize: {e}"),
            })?);
            ids.push(id);
            let channel = queued.queued_to.clone();
            reserved.describe(id as u64, channel.clone());
            assigned.push((slot, Assigned::Outbox(id as u64, channel)));
        }
        tx.execute_cached(
            "INSERT INTO c1bot_outbox (id, v, entry) \
             SELECT id, $2, entry::json FROM UNNEST($1::bigint[], $3::text[]) AS t(id, entry)",
            &[&ids, &(OutboxEntry::VERSION as i32), &entries],
        )
        .await
        .ctx("queuing outbox messages")?;
    }
    if !deferred.events.is_empty() {
        let mut chain = Chain::lock(tx).await?;
        let (mut seqs, mut entries) = (Vec::new(), Vec::new());
        for (slot, event, at) in deferred.events {
            let (seq, entry) = chain.next(event, at)?;
            seqs.push(seq as i64);
            entries.push(entry);
            assigned.push((slot, Assigned::Audit(seq)));
        }
        tx.execute_cached(
            "INSERT INTO c1bot_audit (seq, entry) SELECT * FROM UNNEST($1::bigint[], $2::text[])",
            &[&seqs, &entries],
        )
        .await
        .ctx("appending to the audit log")?;
        chain.save(tx).await?;
    }
    Ok(assigned)
}

/// The records `change` writes or deletes, and with `expected` also those it only
/// expects.
pub(super) fn records_of(change: &Change, expected: bool) -> impl Iterator<Item = (Table, &str)> {
    change.ops().iter().filter_map(move |op| match op {
        Op::Expect { table, key, .. } if expected => Some((*table, key.as_str())),
        Op::Put { table, key, .. } | Op::Delete { table, key } => Some((*table, key.as_str())),
        _ => None,
    })
}

/// A timer key's parts, with the due time as the database's `bigint`.
fn timer_parts(key: &[u8]) -> Result<(i64, String, String), CommitError> {
    let (due, subject, kind) = parse_timer_key(key).ok_or_else(|| CommitError::Invalid {
        detail: "not a timer key".into(),
    })?;
    Ok((i64::try_from(due).unwrap_or(i64::MAX), subject, kind))
}

/// A put that lost the race to create `key`: a conflict when the change expected the
/// key's state (it changed), else the error, which retries the transaction.
fn lost_race(change: &Change, table: Table, key: &str, error: StoreError) -> CommitError {
    let expected = change
        .ops()
        .iter()
        .any(|op| matches!(op, Op::Expect { table: t, key: k, .. } if *t == table && k == key));
    if expected && lost_insert_race(&error) {
        CommitError::Conflict {
            table,
            key: key.to_owned(),
        }
    } else {
        CommitError::Storage(error)
    }
}
