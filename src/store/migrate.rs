//! Moving a sled data directory to PostgreSQL (`c1bot migrate-store`): every record
//! with its version, revision and index entries, the index rows, every counter
//! (request numbers, outbox and journal ids, index counts, quarantine counts), the
//! outbox, timers, the audit log byte for byte with its head, the intake journal with
//! its dedupe keys, and journal rows given up.
//!
//! One PostgreSQL transaction: the copy is all or nothing. The target must hold no
//! c1bot data yet (a fresh or just-migrated schema); the source is read as it is, so
//! c1bot must be stopped (sled's lock refuses a running one). Afterwards the counts are
//! compared and the audit chain is verified on the target.

use std::collections::HashMap;

use super::keys::{
    parse_timer_key, seq_from_key, AUDIT_HEAD, AUDIT_PRUNED, FORMAT_KEY, JOURNAL_COUNTER,
    JOURNAL_FAILED_COUNTER, OUTBOX_COUNTER, REQUEST_COUNTER, RESERVED_META_PREFIX,
};
use super::postgres::{Ctx, Mode, PgStore};
use super::records::header;
use super::{SledStore, StoreError, Table};

/// What was copied, per kind of row.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub records: u64,
    pub outbox: u64,
    pub timers: u64,
    pub audit: u64,
    pub journal: u64,
    pub journal_keys: u64,
    pub journal_failed: u64,
    pub counters: u64,
}

/// sled's counter names in `meta` → PostgreSQL's `c1bot_counters` names.
fn counter_name(sled: &str) -> Option<&str> {
    match sled {
        REQUEST_COUNTER => Some("request"),
        OUTBOX_COUNTER => Some("outbox"),
        JOURNAL_FAILED_COUNTER => Some("journal_failed"),
        FORMAT_KEY | AUDIT_HEAD | AUDIT_PRUNED => None,
        other if other.starts_with(RESERVED_META_PREFIX) => Some(other),
        _ => None,
    }
}

/// An envelope's parts: version, revision, index entries, data (JSON text).
fn parts(
    table: Table,
    key: &[u8],
    bytes: &[u8],
) -> Result<(i32, i64, Vec<String>, String), StoreError> {
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        v: u32,
        #[serde(borrow)]
        data: &'a serde_json::value::RawValue,
    }
    let bad = |e: serde_json::Error| StoreError::decode(table, key, e);
    let head = header(bytes).map_err(bad)?;
    let raw: Raw<'_> = serde_json::from_slice(bytes).map_err(bad)?;
    Ok((
        i32::try_from(raw.v).unwrap_or(i32::MAX),
        i64::try_from(head.rev).unwrap_or(i64::MAX),
        head.idx,
        raw.data.get().to_owned(),
    ))
}

/// A sled row: its key and its bytes.
type Row = (Vec<u8>, Vec<u8>);

fn rows(store: &SledStore, table: Table) -> Result<Vec<Row>, StoreError> {
    store
        .tree(table)
        .iter()
        .map(|item| {
            item.map(|(k, v)| (k.to_vec(), v.to_vec()))
                .map_err(|e| StoreError::storage("reading the sled store", e))
        })
        .collect()
}

fn id(table: Table, key: &[u8]) -> Result<i64, StoreError> {
    seq_from_key(key)
        .and_then(|n| i64::try_from(n).ok())
        .ok_or_else(|| StoreError::decode(table, key, "not a sequence key"))
}

/// Copies everything in `from` to `to` (see the module docs).
pub async fn sled_to_postgres(from: &SledStore, to: &PgStore) -> Result<Migrated, StoreError> {
    let mut by_time: HashMap<Vec<u8>, i64> = HashMap::new();
    for (key, _) in rows(from, Table::JournalKeysByTime)? {
        if let (Some(ms), Some(name)) = (seq_from_key(&key), key.get(8..)) {
            by_time.insert(name.to_vec(), i64::try_from(ms).unwrap_or(0));
        }
    }
    let mut client = to.client().await?;
    let tx = to.begin(&mut client, Mode::Write).await?;
    let found: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM c1bot_records) + (SELECT count(*) FROM c1bot_audit) \
             + (SELECT count(*) FROM c1bot_outbox) + (SELECT count(*) FROM c1bot_timers) \
             + (SELECT count(*) FROM c1bot_journal)",
            &[],
        )
        .await
        .ctx("checking the target is empty")?
        .get(0);
    if found > 0 {
        return Err(StoreError::Connect {
            database: to.database().to_owned(),
            detail: format!(
                "it already holds c1bot data ({found} rows): migrate into an empty database"
            ),
        });
    }
    let mut done = Migrated::default();
    let put_record = tx
        .prepare(
            "INSERT INTO c1bot_records (tbl, key, v, rev, idx, data) VALUES ($1, $2, $3, $4, $5, $6::text::jsonb)",
        )
        .await
        .ctx("preparing the copy")?;
    let put_index = tx
        .prepare(
            "INSERT INTO c1bot_index (tbl, name, key) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .await
        .ctx("preparing the copy")?;
    for table in Table::ALL
        .into_iter()
        .filter(|t| t.holds_records() || *t == Table::Quarantine)
    {
        for (key, bytes) in rows(from, table)? {
            let text = String::from_utf8_lossy(&key).into_owned();
            if table == Table::Meta && text.starts_with(RESERVED_META_PREFIX) {
                continue;
            }
            let (v, rev, idx, data) = parts(table, &key, &bytes)?;
            tx.execute(&put_record, &[&table.name(), &text, &v, &rev, &idx, &data])
                .await
                .ctx("copying a record")?;
            // Counted entries (`#name`) are counters only, copied with the counters.
            for name in idx.iter().filter(|e| !e.starts_with('#')) {
                tx.execute(&put_index, &[&table.name(), &name, &text])
                    .await
                    .ctx("copying an index row")?;
            }
            done.records += 1;
        }
    }
    for (key, bytes) in rows(from, Table::Meta)? {
        let text = String::from_utf8_lossy(&key).into_owned();
        if text == AUDIT_PRUNED {
            // Where a pruned log now starts: read by verification on PostgreSQL too.
            let (v, rev, _, data) = parts(Table::Meta, &key, &bytes)?;
            let none: Vec<String> = Vec::new();
            tx.execute(
                &put_record,
                &[&Table::Meta.name(), &text, &v, &rev, &none, &data],
            )
            .await
            .ctx("copying the audit prune point")?;
            continue;
        }
        if text == AUDIT_HEAD {
            let head: serde_json::Value =
                serde_json::from_str(&parts(Table::Meta, &key, &bytes)?.3)
                    .map_err(|e| StoreError::decode(Table::Meta, &key, e))?;
            tx.execute(
                "UPDATE c1bot_audit_head SET seq = $1, hash = $2 WHERE id = 1",
                &[
                    &head["seq"].as_i64().unwrap_or(0),
                    &head["hash"].as_str().unwrap_or_default(),
                ],
            )
            .await
            .ctx("copying the audit head")?;
            continue;
        }
        let Ok(be) = <[u8; 8]>::try_from(bytes.as_slice()) else {
            continue;
        };
        let value = i64::try_from(u64::from_be_bytes(be)).unwrap_or(i64::MAX);
        if text == JOURNAL_COUNTER {
            // The next journal number sled would have handed out.
            tx.execute(
                "SELECT setval('c1bot_journal_ids', $1, false)",
                &[&value.max(1)],
            )
            .await
            .ctx("copying the journal numbering")?;
            done.counters += 1;
            continue;
        }
        let Some(name) = counter_name(&text) else {
            continue;
        };
        tx.execute(
            "INSERT INTO c1bot_counters (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            &[&name, &value],
        )
        .await
        .ctx("copying a counter")?;
        done.counters += 1;
    }
    for (table, sql, count) in [
        (
            Table::Outbox,
            "INSERT INTO c1bot_outbox (id, v, entry) VALUES ($1, $2, $3::text::json)",
            &mut done.outbox,
        ),
        (
            Table::Journal,
            "INSERT INTO c1bot_journal (id, v, entry) VALUES ($1, $2, $3::text::jsonb)",
            &mut done.journal,
        ),
        (
            Table::JournalFailed,
            "INSERT INTO c1bot_journal_failed (id, v, entry) VALUES ($1, $2, $3::text::jsonb)",
            &mut done.journal_failed,
        ),
    ] {
        for (key, bytes) in rows(from, table)? {
            let (v, _, _, data) = parts(table, &key, &bytes)?;
            tx.execute(sql, &[&id(table, &key)?, &v, &data])
                .await
                .ctx("copying a row")?;
            *count += 1;
        }
    }
    for (key, bytes) in from.all_timer_rows()? {
        let (due, subject, kind) = parse_timer_key(&key)
            .ok_or_else(|| StoreError::decode(Table::Timers, &key, "not a timer key"))?;
        let (v, _, _, data) = parts(Table::Timers, &key, &bytes)?;
        tx.execute(
            "INSERT INTO c1bot_timers (due_ms, subject, kind, v, entry) VALUES ($1, $2, $3, $4, $5::text::jsonb)",
            &[&i64::try_from(due).unwrap_or(i64::MAX), &subject, &kind, &v, &data],
        )
        .await
        .ctx("copying a timer")?;
        done.timers += 1;
    }
    for (key, bytes) in rows(from, Table::Audit)? {
        let entry =
            String::from_utf8(bytes).map_err(|e| StoreError::decode(Table::Audit, &key, e))?;
        tx.execute(
            "INSERT INTO c1bot_audit (seq, entry) VALUES ($1, $2)",
            &[&id(Table::Audit, &key)?, &entry],
        )
        .await
        .ctx("copying the audit log")?;
        done.audit += 1;
    }
    for (key, journal_id) in rows(from, Table::JournalKeys)? {
        let text = String::from_utf8_lossy(&key).into_owned();
        let received = by_time.get(&key).copied().unwrap_or(0);
        tx.execute(
            "INSERT INTO c1bot_journal_keys (key, journal_id, received_ms) VALUES ($1, $2, $3)",
            &[&text, &id(Table::JournalKeys, &journal_id)?, &received],
        )
        .await
        .ctx("copying a journal key")?;
        done.journal_keys += 1;
    }
    tx.commit().await.ctx("committing the copy")?;
    Ok(done)
}

#[cfg(test)]
#[path = "migrate_tests.rs"]
mod tests;
