//! Keyed, revisioned records (`c1bot_records`): reads, and the row locks and writes a
//! transaction makes to them.
//!
//! A row holds the envelope's parts: `v` (the data's format version), `rev` (1 on
//! creation, +1 per write) and `data`. A transaction reads a record's revision with
//! `SELECT … FOR UPDATE` before it compares or writes it, so a compare-and-set holds
//! until the transaction ends; a key found absent is inserted with a plain `INSERT`,
//! so two transactions creating it at once cannot both succeed (the second fails with
//! a unique violation, reported as a conflict or retried).

use std::collections::{BTreeMap, HashMap, HashSet};

use deadpool_postgres::Transaction;

use super::cached::Cached;
use super::pipeline::{Pipeline, Write};
use super::{Ctx, PgStore};
use crate::store::keys::count_key;
use crate::store::records::{self, Record};
use crate::store::{IndexKey, StoreError, Table, Versioned};

impl PgStore {
    /// The record under `key`, with its format version and revision.
    pub async fn get<T: Record>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<Versioned<T>>, StoreError> {
        readable(table)?;
        let client = self.client().await?;
        let row = client
            .query_opt_cached(
                "SELECT v, rev, data::text FROM c1bot_records WHERE tbl = $1 AND key = $2",
                &[&table.name(), &key],
            )
            .await
            .ctx("reading a record")?;
        row.map(|row| decode(table, key, row.get(0), row.get(1), row.get(2)))
            .transpose()
    }

    /// Every record whose key starts with `prefix`, in key (byte) order.
    pub async fn scan_prefix<T: Record>(
        &self,
        table: Table,
        prefix: &str,
    ) -> Result<Vec<(String, Versioned<T>)>, StoreError> {
        readable(table)?;
        let client = self.client().await?;
        let rows = match prefix_end(prefix) {
            Some(end) => {
                client
                    .query_cached(
                        "SELECT key, v, rev, data::text FROM c1bot_records \
                     WHERE tbl = $1 AND key >= $2 AND key < $3 ORDER BY key",
                        &[&table.name(), &prefix, &end],
                    )
                    .await
            }
            None => {
                client
                    .query_cached(
                        "SELECT key, v, rev, data::text FROM c1bot_records \
                     WHERE tbl = $1 AND key >= $2 ORDER BY key",
                        &[&table.name(), &prefix],
                    )
                    .await
            }
        }
        .ctx("scanning records")?;
        rows.iter()
            .map(|row| {
                let key: String = row.get(0);
                let record = decode(table, &key, row.get(1), row.get(2), row.get(3))?;
                Ok((key, record))
            })
            .collect()
    }
}

/// Keyed tables live in `c1bot_records`; the store's own tables have tables of theirs.
fn readable(table: Table) -> Result<(), StoreError> {
    if table.holds_records() || table == Table::Quarantine {
        Ok(())
    } else {
        Err(StoreError::Unsupported {
            what: "reading an index table as records",
            backend: "PostgreSQL",
        })
    }
}

pub(super) fn decode<T: Record>(
    table: Table,
    key: &str,
    v: i32,
    rev: i64,
    data: &str,
) -> Result<Versioned<T>, StoreError> {
    let v = u32::try_from(v).unwrap_or_default();
    let rev = u64::try_from(rev).unwrap_or_default();
    records::decode_parts(v, rev, data).map_err(|e| StoreError::decode(table, key.as_bytes(), e))
}

/// A row of one of the store's own tables (outbox, journal, timers): its data at
/// version `v`, upgraded like a record's. `key` names it in errors (sled-style).
pub(super) fn decode_row<T: Record>(
    table: Table,
    key: &[u8],
    v: i32,
    data: &str,
) -> Result<T, StoreError> {
    let v = u32::try_from(v).unwrap_or_default();
    records::decode_parts::<T>(v, 0, data)
        .map(|r| r.data)
        .map_err(|e| StoreError::decode(table, key, e))
}

/// The smallest string above every string that starts with `prefix`, in byte order
/// (UTF-8 byte order is code point order); `None` when there is none (empty prefix).
pub(crate) fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// A record as it is written: its version, index entries (as stored) and data.
pub(super) struct Stored<'a> {
    pub v: u32,
    pub idx: &'a [String],
    pub json: &'a str,
}

/// A locked record's revision and index entries (as stored).
type Row = (u64, Vec<String>);

/// The records a transaction locked, with their revision and index entries as this
/// transaction sees them (`None`: absent), kept up to date by its own writes; and the
/// counted index entries it moved, handed to [`move_counts`] once per transaction.
#[derive(Default)]
pub(super) struct Locked {
    rows: HashMap<(Table, String), Option<Row>>,
    counts: Counts,
}

/// The records of a whole group of changes, locked with one statement before its
/// first change (in table and key order, as a single change locks its own): each
/// change then finds its rows here, unless an earlier change of the group wrote them
/// (kept or rolled back), which it locks again to see them as they are now.
pub(super) struct Prefetched {
    rows: HashMap<(Table, String), Option<Row>>,
    written: HashSet<(Table, String)>,
}

impl Prefetched {
    /// Locks every record of `keys` that exists.
    pub(super) async fn lock(
        tx: &Transaction<'_>,
        keys: &HashSet<(Table, String)>,
    ) -> Result<Prefetched, StoreError> {
        let (tables, names): (Vec<&str>, Vec<&str>) =
            keys.iter().map(|(t, k)| (t.name(), k.as_str())).unzip();
        let found = tx
            .query_cached(
                "SELECT tbl, key, rev, idx FROM c1bot_records \
                 WHERE (tbl, key) IN (SELECT * FROM UNNEST($1::text[], $2::text[])) \
                 ORDER BY tbl COLLATE \"C\", key FOR UPDATE OF c1bot_records",
                &[&tables, &names],
            )
            .await
            .ctx("locking a group's records")?;
        let by_name: HashMap<&str, Table> = keys.iter().map(|(t, _)| (t.name(), *t)).collect();
        let mut rows: HashMap<(Table, String), Option<Row>> =
            keys.iter().map(|k| (k.clone(), None)).collect();
        for row in found {
            let Some(table) = by_name.get(row.get::<_, &str>(0)) else {
                continue;
            };
            let rev = u64::try_from(row.get::<_, i64>(2)).unwrap_or_default();
            rows.insert((*table, row.get(1)), Some((rev, row.get(3))));
        }
        Ok(Prefetched {
            rows,
            written: HashSet::new(),
        })
    }

    /// A change's view: the rows of `keys` no earlier change wrote.
    pub(super) fn seed<'k>(&self, keys: impl IntoIterator<Item = (Table, &'k str)>) -> Locked {
        let mut locked = Locked::default();
        for (table, key) in keys {
            let at = (table, key.to_owned());
            if self.written.contains(&at) {
                continue;
            }
            if let Some(row) = self.rows.get(&at) {
                locked.rows.insert(at, row.clone());
            }
        }
        locked
    }

    /// Notes the rows a kept change left in `keys`, as its view `locked` has them: a
    /// group whose writes wait for its end (`net`) shows them to later changes this
    /// way, as the database cannot yet.
    pub(super) fn kept<'k>(
        &mut self,
        keys: impl IntoIterator<Item = (Table, &'k str)>,
        locked: &Locked,
    ) {
        for (table, key) in keys {
            let at = (table, key.to_owned());
            if let Some(row) = locked.rows.get(&at) {
                self.rows.insert(at, row.clone());
            }
        }
    }

    /// Notes the records a change wrote or deleted, kept or not: a later change locks
    /// them again, to see them as the database has them now.
    pub(super) fn wrote<'k>(&mut self, keys: impl IntoIterator<Item = (Table, &'k str)>) {
        self.written
            .extend(keys.into_iter().map(|(t, k)| (t, k.to_owned())));
    }
}

impl Locked {
    /// Locks `key` (when present) and returns its revision as of now.
    pub(super) async fn lock(
        &mut self,
        tx: &Transaction<'_>,
        table: Table,
        key: &str,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self.lock_row(tx, table, key).await?.map(|(rev, _)| rev))
    }

    async fn lock_row(
        &mut self,
        tx: &Transaction<'_>,
        table: Table,
        key: &str,
    ) -> Result<Option<Row>, StoreError> {
        if let Some(row) = self.rows.get(&(table, key.to_owned())) {
            return Ok(row.clone());
        }
        let row = tx
            .query_opt_cached(
                "SELECT rev, idx FROM c1bot_records WHERE tbl = $1 AND key = $2 FOR UPDATE",
                &[&table.name(), &key],
            )
            .await
            .ctx("locking a record")?;
        let row = row.map(|r| {
            let rev = u64::try_from(r.get::<_, i64>(0)).unwrap_or_default();
            (rev, r.get::<_, Vec<String>>(1))
        });
        self.rows.insert((table, key.to_owned()), row.clone());
        Ok(row)
    }

    /// Writes `data_json` under the next revision with index entries `idx` (as stored),
    /// moving the index rows from the entries the record had; returns the revision. A
    /// key that was absent and that another transaction created meanwhile fails with a
    /// unique violation.
    pub(super) async fn put(
        &mut self,
        tx: &Transaction<'_>,
        table: Table,
        key: &str,
        v: u32,
        idx: &[String],
        data_json: &str,
    ) -> Result<u64, StoreError> {
        let mut pipeline = Pipeline::default();
        let stored = Stored {
            v,
            idx,
            json: data_json,
        };
        let rev = self.put_into(tx, table, key, stored, &mut pipeline).await?;
        pipeline.run(tx).await.map_err(|failed| failed.error)?;
        Ok(rev)
    }

    /// [`Locked::put`] with the writes added to `pipeline` (the lock is taken now).
    pub(super) async fn put_into(
        &mut self,
        tx: &Transaction<'_>,
        table: Table,
        key: &str,
        stored: Stored<'_>,
        pipeline: &mut Pipeline,
    ) -> Result<u64, StoreError> {
        let Stored { v, idx, json } = stored;
        let v = i32::try_from(v).unwrap_or(i32::MAX);
        let old = self.lock_row(tx, table, key).await?;
        let rev = match &old {
            None => {
                pipeline.push(Write::CreateRecord {
                    table,
                    key: key.to_owned(),
                    v,
                    idx: idx.to_vec(),
                    json: json.to_owned(),
                });
                1
            }
            Some((current, _)) => {
                let rev = current + 1;
                pipeline.push(Write::UpdateRecord {
                    table,
                    key: key.to_owned(),
                    v,
                    rev: rev as i64,
                    idx: idx.to_vec(),
                    json: json.to_owned(),
                });
                rev
            }
        };
        let before = old.map(|(_, idx)| idx).unwrap_or_default();
        self.move_index(table, key, &before, idx, pipeline);
        self.rows
            .insert((table, key.to_owned()), Some((rev, idx.to_vec())));
        Ok(rev)
    }

    pub(super) async fn delete(
        &mut self,
        tx: &Transaction<'_>,
        table: Table,
        key: &str,
    ) -> Result<(), StoreError> {
        let mut pipeline = Pipeline::default();
        self.delete_into(tx, table, key, &mut pipeline).await?;
        pipeline.run(tx).await.map_err(|failed| failed.error)
    }

    /// [`Locked::delete`] with the writes added to `pipeline` (the lock is taken now).
    pub(super) async fn delete_into(
        &mut self,
        tx: &Transaction<'_>,
        table: Table,
        key: &str,
        pipeline: &mut Pipeline,
    ) -> Result<(), StoreError> {
        let Some((_, before)) = self.lock_row(tx, table, key).await? else {
            return Ok(());
        };
        pipeline.push(Write::DeleteRecord {
            table,
            key: key.to_owned(),
        });
        self.move_index(table, key, &before, &[], pipeline);
        self.rows.insert((table, key.to_owned()), None);
        Ok(())
    }

    /// Index rows from entries `before` to `after` for `key` (held locked), added to
    /// `pipeline`; counted entries are noted for [`move_counts`].
    fn move_index(
        &mut self,
        table: Table,
        key: &str,
        before: &[String],
        after: &[String],
        pipeline: &mut Pipeline,
    ) {
        let (gone, new) = records::index_moves(before, after);
        for gone in gone {
            let entry = IndexKey::from_stored(gone);
            if entry.counted {
                *self
                    .counts
                    .entry(count_key(table, &entry.name))
                    .or_default() -= 1;
            }
            // Also for a counted entry: stores written before counted entries lost
            // their rows may still have one.
            pipeline.push(Write::RemoveIndex {
                table,
                name: entry.name,
                key: key.to_owned(),
            });
        }
        for new in new {
            let entry = IndexKey::from_stored(new);
            // A counted entry is a counter only: nothing looks records up by it.
            if entry.counted {
                *self
                    .counts
                    .entry(count_key(table, &entry.name))
                    .or_default() += 1;
                continue;
            }
            pipeline.push(Write::AddIndex {
                table,
                name: entry.name,
                key: key.to_owned(),
            });
        }
    }

    /// Moves the counters of the counted entries written; once, after the last write
    /// of a transaction that commits a single change.
    pub(super) async fn finish(&mut self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let mut counts = Counts::new();
        self.counted_into(&mut counts);
        move_counts(tx, counts).await
    }

    /// Adds the counted entries this change moved to `into`, for [`move_counts`].
    pub(super) fn counted_into(&mut self, into: &mut Counts) {
        for (name, by) in std::mem::take(&mut self.counts) {
            *into.entry(name).or_default() += by;
        }
    }
}

/// Counter moves by counter name.
pub(super) type Counts = BTreeMap<String, i64>;

/// Moves the counters of the counted entries written (never below zero), in name
/// order (so two transactions moving the same counters lock them in the same order).
/// Called once per transaction: a counter row updated by every change of a group
/// leaves a version per update that no one can prune until the commit, and every
/// later update walks them.
pub(super) async fn move_counts(tx: &Transaction<'_>, counts: Counts) -> Result<(), StoreError> {
    for (name, by) in counts {
        if by == 0 {
            continue;
        }
        tx.execute_cached(
            "INSERT INTO c1bot_counters (name, value) VALUES ($1, greatest($2::bigint, 0)) \
             ON CONFLICT (name) DO UPDATE SET value = greatest(c1bot_counters.value + $2::bigint, 0)",
            &[&name, &by],
        )
        .await
        .ctx("moving an index count")?;
    }
    Ok(())
}

/// Whether `error` is the unique violation of a lost race to create a key.
pub(super) fn lost_insert_race(error: &StoreError) -> bool {
    matches!(error, StoreError::Postgres { source, .. }
        if source.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_end_bounds_exactly_the_keys_with_that_prefix() {
        assert_eq!(prefix_end("REQ-"), Some("REQ.".to_owned()));
        assert_eq!(prefix_end(""), None);
        assert_eq!(prefix_end("a\u{10FFFF}"), Some("b".to_owned()));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        // Surrogates are not chars: the next one after U+D7FF is U+E000.
        assert_eq!(prefix_end("\u{D7FF}"), Some("\u{E000}".to_owned()));
        let end = prefix_end("modal/").expect("bounded");
        for inside in ["modal/", "modal/U1", "modal/\u{10FFFF}"] {
            assert!(inside.as_bytes() < end.as_bytes(), "{inside}");
        }
        assert!("modal0".as_bytes() >= end.as_bytes());
    }
}
