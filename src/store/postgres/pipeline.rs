//! The writes of one change sent together: each statement is prepared (from the
//! connection's cache), then all are sent without waiting for each other's answers
//! and the server runs them in the order sent. A change's record, its index rows and
//! its timers are then one round trip instead of one each; the result is the same
//! as running them one by one, because the server still runs them one by one.
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

/// One parameter, owned until the pipeline runs.
pub(super) type Param = Box<dyn ToSql + Sync + Send>;

/// One statement of a pipeline.
struct Write {
    sql: &'static str,
    params: Vec<Param>,
    /// What it does, for the error (`"writing a record"`).
    context: &'static str,
    /// The record it creates (an INSERT that loses a race to another transaction).
    creates: Option<(Table, String)>,
}

/// Statements to send together, in order.
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
    /// Adds `sql` with `params`.
    pub fn push(&mut self, sql: &'static str, params: Vec<Param>, context: &'static str) {
        self.writes.push(Write {
            sql,
            params,
            context,
            creates: None,
        });
    }

    /// Adds `sql`, which creates record `key` of `table`.
    pub fn push_create(
        &mut self,
        sql: &'static str,
        params: Vec<Param>,
        context: &'static str,
        table: Table,
        key: &str,
    ) {
        self.writes.push(Write {
            sql,
            params,
            context,
            creates: Some((table, key.to_owned())),
        });
    }

    /// Sends every statement, then waits for all answers.
    pub async fn run(self, tx: &Transaction<'_>) -> Result<(), Failed> {
        if self.writes.is_empty() {
            return Ok(());
        }
        let mut statements = Vec::with_capacity(self.writes.len());
        for write in &self.writes {
            let statement = tx.prepare_cached(write.sql).await.ctx(write.context);
            statements.push(statement.map_err(|error| Failed {
                error,
                creating: None,
            })?);
        }
        let params: Vec<Vec<&(dyn ToSql + Sync)>> = self
            .writes
            .iter()
            .map(|w| w.params.iter().map(|p| p.as_ref() as _).collect())
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
                    error: StoreError::postgres(write.context, source),
                    creating: write.creates.clone(),
                })
            }
        }
    }
}
