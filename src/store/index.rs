//! Secondary indexes on the sled backend: reading the records a person or a state
//! is indexed under, the counters of counted entries, and rebuilding a table's index
//! when the code's index definition changes (or for data written before indexes).
//!
//! The rows themselves are written by `tx::put_json` / `tx::delete` in the same
//! transaction as the record, from the entries `Record::index` gives; this module
//! only reads them and rebuilds them.

use super::keys::{count_key, index_prefix, index_version_key};
use super::packed;
use super::records::{self, IndexKey, KeyedReads, Record, Versioned};
use super::{SledStore, StoreError, Table};

/// Records rewritten per transaction when rebuilding an index.
const REINDEX_BATCH: usize = 1_000;

impl SledStore {
    /// The keys of the records of `table` indexed under `name`, in key order.
    pub fn index_keys(&self, table: Table, name: &str) -> Result<Vec<String>, StoreError> {
        let prefix = index_prefix(table, name);
        let mut keys = std::collections::BTreeSet::new();
        for item in self.tree(Table::Index).scan_prefix(&prefix) {
            let (row, bytes) = item.map_err(|e| StoreError::storage("reading an index", e))?;
            if packed::is_bucket_key(&row, prefix.len()) {
                let bucket = packed::Bucket::decode(&bytes)
                    .map_err(|e| StoreError::decode(Table::Index, &row, e))?;
                keys.extend(
                    bucket
                        .members
                        .into_keys()
                        .map(|k| String::from_utf8_lossy(&k).into_owned()),
                );
            } else if let Some(key) = row.get(prefix.len()..) {
                // A row from before packing (format 1), until it is packed.
                keys.insert(String::from_utf8_lossy(key).into_owned());
            }
        }
        Ok(keys.into_iter().collect())
    }

    /// The records of `table` indexed under `name`, in key order: the cost of what is
    /// indexed there, not of the table.
    pub fn index_scan<T: Record>(
        &self,
        table: Table,
        name: &str,
    ) -> Result<Vec<(String, Versioned<T>)>, StoreError> {
        let mut out = Vec::new();
        for key in self.index_keys(table, name)? {
            if let Some(record) = self.read_versioned::<T>(table, key.as_bytes())? {
                out.push((key, record));
            }
        }
        Ok(out)
    }

    /// The records of `table` indexed under any of `names`, each once, in key order;
    /// a record that cannot be read is returned as its error, beside the others.
    pub fn index_read_any<T: Record>(
        &self,
        table: Table,
        names: &[String],
    ) -> Result<KeyedReads<T>, StoreError> {
        let mut keys = std::collections::BTreeSet::new();
        for name in names {
            keys.extend(self.index_keys(table, name)?);
        }
        Ok(keys
            .into_iter()
            .filter_map(
                |key| match self.read_versioned::<T>(table, key.as_bytes()) {
                    Ok(Some(record)) => Some((key, Ok(record))),
                    Ok(None) => None,
                    Err(error) => Some((key, Err(error))),
                },
            )
            .collect())
    }

    /// How many records of `table` hold the counted entry `name` (one read).
    pub fn count(&self, table: Table, name: &str) -> Result<u64, StoreError> {
        self.meta_counter(&count_key(table, name))
    }

    /// Rebuilds the index rows of every record of `table` from `T::index`, unless they
    /// were built with `version` already; returns how many records changed. Runs at
    /// start-up, before anything else writes (a full pass, once per index version).
    pub async fn reindex<T: Record>(
        &self,
        table: Table,
        version: u64,
    ) -> Result<usize, StoreError> {
        let marker = index_version_key(table);
        if self.meta_counter(&marker)? >= version {
            return Ok(0);
        }
        let mut changed = 0;
        let mut batch: Vec<(Vec<u8>, T, Vec<String>)> = Vec::with_capacity(REINDEX_BATCH);
        for item in self.tree(table).iter() {
            let (key, bytes) =
                item.map_err(|e| StoreError::storage("reading records to index", e))?;
            let header = records::header(&bytes).map_err(|e| StoreError::decode(table, &key, e))?;
            let record =
                records::decode::<T>(&bytes).map_err(|e| StoreError::decode(table, &key, e))?;
            let idx: Vec<String> = record.data.index().iter().map(IndexKey::stored).collect();
            if idx != header.idx {
                batch.push((key.to_vec(), record.data, idx));
            }
            if batch.len() >= REINDEX_BATCH {
                changed += self
                    .rewrite_index(table, std::mem::take(&mut batch))
                    .await?;
            }
        }
        changed += self.rewrite_index(table, batch).await?;
        let marker_bytes = version.to_be_bytes();
        self.tree(Table::Meta)
            .insert(marker.as_bytes(), &marker_bytes[..])
            .map_err(|e| StoreError::storage("recording an index version", e))?;
        self.flush().await?;
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

    async fn rewrite_index<T: Record>(
        &self,
        table: Table,
        batch: Vec<(Vec<u8>, T, Vec<String>)>,
    ) -> Result<usize, StoreError> {
        if batch.is_empty() {
            return Ok(0);
        }
        let written = batch.len();
        self.transact(|tx| {
            for (key, record, _) in &batch {
                tx.put::<T, StoreError>(table, key, record)?;
            }
            Ok(())
        })
        .await?;
        self.flush().await?;
        Ok(written)
    }
}
