//! The writes of one change, as data ([`Write`]), and sent together: each statement
//! is prepared (from the connection's cache), then all are sent without waiting for
//! each other's answers and the server runs them in the order sent. A change's
//! record, its index rows and its timers are then one round trip instead of one
//! each; the result is the same as running them one by one, because the server still
//! runs them one by one. A group committed at once sends its changes' writes netted
//! and set-based instead (`net`).
//!
//! Ordering holds because tokio-postgres queues a statement's messages when its
//! future is first polled, and `try_join_all` polls them in order. A statement that
//! fails leaves the rest refused ("current transaction is aborted"); the first
//! failure in order is the one reported, with the key it was creating, if any.

use deadpool_postgres::Transaction;
use futures_util::future::try_join_all;
use tokio_postgres::types::ToSql;

use super::Ctx;
use crate::store::{StoreError, Table};

/// One write to a record, an index row or a timer, keyed as its table is.
pub(super) enum Write {
    /// A record that was absent (a plain INSERT: a race to create it fails).
    CreateRecord {
        table: Table,
        key: String,
        v: i32,
        idx: Vec<String>,
        json: String,
    },
    /// A record that exists (and is locked), under revision `rev`.
    UpdateRecord {
        table: Table,
        key: String,
        v: i32,
        rev: i64,
        idx: Vec<String>,
        json: String,
    },
    DeleteRecord {
        table: Table,
        key: String,
    },
    AddIndex {
        table: Table,
        name: String,
        key: String,
    },
    RemoveIndex {
        table: Table,
        name: String,
        key: String,
    },
    /// A timer scheduled (or its entry replaced) at version `v`.
    PutTimer {
        due: i64,
        subject: String,
        kind: String,
        v: i32,
        json: String,
    },
    CancelTimer {
        due: i64,
        subject: String,
        kind: String,
    },
}

impl Write {
    /// Its statement, and what it does (for the error).
    fn sql(&self) -> (&'static str, &'static str) {
        match self {
            Write::CreateRecord { .. } => (
                "INSERT INTO c1bot_records (tbl, key, v, rev, idx, data) \
                 VALUES ($1, $2, $3, 1, $4, $5::text::jsonb)",
                "creating a record",
            ),
            Write::UpdateRecord { .. } => (
                "UPDATE c1bot_records SET v = $3, rev = $4, idx = $5, data = $6::text::jsonb \
                 WHERE tbl = $1 AND key = $2",
                "writing a record",
            ),
            Write::DeleteRecord { .. } => (
                "DELETE FROM c1bot_records WHERE tbl = $1 AND key = $2",
                "deleting a record",
            ),
            Write::AddIndex { .. } => (
                "INSERT INTO c1bot_index (tbl, name, key) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                "writing an index row",
            ),
            Write::RemoveIndex { .. } => (
                "DELETE FROM c1bot_index WHERE tbl = $1 AND name = $2 AND key = $3",
                "removing an index row",
            ),
            Write::PutTimer { .. } => (
                "INSERT INTO c1bot_timers (due_ms, subject, kind, v, entry) \
                 VALUES ($1, $2, $3, $4, $5::text::jsonb) \
                 ON CONFLICT (due_ms, subject, kind) DO UPDATE SET v = EXCLUDED.v, entry = EXCLUDED.entry",
                "scheduling a timer",
            ),
            Write::CancelTimer { .. } => (
                "DELETE FROM c1bot_timers WHERE due_ms = $1 AND subject = $2 AND kind = $3",
                "cancelling a timer",
            ),
        }
    }

    /// The name of the table a record or index write is to, for its first parameter.
    fn table_name(&self) -> &'static str {
        match self {
            Write::CreateRecord { table, .. }
            | Write::UpdateRecord { table, .. }
            | Write::DeleteRecord { table, .. }
            | Write::AddIndex { table, .. }
            | Write::RemoveIndex { table, .. } => table.name(),
            Write::PutTimer { .. } | Write::CancelTimer { .. } => "",
        }
    }

    /// Its parameters, in the order of [`Write::sql`]; `tbl` is [`Write::table_name`].
    fn params<'a>(&'a self, tbl: &'a &'static str) -> Vec<&'a (dyn ToSql + Sync)> {
        match self {
            Write::CreateRecord {
                key, v, idx, json, ..
            } => vec![tbl as &(dyn ToSql + Sync), key, v, idx, json],
            Write::UpdateRecord {
                key,
                v,
                rev,
                idx,
                json,
                ..
            } => vec![tbl as &(dyn ToSql + Sync), key, v, rev, idx, json],
            Write::DeleteRecord { key, .. } => vec![tbl as &(dyn ToSql + Sync), key],
            Write::AddIndex { name, key, .. } | Write::RemoveIndex { name, key, .. } => {
                vec![tbl as &(dyn ToSql + Sync), name, key]
            }
            Write::PutTimer {
                due,
                subject,
                kind,
                v,
                json,
            } => vec![due as &(dyn ToSql + Sync), subject, kind, v, json],
            Write::CancelTimer { due, subject, kind } => {
                vec![due as &(dyn ToSql + Sync), subject, kind]
            }
        }
    }

    /// The record it creates (an INSERT that may lose a race to another transaction).
    fn creates(&self) -> Option<(Table, String)> {
        match self {
            Write::CreateRecord { table, key, .. } => Some((*table, key.clone())),
            _ => None,
        }
    }
}

/// Writes to send together, in order.
#[derive(Default)]
pub(super) struct Pipeline {
    writes: Vec<Write>,
}

/// Why a pipeline failed: the error, and the record its failing statement was creating.
pub(super) struct Failed {
    pub error: StoreError,
    pub creating: Option<(Table, String)>,
}

impl Pipeline {
    /// Adds `write`.
    pub fn push(&mut self, write: Write) {
        self.writes.push(write);
    }

    /// The writes, in order.
    pub fn into_writes(self) -> Vec<Write> {
        self.writes
    }

    /// Sends every statement, then waits for all answers.
    pub async fn run(self, tx: &Transaction<'_>) -> Result<(), Failed> {
        if self.writes.is_empty() {
            return Ok(());
        }
        let mut statements = Vec::with_capacity(self.writes.len());
        for write in &self.writes {
            let (sql, context) = write.sql();
            let statement = tx.prepare_cached(sql).await.ctx(context);
            statements.push(statement.map_err(|error| Failed {
                error,
                creating: None,
            })?);
        }
        let names: Vec<&'static str> = self.writes.iter().map(Write::table_name).collect();
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = self
            .writes
            .iter()
            .zip(&names)
            .map(|(write, name)| write.params(name))
            .collect();
        let sent = statements.iter().zip(&params).enumerate().map(
            |(at, (statement, params))| async move {
                tx.execute(statement, params).await.map_err(|e| (at, e))
            },
        );
        match try_join_all(sent).await {
            Ok(_) => Ok(()),
            Err((at, source)) => {
                let write = &self.writes[at];
                Err(Failed {
                    error: StoreError::postgres(write.sql().1, source),
                    creating: write.creates(),
                })
            }
        }
    }
}
