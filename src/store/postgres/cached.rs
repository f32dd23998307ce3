//! Statements prepared once per connection and reused: every query c1bot sends is
//! one of a fixed set of texts, so each connection parses and plans it once
//! (deadpool's statement cache) and later runs are one round trip (Bind, Execute)
//! instead of two (Parse and Describe first). A commit of a burst's group runs a
//! dozen statements per change, so this halves its round trips.
//!
//! Only constant SQL goes through here: the cache keeps every distinct text for the
//! connection's life. Migrations (`schema`) run their DDL unprepared.

use std::future::Future;

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row};

/// Parameters as tokio-postgres takes them.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// `execute` / `query*` through the connection's statement cache.
pub(crate) trait Cached {
    fn execute_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<u64, Error>> + Send;
    fn query_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send;
    fn query_one_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Row, Error>> + Send;
    fn query_opt_cached(
        &self,
        sql: &str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Option<Row>, Error>> + Send;
}

impl<C: GenericClient + Sync> Cached for C {
    async fn execute_cached(&self, sql: &str, params: Params<'_>) -> Result<u64, Error> {
        let statement = self.prepare_cached(sql).await?;
        self.execute(&statement, params).await
    }

    async fn query_cached(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, Error> {
        let statement = self.prepare_cached(sql).await?;
        self.query(&statement, params).await
    }

    async fn query_one_cached(&self, sql: &str, params: Params<'_>) -> Result<Row, Error> {
        let statement = self.prepare_cached(sql).await?;
        self.query_one(&statement, params).await
    }

    async fn query_opt_cached(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, Error> {
        let statement = self.prepare_cached(sql).await?;
        self.query_opt(&statement, params).await
    }
}
