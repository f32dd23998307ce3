//! A [`Change`] committed in one PostgreSQL transaction: [`PgStore::commit`],
//! [`PgStore::commit_unhurried`], [`PgStore::commit_all`] and [`PgStore::commit_numbered`].
//!
//! Checking a change locks, in this order: every record it expects, writes or deletes
//! (sorted by table and key), then the journal rows it completes (deleted at once: a
//! row already gone is the conflict), then the outbox counter (all its ids at once)
//! and the audit head. Then the writes run in the order the change lists them. A
//! failed check rolls the transaction (or, in a batch, the change's savepoint) back.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;

use super::audit::Chain;
use super::outbox::Reserved;
use super::records::{lost_insert_race, move_counts, Counts, Locked};
use super::{transaction, Ctx, Mode, PgStore};
use crate::store::change::Op;
use crate::store::keys::{parse_timer_key, FIRST_REQUEST_NUMBER};
use crate::store::outbox::OutboxEntry;
use crate::store::records::Record;
use crate::store::{Change, CommitError, Committed, StoreError, Table};

/// Changes per transaction in [`PgStore::commit_all`]. Each change is a savepoint, a
/// subtransaction: past 64 in one transaction PostgreSQL's subtransaction cache
/// overflows and every snapshot taken meanwhile, in every session, pays for looking
/// them up (`pg_subtrans`), so a 512-change group slowed everything down as it went.
const GROUP: usize = 60;

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
            let committed = apply(&tx, &change, at, None, &mut reserved, &mut counts).await?;
            move_counts(&tx, counts).await?;
            Ok((committed, reserved))
        })?;
        reserved.committed();
        self.wake(std::slice::from_ref(&committed));
        Ok(committed)
    }

    /// Commits a batch in transactions of at most [`GROUP`] changes: each change checked
    /// and written as if alone, in order (a later one sees an earlier one's writes),
    /// one that conflicts or is invalid rolled back to its savepoint without stopping
    /// the others.
    pub async fn commit_all(&self, changes: Vec<Change>) -> Vec<Result<Committed, CommitError>> {
        let mut results = Vec::with_capacity(changes.len());
        let mut changes = changes.into_iter().peekable();
        while changes.peek().is_some() {
            let group: Vec<Change> = changes.by_ref().take(GROUP).collect();
            results.extend(self.commit_group(group).await);
        }
        results
    }

    async fn commit_group(&self, changes: Vec<Change>) -> Vec<Result<Committed, CommitError>> {
        let now = Utc::now();
        let outcome = transaction!(self, Mode::Write, CommitError, |tx| {
            let mut results = Vec::with_capacity(changes.len());
            let mut kept = Vec::new();
            let mut counts = Counts::new();
            for change in &changes {
                tx.batch_execute("SAVEPOINT c1bot_change")
                    .await
                    .ctx("committing a group of changes")?;
                let mut reserved = Reserved::new(&self.inner.outbox_index);
                let at = change.stamp().unwrap_or(now);
                match apply(&tx, change, at, None, &mut reserved, &mut counts).await {
                    Ok(committed) => {
                        tx.batch_execute("RELEASE SAVEPOINT c1bot_change")
                            .await
                            .ctx("committing a group of changes")?;
                        kept.push(reserved);
                        results.push(Ok(committed));
                    }
                    Err(error @ (CommitError::Conflict { .. } | CommitError::Invalid { .. })) => {
                        tx.batch_execute("ROLLBACK TO SAVEPOINT c1bot_change")
                            .await
                            .ctx("committing a group of changes")?;
                        drop(reserved);
                        results.push(Err(error));
                    }
                    Err(error) => return Err(error),
                }
            }
            // The kept changes' counter moves, once per counter for the group.
            move_counts(&tx, counts).await?;
            Ok((results, kept))
        });
        match outcome {
            Ok((results, kept)) => {
                for reserved in kept {
                    reserved.committed();
                }
                let committed: Vec<Committed> = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .cloned()
                    .collect();
                self.wake(&committed);
                results
            }
            Err(error) => changes
                .iter()
                .map(|_| Err(self.copy_error(&error)))
                .collect(),
        }
    }

    /// `error` again, for each change of a failed batch.
    fn copy_error(&self, error: &CommitError) -> CommitError {
        match error {
            CommitError::Conflict { table, key } => CommitError::Conflict {
                table: *table,
                key: key.clone(),
            },
            CommitError::Invalid { detail } => CommitError::Invalid {
                detail: detail.clone(),
            },
            CommitError::Storage(StoreError::Fenced { lease, ours, found }) => {
                CommitError::Storage(StoreError::Fenced {
                    lease: lease.clone(),
                    ours: *ours,
                    found: *found,
                })
            }
            CommitError::Storage(other) => CommitError::Storage(StoreError::Connect {
                database: self.inner.database.clone(),
                detail: format!("the group commit failed: {other}"),
            }),
        }
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
            let committed =
                apply(&tx, &change, at, Some(number), &mut reserved, &mut counts).await?;
            move_counts(&tx, counts).await?;
            Ok((committed, reserved))
        })?;
        reserved.committed();
        self.wake(std::slice::from_ref(&committed));
        Ok(committed)
    }

    /// Wakes the outbox sender and the timer loop for what was committed.
    fn wake(&self, committed: &[Committed]) {
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
        .query_one(
            "UPDATE c1bot_counters SET value = value + $2 WHERE name = $1 RETURNING value - $2",
            &[&name, &n],
        )
        .await
        .ctx("moving a counter")?;
    Ok(row.get(0))
}

/// Checks `change` and writes it in `tx` (see the module docs).
async fn apply(
    tx: &Transaction<'_>,
    change: &Change,
    at: DateTime<Utc>,
    number: Option<u64>,
    reserved: &mut Reserved<'_>,
    counts: &mut Counts,
) -> Result<Committed, CommitError> {
    if let Some(detail) = change.invalid() {
        return Err(CommitError::Invalid {
            detail: detail.to_owned(),
        });
    }
    let mut locked = Locked::default();
    let keys: BTreeMap<(&'static str, &str), Table> = change
        .ops()
        .iter()
        .filter_map(|op| match op {
            Op::Expect { table, key, .. }
            | Op::Put { table, key, .. }
            | Op::Delete { table, key } => Some(((table.name(), key.as_str()), *table)),
            _ => None,
        })
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
                    .execute("DELETE FROM c1bot_journal WHERE id = $1", &[&(id.0 as i64)])
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
    let messages = change.ops().iter().filter(|op| matches!(op, Op::Outbox(_)));
    let count = messages.count() as i64;
    let mut next_id = match count {
        0 => 0,
        n => next_counter(tx, "outbox", n).await?,
    };
    reserved.reserve((next_id..next_id + count).map(|id| id as u64));
    let audits = change.ops().iter().any(|op| matches!(op, Op::Audit(_)));
    let mut chain = match audits {
        true => Some(Chain::lock(tx).await?),
        false => None,
    };
    let mut committed = Committed {
        number,
        ..Committed::default()
    };
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
                if let Err(error) = locked.put(tx, *table, key, *v, idx, json).await {
                    return Err(lost_race(change, *table, key, error));
                }
            }
            Op::Delete { table, key } => locked.delete(tx, *table, key).await?,
            Op::Outbox(message) => {
                let entry = OutboxEntry::new(message.clone(), at);
                let json = entry.encode().map_err(|e| CommitError::Invalid {
                    detail: format!("an outbox entry does not serialize: {e}"),
                })?;
                tx.execute(
                    "INSERT INTO c1bot_outbox (id, v, entry) VALUES ($1, $2, $3::text::jsonb)",
                    &[&next_id, &(OutboxEntry::VERSION as i32), &json],
                )
                .await
                .ctx("queuing an outbox message")?;
                let channel = message.queued_to().map(str::to_owned);
                reserved.describe(next_id as u64, channel.clone());
                committed.outbox_ids.push(next_id as u64);
                committed.outbox_channels.push(channel);
                next_id += 1;
            }
            Op::Audit(event) => {
                if let Some(chain) = chain.as_mut() {
                    committed
                        .audit_seqs
                        .push(chain.append(tx, event, at).await?);
                }
            }
            Op::Timer { key, entry } => {
                let (due, subject, kind) = timer_parts(key)?;
                let json = entry.encode().map_err(|e| CommitError::Invalid {
                    detail: format!("a timer does not serialize: {e}"),
                })?;
                tx.execute(
                    "INSERT INTO c1bot_timers (due_ms, subject, kind, v, entry) \
                     VALUES ($1, $2, $3, $4, $5::text::jsonb) \
                     ON CONFLICT (due_ms, subject, kind) DO UPDATE SET v = EXCLUDED.v, entry = EXCLUDED.entry",
                    &[&due, &subject, &kind, &(crate::store::TimerEntry::VERSION as i32), &json],
                )
                .await
                .ctx("scheduling a timer")?;
                committed.timers_changed = true;
            }
            Op::CancelTimer { key } => {
                let (due, subject, kind) = timer_parts(key)?;
                tx.execute(
                    "DELETE FROM c1bot_timers WHERE due_ms = $1 AND subject = $2 AND kind = $3",
                    &[&due, &subject, &kind],
                )
                .await
                .ctx("cancelling a timer")?;
                committed.timers_changed = true;
            }
        }
    }
    if let Some(chain) = chain {
        chain.save(tx).await?;
    }
    // Last, so a change that fails moves no counter.
    locked.counted_into(counts);
    Ok(committed)
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
