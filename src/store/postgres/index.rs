//! Secondary indexes on PostgreSQL: reading the records indexed under an entry
//! (`c1bot_index` joined to `c1bot_records`), the counters of counted entries, and
//! rebuilding a table's index once per index version.
//!
//! The rows are written with each record by `records::Locked` (same transaction); this
//! module only reads and rebuilds them, like `crate::store::index` on sled.

use super::cached::Cached;
use super::records::{decode, Locked};
use super::{transaction, Ctx, Mode, PgStore};
use crate::store::keys::{count_key, index_version_key};
use crate::store::records::Record;
use crate::store::{IndexKey, KeyedReads, StoreError, Table, Versioned};

/// Records read and rewritten per transaction when rebuilding an index.
const REINDEX_BATCH: i64 = 1_000;

impl PgStore {
    /// The keys of the records of `table` indexed under `name`, in key order.
    pub async fn index_keys(&self, table: Table, name: &str) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT key FROM c1bot_index WHERE tbl = $1 AND name = $2 ORDER BY key",
                &[&table.name(), &name],
            )
            .await
            .ctx("reading an index")?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// The records of `table` indexed under `name`, in key order (one query).
    pub async fn index_scan<T: Record>(
        &self,
        table: Table,
        name: &str,
    ) -> Result<Vec<(String, Versioned<T>)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT r.key, r.v, r.rev, r.data::text FROM c1bot_index i \
                 JOIN c1bot_records r ON r.tbl = i.tbl AND r.key = i.key \
                 WHERE i.tbl = $1 AND i.name = $2 ORDER BY i.key",
                &[&table.name(), &name],
            )
            .await
            .ctx("reading an index")?;
        rows.iter()
            .map(|row| {
                let key: String = row.get(0);
                let record = decode(table, &key, row.get(1), row.get(2), row.get(3))?;
                Ok((key, record))
            })
            .collect()
    }

    /// The records of `table` indexed under any of `names`, each once, in key order,
    /// in one query; a record that cannot be decoded is returned as its error.
    pub async fn index_read_any<T: Record>(
        &self,
        table: Table,
        names: &[String],
    ) -> Result<KeyedReads<T>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                "SELECT DISTINCT ON (r.key) r.key, r.v, r.rev, r.data::text FROM c1bot_index i \
                 JOIN c1bot_records r ON r.tbl = i.tbl AND r.key = i.key \
                 WHERE i.tbl = $1 AND i.name = ANY($2) ORDER BY r.key",
                &[&table.name(), &names],
            )
            .await
            .ctx("reading an index")?;
        Ok(rows
            .iter()
            .map(|row| {
                let key: String = row.get(0);
                let record = decode(table, &key, row.get(1), row.get(2), row.get(3));
                (key, record)
            })
            .collect())
    }

    /// How many records of `table` hold the counted entry `name` (one read).
    pub async fn count(&self, table: Table, name: &str) -> Result<u64, StoreError> {
        self.counter(&count_key(table, name)).await
    }

    /// [`Self::count`] for each of `names`, in one query.
    pub async fn counts(&self, table: Table, names: &[&str]) -> Result<Vec<u64>, StoreError> {
        let keys: Vec<String> = names.iter().map(|n| count_key(table, n)).collect();
        self.counters(&keys).await
    }

    /// Rebuilds `table`'s index rows from `T::index` unless built with `version`
    /// already; returns how many records changed. Each batch is one transaction, so
    /// several instances starting together may both rebuild: the result is the same.
    pub async fn reindex<T: Record>(
        &self,
        table: Table,
        version: u64,
    ) -> Result<usize, StoreError> {
        let marker = index_version_key(table);
        if self.counter(&marker).await? >= version {
            return Ok(0);
        }
        let mut changed = 0;
        let mut after = String::new();
        loop {
            let (n, last) = transaction!(self, Mode::Write, StoreError, |tx| {
                let rows = tx
                    .query_cached(
                        "SELECT key, v, idx, data::text FROM c1bot_records \
                         WHERE tbl = $1 AND key > $2 ORDER BY key LIMIT $3 FOR UPDATE",
                        &[&table.name(), &after, &REINDEX_BATCH],
                    )
                    .await
                    .ctx("reading records to index")?;
                let mut locked = Locked::default();
                let mut n = 0;
                for row in &rows {
                    let key: String = row.get(0);
                    let stored: Vec<String> = row.get(2);
                    let record: Versioned<T> = decode(table, &key, row.get(1), 0, row.get(3))?;
                    let idx: Vec<String> =
                        record.data.index().iter().map(IndexKey::stored).collect();
                    if idx != stored {
                        let json = record
                            .data
                            .encode()
                            .map_err(|e| StoreError::decode(table, key.as_bytes(), e))?;
                        locked
                            .put(&tx, table, &key, T::VERSION, &idx, &json)
                            .await?;
                        n += 1;
                    }
                }
                locked.finish(&tx).await?;
                let last = rows.last().map(|r| r.get::<_, String>(0));
                Ok((n, last))
            })?;
            changed += n;
            match last {
                Some(last) => after = last,
                None => break,
            }
        }
        let client = self.client().await?;
        client
            .execute_cached(
                "INSERT INTO c1bot_counters (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = greatest(c1bot_counters.value, $2)",
                &[&marker, &i64::try_from(version).unwrap_or(i64::MAX)],
            )
            .await
            .ctx("recording an index version")?;
        if changed > 0 {
            tracing::info!(
                table = table.name(),
                records = changed,
                version,
                "index rebuilt"
            );
        }
        Ok(changed)
    }
}
