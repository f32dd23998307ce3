//! Group commits ([`PgStore::commit_all`]): many changes, each checked and written as
//! if alone, in order (a later one sees an earlier one's writes), one that conflicts
//! or is invalid left out without stopping the others.
//!
//! A group is first tried **at once**: one transaction for up to [`AT_ONCE`]
//! changes, every record they touch locked by one statement, each change's writes
//! sent together, no savepoints. A change that fails its check (an expectation, an
//! invalid change) has written nothing, so it is simply left out. Only a change that
//! fails after writing (a write the server refused, a record another transaction
//! created first) needs undoing: then the transaction rolls back and the group is
//! committed again with **a savepoint per change**, in transactions of [`GROUP`].
//! Changes that complete journal rows (which delete as they check) always take the
//! savepoint path. The outbox counter and audit head move once per transaction.
//!
//! An at-once transaction checks every change against its view of the locked records
//! (kept up to date by each kept change) and sends the writes last, netted and
//! set-based ([`super::net`]). A large group whose two halves share no record or
//! timer is committed as two such transactions at once ([`super::halves`]).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use deadpool_postgres::Transaction;

use super::commit::{apply, prepare, records_of, write_deferred, Deferred};
use super::halves;
use super::net::NetWrites;
use super::outbox::Reserved;
use super::records::{move_counts, Counts, Locked, Prefetched};
use super::{transaction, Ctx, Mode, PgStore, Retry};
use crate::store::change::Op;
use crate::store::{Change, CommitError, Committed, StoreError, Table};

/// Changes per at-once transaction (one flush of the WAL each).
const AT_ONCE: usize = 1024;

/// Changes per transaction in [`PgStore::commit_all`]. Each change is a savepoint, a
/// subtransaction: past 64 in one transaction PostgreSQL's subtransaction cache
/// overflows and every snapshot taken meanwhile, in every session, pays for looking
/// them up (`pg_subtrans`), so a 512-change group slowed everything down as it went.
const GROUP: usize = 60;

/// Why a group could not commit at once.
enum AtOnce {
    /// A change failed after it wrote: the group needs a savepoint per change.
    NeedsSavepoints,
    Failed(CommitError),
}

impl From<StoreError> for AtOnce {
    fn from(error: StoreError) -> Self {
        AtOnce::Failed(CommitError::Storage(error))
    }
}

impl From<CommitError> for AtOnce {
    fn from(error: CommitError) -> Self {
        AtOnce::Failed(error)
    }
}

impl Retry for AtOnce {
    fn retryable(&self) -> bool {
        matches!(self, AtOnce::Failed(error) if error.retryable())
    }
}

/// One result per change, in order.
type Results = Vec<Result<Committed, CommitError>>;

impl PgStore {
    /// Commits `changes` as the module docs say; one result per change, in order.
    pub async fn commit_all(&self, mut changes: Vec<Change>) -> Results {
        if halves::independent(&changes) {
            let second = changes.split_off(changes.len() / 2);
            let (mut first, second) =
                tokio::join!(self.commit_in_order(changes), self.commit_in_order(second));
            first.extend(second);
            return first;
        }
        self.commit_in_order(changes).await
    }

    /// `changes` one group of [`AT_ONCE`] after another.
    async fn commit_in_order(&self, changes: Vec<Change>) -> Results {
        let mut results = Vec::with_capacity(changes.len());
        let mut changes = changes.into_iter().peekable();
        while changes.peek().is_some() {
            let group: Vec<Change> = changes.by_ref().take(AT_ONCE).collect();
            let completes_journal = group
                .iter()
                .any(|c| c.ops().iter().any(|op| matches!(op, Op::JournalDone(_))));
            let done = if completes_journal {
                None
            } else {
                self.commit_at_once(&group).await
            };
            match done {
                Some(done) => results.extend(done),
                None => {
                    let mut group = group.into_iter().peekable();
                    while group.peek().is_some() {
                        let part: Vec<Change> = group.by_ref().take(GROUP).collect();
                        results.extend(self.commit_with_savepoints(part).await);
                    }
                }
            }
        }
        results
    }

    /// `changes` in one transaction without savepoints; `None` when one of them
    /// failed after writing (nothing was committed).
    async fn commit_at_once(&self, changes: &[Change]) -> Option<Results> {
        let now = Utc::now();
        let outcome = transaction!(self, Mode::Write, AtOnce, |tx| {
            let mut group = Group::lock(&tx, changes).await?;
            let mut writes = NetWrites::default();
            for (slot, change) in changes.iter().enumerate() {
                let (at, mut own, mut locked) = group.begin(change, now);
                // Every record the change reads is in the group's view: no statement
                // runs until the writes below.
                match prepare(&tx, change, at, None, slot, &mut own, &mut locked).await {
                    Ok((committed, pipeline)) => {
                        writes.add(pipeline);
                        group.prefetched.kept(records_of(change, false), &locked);
                        group.keep(committed, own, locked);
                    }
                    // Checked before any write: nothing to undo.
                    Err(error @ (CommitError::Conflict { .. } | CommitError::Invalid { .. })) => {
                        group.results.push(Err(error));
                    }
                    Err(error) => return Err(AtOnce::Failed(error)),
                }
            }
            if writes.run(&tx).await.is_err() {
                return Err(AtOnce::NeedsSavepoints);
            }
            Ok(group.finish(&tx, self).await?)
        });
        match outcome {
            Ok((results, reserved)) => Some(self.kept(results, reserved)),
            Err(AtOnce::NeedsSavepoints) => None,
            Err(AtOnce::Failed(error)) => Some(
                changes
                    .iter()
                    .map(|_| Err(self.copy_error(&error)))
                    .collect(),
            ),
        }
    }

    /// `changes` in one transaction, each under a savepoint: one that conflicts or is
    /// invalid is rolled back to it.
    async fn commit_with_savepoints(&self, changes: Vec<Change>) -> Results {
        let now = Utc::now();
        let outcome = transaction!(self, Mode::Write, CommitError, |tx| {
            // Locked before the first savepoint: a row lock taken inside a savepoint
            // is released when it is rolled back to, and later changes rely on these.
            let mut group = Group::lock(&tx, &changes).await?;
            // One savepoint at a time, taken before the first change and again after
            // each kept one (released and taken in one round trip); a rolled-back
            // change leaves it in place for the next.
            tx.batch_execute("SAVEPOINT c1bot_change")
                .await
                .ctx("committing a group of changes")?;
            for (slot, change) in changes.iter().enumerate() {
                let (at, mut own, mut locked) = group.begin(change, now);
                // Kept or rolled back, a later change locks these again to see them.
                group.prefetched.wrote(records_of(change, false));
                match apply(&tx, change, at, None, slot, &mut own, &mut locked).await {
                    Ok(committed) => {
                        tx.batch_execute("RELEASE SAVEPOINT c1bot_change; SAVEPOINT c1bot_change")
                            .await
                            .ctx("committing a group of changes")?;
                        group.keep(committed, own, locked);
                    }
                    Err(error @ (CommitError::Conflict { .. } | CommitError::Invalid { .. })) => {
                        tx.batch_execute("ROLLBACK TO SAVEPOINT c1bot_change")
                            .await
                            .ctx("committing a group of changes")?;
                        group.results.push(Err(error));
                    }
                    Err(error) => return Err(error),
                }
            }
            group.finish(&tx, self).await
        });
        match outcome {
            Ok((results, reserved)) => self.kept(results, reserved),
            Err(error) => changes
                .iter()
                .map(|_| Err(self.copy_error(&error)))
                .collect(),
        }
    }

    /// After a group's commit: its outbox ids are the sender's, and the sender and
    /// the timer loop are woken for what it queued and scheduled.
    fn kept(&self, results: Results, reserved: Reserved<'_>) -> Results {
        reserved.committed();
        let committed: Vec<Committed> = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .cloned()
            .collect();
        self.wake(&committed);
        results
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
}

/// A group's transaction so far: the records it locked, each change's result, and
/// what its kept changes leave for the end (counter moves, outbox messages, audit
/// events).
struct Group<'c> {
    prefetched: Prefetched,
    results: Results,
    counts: Counts,
    deferred: Deferred<'c>,
}

impl<'c> Group<'c> {
    /// Locks every record `changes` expect, write or delete, with one statement.
    async fn lock(tx: &Transaction<'_>, changes: &[Change]) -> Result<Group<'c>, StoreError> {
        let all: HashSet<(Table, String)> = changes
            .iter()
            .flat_map(|change| records_of(change, true))
            .map(|(table, key)| (table, key.to_owned()))
            .collect();
        Ok(Group {
            prefetched: Prefetched::lock(tx, &all).await?,
            results: Vec::with_capacity(changes.len()),
            counts: Counts::new(),
            deferred: Deferred::default(),
        })
    }

    /// The next change's commit time, its own deferred writes, and its view of the
    /// locked records.
    fn begin(&self, change: &Change, now: DateTime<Utc>) -> (DateTime<Utc>, Deferred<'c>, Locked) {
        let locked = self.prefetched.seed(records_of(change, true));
        (change.stamp().unwrap_or(now), Deferred::default(), locked)
    }

    /// Keeps a change that committed.
    fn keep(&mut self, committed: Committed, own: Deferred<'c>, mut locked: Locked) {
        locked.counted_into(&mut self.counts);
        self.deferred.keep(own);
        self.results.push(Ok(committed));
    }

    /// The kept changes' counter moves, outbox ids and audit entries: once per
    /// counter and head for the whole transaction.
    async fn finish<'s>(
        mut self,
        tx: &Transaction<'_>,
        store: &'s PgStore,
    ) -> Result<(Results, Reserved<'s>), CommitError> {
        move_counts(tx, self.counts).await?;
        let mut reserved = Reserved::new(&store.inner.outbox_index);
        for (slot, assigned) in write_deferred(tx, self.deferred, &mut reserved).await? {
            if let Some(Ok(committed)) = self.results.get_mut(slot) {
                assigned.record(committed);
            }
        }
        Ok((self.results, reserved))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::store::suite::{pg_store, req};
    use crate::store::{Change, CommitError, Table};

    /// The at-once transaction writes REQ-9, waits for another session's uncommitted
    /// REQ-9, and fails when that one commits: the group is committed again with
    /// savepoints, where REQ-9's change conflicts and the others are kept.
    #[tokio::test]
    async fn a_change_that_loses_a_race_after_writing_is_left_out_and_the_others_commit() {
        let Some(store) = pg_store().await else {
            return;
        };
        let pg = store.postgres().expect("postgres");
        let mut other = pg.client().await.expect("client");
        let racing = other.transaction().await.expect("begin");
        racing
            .execute(
                "INSERT INTO c1bot_records (tbl, key, v, rev, idx, data) \
                 VALUES ('requests', 'REQ-9', 1, 1, '{}', '{}')",
                &[],
            )
            .await
            .expect("insert");
        let group = store.clone();
        let committing = tokio::spawn(async move {
            group
                .commit_all(vec![
                    Change::new().put(Table::Requests, "REQ-8", &req("first")),
                    Change::new().expect(Table::Requests, "REQ-9", None).put(
                        Table::Requests,
                        "REQ-9",
                        &req("mine"),
                    ),
                    Change::new().put(Table::Requests, "REQ-10", &req("last")),
                ])
                .await
        });
        // Long enough for the group to reach REQ-9's insert and wait there.
        tokio::time::sleep(Duration::from_millis(300)).await;
        racing.commit().await.expect("commit");
        let results = tokio::time::timeout(Duration::from_secs(30), committing)
            .await
            .expect("the group finishes")
            .expect("task");
        assert!(results[0].is_ok(), "{:?}", results[0]);
        assert!(
            matches!(&results[1], Err(CommitError::Conflict { key, .. }) if key == "REQ-9"),
            "{:?}",
            results[1]
        );
        assert!(results[2].is_ok(), "{:?}", results[2]);
        for key in ["REQ-8", "REQ-10"] {
            let stored: Option<crate::store::Versioned<crate::store::suite::Req>> =
                store.get(Table::Requests, key).await.expect("read");
            assert!(stored.is_some(), "{key} kept");
        }
    }
}
