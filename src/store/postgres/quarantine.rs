//! Quarantine on PostgreSQL: an unreadable row is moved, in one transaction, to the
//! `quarantine` records (`<table>/<hex of its sled-style key>`, same [`Quarantined`]
//! shape as on sled) and the counter `store/quarantined/<table>` moves.
//!
//! Keys are the ones the readers report: a record's text key, an outbox or journal
//! row's big-endian id, a timer's sled timer key.

use chrono::{DateTime, Utc};

use super::cached::Cached;
use super::records::Locked;
use super::{transaction, Ctx, Mode, PgStore};
use crate::store::keys::{parse_timer_key, seq_from_key, QUARANTINED_PREFIX};
use crate::store::records::Record;
use crate::store::{Quarantined, StoreError, Table};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn id_of(key: &[u8]) -> Option<i64> {
    seq_from_key(key).and_then(|id| i64::try_from(id).ok())
}

impl PgStore {
    /// Moves the row under `key` in `table` aside; false when it is gone already.
    pub async fn quarantine(
        &self,
        table: Table,
        key: &[u8],
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let moved = transaction!(self, Mode::Write, StoreError, |tx| {
            let removed: Option<String> = match table {
                Table::Outbox | Table::Journal | Table::JournalFailed => {
                    let sql = match table {
                        Table::Outbox => "DELETE FROM c1bot_outbox WHERE id = $1 RETURNING entry::text",
                        Table::Journal => "DELETE FROM c1bot_journal WHERE id = $1 RETURNING entry::text",
                        _ => "DELETE FROM c1bot_journal_failed WHERE id = $1 RETURNING entry::text",
                    };
                    match id_of(key) {
                        Some(id) => tx
                            .query_opt_cached(sql, &[&id])
                            .await
                            .ctx("quarantining a row")?
                            .map(|r| r.get(0)),
                        None => None,
                    }
                }
                Table::Timers => match parse_timer_key(key) {
                    Some((due, subject, kind)) => tx
                        .query_opt_cached(
                            "DELETE FROM c1bot_timers WHERE due_ms = $1 AND subject = $2 AND kind = $3 \
                             RETURNING entry::text",
                            &[&i64::try_from(due).unwrap_or(i64::MAX), &subject, &kind],
                        )
                        .await
                        .ctx("quarantining a timer")?
                        .map(|r| r.get(0)),
                    None => None,
                },
                t if t.holds_records() => {
                    let key = String::from_utf8_lossy(key);
                    let row = tx
                        .query_opt_cached(
                            "SELECT data::text FROM c1bot_records WHERE tbl = $1 AND key = $2 FOR UPDATE",
                            &[&t.name(), &key.as_ref()],
                        )
                        .await
                        .ctx("quarantining a record")?;
                    match row {
                        Some(row) => {
                            // Through Locked, so the record's index rows go with it.
                            Locked::default().delete(&tx, t, &key).await?;
                            Some(row.get(0))
                        }
                        None => None,
                    }
                }
                _ => None,
            };
            let Some(bytes) = removed else {
                return Ok(false);
            };
            let row = Quarantined {
                table: table.name().to_owned(),
                key_hex: hex(key),
                bytes,
                reason: reason.to_owned(),
                at: now,
            };
            let json = row
                .encode()
                .map_err(|e| StoreError::decode(Table::Quarantine, key, e))?;
            let mut locked = Locked::default();
            let quarantine_key = format!("{}/{}", table.name(), row.key_hex);
            locked
                .put(
                    &tx,
                    Table::Quarantine,
                    &quarantine_key,
                    Quarantined::VERSION,
                    &[],
                    &json,
                )
                .await?;
            tx.execute_cached(
                "INSERT INTO c1bot_counters (name, value) VALUES ($1, 1) \
                 ON CONFLICT (name) DO UPDATE SET value = c1bot_counters.value + 1",
                &[&format!("{QUARANTINED_PREFIX}{}", table.name())],
            )
            .await
            .ctx("counting a quarantined row")?;
            Ok(true)
        })?;
        if moved {
            tracing::error!(table = table.name(), key = %hex(key), reason, "an undecodable row was moved to the quarantine table");
        }
        Ok(moved)
    }

    /// How many rows were ever quarantined from `table`.
    pub async fn quarantined_count(&self, table: Table) -> Result<u64, StoreError> {
        self.counter(&format!("{QUARANTINED_PREFIX}{}", table.name()))
            .await
    }

    /// [`Self::quarantined_count`] for each of `tables`, in one query.
    pub async fn quarantined_counts(&self, tables: &[Table]) -> Result<Vec<u64>, StoreError> {
        let keys: Vec<String> = tables
            .iter()
            .map(|t| format!("{QUARANTINED_PREFIX}{}", t.name()))
            .collect();
        self.counters(&keys).await
    }
}
