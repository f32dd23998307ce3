//! The intake journal on PostgreSQL: rows (`c1bot_journal`) under numbers from the
//! `c1bot_journal_ids` sequence (in arrival order; a rolled-back row leaves a gap), their dedupe keys (`c1bot_journal_keys`, kept an hour after
//! receipt and pruned by time through an index on `received_ms`), and rows given up
//! (`c1bot_journal_failed`, counted by `journal_failed`). Same behaviour as
//! [`crate::store::SledStore`]'s journal; two copies of an envelope journaled at once
//! cannot both be new (the second insert of a key fails, and its retry finds the key).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::audit::Chain;
use super::cached::Cached;
use super::commit::next_counter;
use super::outbox::{queue, Reserved};
use super::records::decode_row;
use super::{transaction, Ctx, Mode, PgStore};
use crate::store::keys::{due_ms, seq_key, JOURNAL_KEEP_KEYS};
use crate::store::records::Record;
use crate::store::{
    AuditEvent, JournalEntry, JournalId, Journaled, OutboxMessage, PendingJournal, StoreError,
    Table,
};

fn decode(id: i64, v: i32, json: &str) -> Result<JournalEntry, StoreError> {
    decode_row(Table::Journal, &seq_key(id as u64), v, json)
}

fn encode(entry: &JournalEntry) -> Result<String, StoreError> {
    entry
        .encode()
        .map_err(|e| StoreError::decode(Table::Journal, b"(new)", e))
}

fn ms(at: DateTime<Utc>) -> i64 {
    i64::try_from(due_ms(at)).unwrap_or(i64::MAX)
}

impl PgStore {
    /// Writes `envelope` to the journal unless one of `keys` was journaled already;
    /// returns once it is committed.
    pub async fn journal(
        &self,
        keys: &[String],
        envelope: &Value,
        now: DateTime<Utc>,
    ) -> Result<Journaled, StoreError> {
        let json = encode(&JournalEntry {
            received_at: now,
            keys: keys.to_vec(),
            envelope: envelope.clone(),
            attempts: 0,
            next_attempt_at: None,
            last_error: None,
        })?;
        transaction!(self, Mode::Write, StoreError, |tx| {
            for key in keys {
                let seen = tx
                    .query_opt_cached(
                        "SELECT journal_id FROM c1bot_journal_keys WHERE key = $1",
                        &[key],
                    )
                    .await
                    .ctx("reading the journal keys")?;
                if let Some(row) = seen {
                    let id: i64 = row.get(0);
                    return Ok(Journaled::Duplicate(JournalId(id as u64)));
                }
            }
            // A sequence, not a counter row: journal numbers need order, not freedom
            // from gaps, and a counter row would serialize every ack on its lock
            // until COMMIT (one WAL flush each).
            let id: i64 = tx
                .query_one_cached("SELECT nextval('c1bot_journal_ids')", &[])
                .await
                .ctx("numbering a journal row")?
                .get(0);
            tx.execute_cached(
                "INSERT INTO c1bot_journal (id, v, entry) VALUES ($1, $2, $3::text::jsonb)",
                &[&id, &(JournalEntry::VERSION as i32), &json],
            )
            .await
            .ctx("journaling an envelope")?;
            for key in keys {
                // A key another transaction inserted meanwhile fails here; the retry
                // finds it and reports the duplicate.
                tx.execute_cached(
                    "INSERT INTO c1bot_journal_keys (key, journal_id, received_ms) VALUES ($1, $2, $3)",
                    &[key, &id, &ms(now)],
                )
                .await
                .ctx("journaling an envelope's keys")?;
            }
            Ok(Journaled::New(JournalId(id as u64)))
        })
    }

    /// Every row still to be processed, oldest first; unreadable rows apart.
    pub async fn journal_pending(&self) -> Result<PendingJournal, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT id, v, entry::text FROM c1bot_journal ORDER BY id",
                &[],
            )
            .await
            .ctx("reading the journal")?;
        let mut pending = PendingJournal::default();
        for row in rows {
            let id: i64 = row.get(0);
            match decode(id, row.get(1), row.get(2)) {
                Ok(entry) => pending.rows.push((JournalId(id as u64), entry)),
                Err(_) => pending.undecodable.push(seq_key(id as u64).to_vec()),
            }
        }
        Ok(pending)
    }

    /// Row `id`, if still to be processed.
    pub async fn journal_entry(&self, id: JournalId) -> Result<Option<JournalEntry>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached(
                "SELECT v, entry::text FROM c1bot_journal WHERE id = $1",
                &[&(id.0 as i64)],
            )
            .await
            .ctx("reading the journal")?;
        row.map(|row| decode(id.0 as i64, row.get(0), row.get(1)))
            .transpose()
    }

    /// Records a failed attempt; the row is tried again at `next_at`.
    pub async fn journal_retry(
        &self,
        id: JournalId,
        error: &str,
        next_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        transaction!(self, Mode::Write, StoreError, |tx| {
            let row = tx
                .query_opt_cached(
                    "SELECT v, entry::text FROM c1bot_journal WHERE id = $1 FOR UPDATE",
                    &[&(id.0 as i64)],
                )
                .await
                .ctx("reading the journal")?;
            let Some(row) = row else {
                return Ok(());
            };
            let mut entry = decode(id.0 as i64, row.get(0), row.get(1))?;
            entry.attempts += 1;
            entry.next_attempt_at = Some(next_at);
            entry.last_error = Some(error.to_owned());
            tx.execute_cached(
                "UPDATE c1bot_journal SET entry = $2::text::jsonb WHERE id = $1",
                &[&(id.0 as i64), &encode(&entry)?],
            )
            .await
            .ctx("recording a journal retry")?;
            Ok(())
        })
    }

    /// Gives row `id` up: moved to `c1bot_journal_failed`, counted, audited, and
    /// `then` queued, in one transaction. False when the row is gone already.
    pub async fn journal_give_up(
        &self,
        id: JournalId,
        reason: &str,
        audit: &AuditEvent,
        then: &[OutboxMessage],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (moved, reserved) =
            transaction!(self, Mode::Write, StoreError, |tx| {
                let mut reserved = Reserved::new(&self.inner.outbox_index);
                let row = tx
                    .query_opt_cached(
                        "DELETE FROM c1bot_journal WHERE id = $1 RETURNING v, entry::text",
                        &[&(id.0 as i64)],
                    )
                    .await
                    .ctx("giving a journal row up")?;
                let Some(row) = row else {
                    return Ok((false, reserved));
                };
                let mut entry = decode(id.0 as i64, row.get(0), row.get(1))?;
                entry.last_error = Some(reason.to_owned());
                tx.execute_cached(
                "INSERT INTO c1bot_journal_failed (id, v, entry) VALUES ($1, $2, $3::text::jsonb) \
                 ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v, entry = EXCLUDED.entry",
                &[&(id.0 as i64), &(JournalEntry::VERSION as i32), &encode(&entry)?],
            )
            .await
            .ctx("giving a journal row up")?;
                next_counter(&tx, "journal_failed", 1).await?;
                queue(&tx, then, now, &mut reserved).await?;
                let mut chain = Chain::lock(&tx).await?;
                chain.append(&tx, audit, now).await?;
                chain.save(&tx).await?;
                Ok((true, reserved))
            })?;
        let queued = !then.is_empty() && moved;
        reserved.committed();
        if queued {
            self.inner.outbox_ready.notify_one();
        }
        Ok(moved)
    }

    /// How many journal rows were ever given up.
    pub async fn journal_failed_count(&self) -> Result<u64, StoreError> {
        self.counter("journal_failed").await
    }

    /// Forgets at most `limit` dedupe keys received before `now - JOURNAL_KEEP_KEYS`;
    /// returns how many.
    pub async fn prune_journal_keys(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let bound = ms(now - JOURNAL_KEEP_KEYS);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        transaction!(self, Mode::Write, StoreError, |tx| {
            let removed = tx
                .execute_cached(
                    "DELETE FROM c1bot_journal_keys WHERE key IN (\
                         SELECT key FROM c1bot_journal_keys WHERE received_ms < $1 \
                         ORDER BY received_ms LIMIT $2 FOR UPDATE SKIP LOCKED)",
                    &[&bound, &limit],
                )
                .await
                .ctx("pruning the journal keys")?;
            Ok(usize::try_from(removed).unwrap_or(usize::MAX))
        })
    }

    /// A counter's value (0 when it was never moved).
    pub(super) async fn counter(&self, name: &str) -> Result<u64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt_cached("SELECT value FROM c1bot_counters WHERE name = $1", &[&name])
            .await
            .ctx("reading a counter")?;
        Ok(row.map_or(0, |r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0)))
    }

    /// The counters `names`, in order, in one query (a scrape reads dozens).
    pub(super) async fn counters(&self, names: &[String]) -> Result<Vec<u64>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT name, value FROM c1bot_counters WHERE name = ANY($1)",
                &[&names],
            )
            .await
            .ctx("reading counters")?;
        let found: std::collections::HashMap<String, i64> =
            rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(names
            .iter()
            .map(|n| found.get(n).map_or(0, |v| u64::try_from(*v).unwrap_or(0)))
            .collect())
    }
}
