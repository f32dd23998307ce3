//! The writes of a group committed at once, netted and sent set-based: what the
//! group leaves in each record, index row and timer, written by one statement per
//! kind of write (`UNNEST` of arrays) instead of a statement per write. A burst's
//! group of 1,024 expiries is then a handful of statements, not ten thousand.
//!
//! Netting is exact because every write is keyed and idempotent: a record, an index
//! row or a timer ends as the group's last write to it left it. A record's first
//! write says whether it existed before the group (an update or delete: it existed
//! and is locked; a create: it was absent), which decides between UPDATE, DELETE and
//! a plain INSERT (a race to create it still fails, and the caller commits the group
//! again change by change). Each kind is written in key order, so two groups meet
//! their rows in the same order.

use std::collections::BTreeMap;

use deadpool_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::cached::Cached;
use super::pipeline::{Pipeline, Write};
use super::Ctx;
use crate::store::StoreError;

/// A record's row as the group leaves it.
struct Row {
    v: i32,
    rev: i64,
    idx: Vec<String>,
    json: String,
}

/// What the group does to one record: whether it existed before the group, and its
/// last write (`None`: deleted).
struct RecordNet {
    existed: bool,
    last: Option<Row>,
}

/// A group's writes, netted per key.
#[derive(Default)]
pub(super) struct NetWrites {
    records: BTreeMap<(&'static str, String), RecordNet>,
    /// Index rows: present (added) or absent (removed) at the end.
    index: BTreeMap<(&'static str, String, String), bool>,
    /// Timers: scheduled (version, entry) or cancelled at the end.
    timers: BTreeMap<(i64, String, String), Option<(i32, String)>>,
}

impl NetWrites {
    /// Adds a kept change's writes, after those of the changes before it.
    pub(super) fn add(&mut self, pipeline: Pipeline) {
        for write in pipeline.into_writes() {
            match write {
                Write::CreateRecord {
                    table,
                    key,
                    v,
                    idx,
                    json,
                } => {
                    let row = Row {
                        v,
                        rev: 1,
                        idx,
                        json,
                    };
                    self.record(table.name(), key, false, Some(row));
                }
                Write::UpdateRecord {
                    table,
                    key,
                    v,
                    rev,
                    idx,
                    json,
                } => {
                    let row = Row { v, rev, idx, json };
                    self.record(table.name(), key, true, Some(row));
                }
                Write::DeleteRecord { table, key } => self.record(table.name(), key, true, None),
                Write::AddIndex { table, name, key } => {
                    self.index.insert((table.name(), name, key), true);
                }
                Write::RemoveIndex { table, name, key } => {
                    self.index.insert((table.name(), name, key), false);
                }
                Write::PutTimer {
                    due,
                    subject,
                    kind,
                    v,
                    json,
                } => {
                    self.timers.insert((due, subject, kind), Some((v, json)));
                }
                Write::CancelTimer { due, subject, kind } => {
                    self.timers.insert((due, subject, kind), None);
                }
            }
        }
    }

    /// A write to a record; `existed` is what this write implies about the record
    /// before it, which only the group's first write to it tells about the group.
    fn record(&mut self, tbl: &'static str, key: String, existed: bool, row: Option<Row>) {
        let net = self.records.entry((tbl, key)).or_insert(RecordNet {
            existed,
            last: None,
        });
        net.last = row;
    }

    /// Sends the netted writes: one statement per kind that has any.
    pub(super) async fn run(self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        self.write_records(tx).await?;
        self.write_index(tx).await?;
        self.write_timers(tx).await
    }

    async fn write_records(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let (mut gone, mut updated, mut created) =
            (Columns::default(), Updates::default(), Updates::default());
        for ((tbl, key), net) in &self.records {
            match (&net.last, net.existed) {
                (None, true) => gone.push(tbl, key),
                (None, false) => {}
                (Some(row), true) => updated.push(tbl, key, row),
                (Some(row), false) => created.push(tbl, key, row),
            }
        }
        send(
            tx,
            gone.tbl.len(),
            "deleting records",
            DELETE_RECORDS,
            &[&gone.tbl, &gone.key],
        )
        .await?;
        let (rows, params) = (updated.tbl.len(), updated.params());
        send(tx, rows, "writing records", UPDATE_RECORDS, &params).await?;
        let (rows, params) = (created.tbl.len(), created.params());
        send(tx, rows, "creating records", INSERT_RECORDS, &params).await?;
        Ok(())
    }

    async fn write_index(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let (mut added, mut removed) = (Columns::default(), Columns::default());
        for ((tbl, name, key), present) in &self.index {
            let into = if *present { &mut added } else { &mut removed };
            into.push(tbl, key);
            into.name.push(name);
        }
        send(
            tx,
            removed.tbl.len(),
            "removing index rows",
            DELETE_INDEX_ROWS,
            &[&removed.tbl, &removed.name, &removed.key],
        )
        .await?;
        send(
            tx,
            added.tbl.len(),
            "writing index rows",
            INSERT_INDEX_ROWS,
            &[&added.tbl, &added.name, &added.key],
        )
        .await?;
        Ok(())
    }

    async fn write_timers(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        let (mut cancelled, mut scheduled) = (Timers::default(), Timers::default());
        for ((due, subject, kind), entry) in &self.timers {
            let into = if entry.is_some() {
                &mut scheduled
            } else {
                &mut cancelled
            };
            into.due.push(*due);
            into.subject.push(subject);
            into.kind.push(kind);
            if let Some((v, json)) = entry {
                into.v.push(*v);
                into.json.push(json);
            }
        }
        send(
            tx,
            cancelled.due.len(),
            "cancelling timers",
            DELETE_TIMERS,
            &[&cancelled.due, &cancelled.subject, &cancelled.kind],
        )
        .await?;
        send(
            tx,
            scheduled.due.len(),
            "scheduling timers",
            UPSERT_TIMERS,
            &[
                &scheduled.due,
                &scheduled.subject,
                &scheduled.kind,
                &scheduled.v,
                &scheduled.json,
            ],
        )
        .await?;
        Ok(())
    }
}

/// Runs `sql` when it has `rows` rows to write (an empty one would be a round trip
/// for nothing).
async fn send(
    tx: &Transaction<'_>,
    rows: usize,
    context: &'static str,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<(), StoreError> {
    if rows > 0 {
        tx.execute_cached(sql, params).await.ctx(context)?;
    }
    Ok(())
}

const DELETE_RECORDS: &str =
    "DELETE FROM c1bot_records r USING UNNEST($1::text[], $2::text[]) AS d(tbl, key) \
    WHERE r.tbl = d.tbl AND r.key = d.key";

const UPDATE_RECORDS: &str = "UPDATE c1bot_records r SET v = u.v, rev = u.rev, \
    idx = u.idx::text[], data = u.data::jsonb \
    FROM UNNEST($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[]) \
    AS u(tbl, key, v, rev, idx, data) WHERE r.tbl = u.tbl AND r.key = u.key";

const INSERT_RECORDS: &str = "INSERT INTO c1bot_records (tbl, key, v, rev, idx, data) \
    SELECT tbl, key, v, rev, idx::text[], data::jsonb \
    FROM UNNEST($1::text[], $2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[]) \
    AS c(tbl, key, v, rev, idx, data)";

const DELETE_INDEX_ROWS: &str = "DELETE FROM c1bot_index i \
    USING UNNEST($1::text[], $2::text[], $3::text[]) AS d(tbl, name, key) \
    WHERE i.tbl = d.tbl AND i.name = d.name AND i.key = d.key";

const INSERT_INDEX_ROWS: &str = "INSERT INTO c1bot_index (tbl, name, key) \
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING";

const DELETE_TIMERS: &str = "DELETE FROM c1bot_timers t \
    USING UNNEST($1::bigint[], $2::text[], $3::text[]) AS d(due_ms, subject, kind) \
    WHERE t.due_ms = d.due_ms AND t.subject = d.subject AND t.kind = d.kind";

const UPSERT_TIMERS: &str = "INSERT INTO c1bot_timers (due_ms, subject, kind, v, entry) \
    SELECT due_ms, subject, kind, v, entry::jsonb \
    FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[]) \
    AS s(due_ms, subject, kind, v, entry) \
    ON CONFLICT (due_ms, subject, kind) DO UPDATE SET v = EXCLUDED.v, entry = EXCLUDED.entry";

/// Table, key (and for index rows, name) columns of one statement.
#[derive(Default)]
struct Columns<'a> {
    tbl: Vec<&'a str>,
    name: Vec<&'a str>,
    key: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, tbl: &'a str, key: &'a str) {
        self.tbl.push(tbl);
        self.key.push(key);
    }
}

/// The columns of records written: index entries as an array literal each (an array
/// of arrays would have to be rectangular), cast back with `::text[]`.
#[derive(Default)]
struct Updates<'a> {
    tbl: Vec<&'a str>,
    key: Vec<&'a str>,
    v: Vec<i32>,
    rev: Vec<i64>,
    idx: Vec<String>,
    json: Vec<&'a str>,
}

impl<'a> Updates<'a> {
    fn push(&mut self, tbl: &'a str, key: &'a str, row: &'a Row) {
        let idx = array_literal(&row.idx);
        self.tbl.push(tbl);
        self.key.push(key);
        self.v.push(row.v);
        self.rev.push(row.rev);
        self.idx.push(idx);
        self.json.push(&row.json);
    }

    /// The statement's parameters, in the order `UPDATE_RECORDS` and
    /// `INSERT_RECORDS` number them.
    fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.tbl, &self.key, &self.v, &self.rev, &self.idx, &self.json,
        ]
    }
}

/// `entries` as a PostgreSQL array literal, every element quoted (`{"a","b \\"c\\""}`),
/// so any text comes back unchanged from `::text[]`: inside quotes only `"` and `\`
/// are special, and each is escaped with a backslash. Cheaper for the server than
/// expanding a JSON array in a subquery per row.
fn array_literal(entries: &[String]) -> String {
    let mut out = String::with_capacity(2 + entries.iter().map(|e| e.len() + 3).sum::<usize>());
    out.push('{');
    for (i, entry) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('"');
        for c in entry.chars() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
        out.push('"');
    }
    out.push('}');
    out
}

/// The columns of timers cancelled or scheduled.
#[derive(Default)]
struct Timers<'a> {
    due: Vec<i64>,
    subject: Vec<&'a str>,
    kind: Vec<&'a str>,
    v: Vec<i32>,
    json: Vec<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::array_literal;

    #[test]
    fn an_array_literal_quotes_every_element_and_escapes_quotes_and_backslashes() {
        assert_eq!(array_literal(&[]), "{}");
        let entries = ["a", "b \"c\" \\d", "", "NULL", "x,{y}"].map(String::from);
        assert_eq!(
            array_literal(&entries),
            r#"{"a","b \"c\" \\d","","NULL","x,{y}"}"#
        );
    }
}
