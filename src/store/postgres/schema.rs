//! The PostgreSQL schema and its versioned migrations, run at start-up.
//!
//! `c1bot_schema_migrations` lists the versions applied. Each migration runs in its own
//! transaction, after `pg_advisory_xact_lock` on a constant: two instances starting
//! together take turns, and the second finds the work done. A database whose newest
//! version is past [`SCHEMA_VERSION`] was migrated by a newer c1bot and is refused
//! (nothing is changed). A migration is never edited once released: a change to the
//! schema is a new entry at the end of [`MIGRATIONS`].

use super::{Ctx, PgStore};
use crate::store::keys::FIRST_REQUEST_NUMBER;
use crate::store::{StoreError, GENESIS_HASH};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// `pg_advisory_xact_lock` key serializing migrators ("c1bot" + "schema" in ASCII).
const MIGRATION_LOCK: i64 = 0x6331_626f_7473_6368;

/// (description, SQL), version = position + 1.
const MIGRATIONS: &[(&str, &str)] = &[
    ("the initial schema", INITIAL),
    ("outbox entries as json", OUTBOX_AS_JSON),
];

/// Version 1. Record keys and timer parts are `COLLATE "C"`, so ranges and order are
/// by bytes, as in sled. A record's index entries (as stored, `#` for counted) are in
/// its `idx`; `c1bot_index` holds one row per entry, and a counted entry's count is the
/// counter `store/count/<table>/<name>`. JSON that c1bot decodes is `jsonb` (readable with SQL); audit
/// entries are `text`, the exact bytes that were hashed.
const INITIAL: &str = r#"
CREATE TABLE c1bot_records (
    tbl  text NOT NULL,
    key  text COLLATE "C" NOT NULL,
    v    integer NOT NULL,
    rev  bigint NOT NULL,
    idx  text[] NOT NULL DEFAULT '{}',
    data jsonb NOT NULL,
    PRIMARY KEY (tbl, key)
);
CREATE TABLE c1bot_index (
    tbl  text NOT NULL,
    name text COLLATE "C" NOT NULL,
    key  text COLLATE "C" NOT NULL,
    PRIMARY KEY (tbl, name, key)
);
CREATE TABLE c1bot_counters (
    name  text PRIMARY KEY,
    value bigint NOT NULL
);
CREATE TABLE c1bot_outbox (
    id    bigint PRIMARY KEY,
    v     integer NOT NULL,
    entry jsonb NOT NULL
);
CREATE TABLE c1bot_timers (
    due_ms  bigint NOT NULL,
    subject text COLLATE "C" NOT NULL,
    kind    text COLLATE "C" NOT NULL,
    v       integer NOT NULL,
    entry   jsonb NOT NULL,
    PRIMARY KEY (due_ms, subject, kind)
);
CREATE TABLE c1bot_audit (
    seq   bigint PRIMARY KEY,
    entry text NOT NULL
);
CREATE TABLE c1bot_audit_head (
    id   integer PRIMARY KEY CHECK (id = 1),
    seq  bigint NOT NULL,
    hash text NOT NULL
);
CREATE SEQUENCE c1bot_journal_ids;
CREATE TABLE c1bot_journal (
    id    bigint PRIMARY KEY,
    v     integer NOT NULL,
    entry jsonb NOT NULL
);
CREATE TABLE c1bot_journal_keys (
    key         text COLLATE "C" PRIMARY KEY,
    journal_id  bigint NOT NULL,
    received_ms bigint NOT NULL
);
CREATE INDEX c1bot_journal_keys_by_time ON c1bot_journal_keys (received_ms);
CREATE TABLE c1bot_journal_failed (
    id    bigint PRIMARY KEY,
    v     integer NOT NULL,
    entry jsonb NOT NULL
);
CREATE TABLE c1bot_lease (
    name        text PRIMARY KEY,
    holder      text NOT NULL,
    token       bigint NOT NULL,
    expires_at  timestamptz NOT NULL
);
"#;

/// Version 2. Outbox entries are `json`, not `jsonb`: no SQL reads into them, and
/// parsing each entry into `jsonb` doubled what queuing a burst's messages costs
/// (2,048 entries of 1.5 KB: 22 ms as `jsonb`, 11 ms as `json`). The outbox holds
/// only what is still to be sent, so the rewrite is small.
const OUTBOX_AS_JSON: &str =
    "ALTER TABLE c1bot_outbox ALTER COLUMN entry TYPE json USING entry::json;";

/// Counters and the audit head every database starts with.
fn seed() -> String {
    format!(
        "INSERT INTO c1bot_counters (name, value) VALUES \
         ('request', {FIRST_REQUEST_NUMBER}), ('outbox', 1), ('journal_failed', 0); \
         INSERT INTO c1bot_audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}');"
    )
}

/// Brings the schema to [`SCHEMA_VERSION`], one migration per transaction.
pub(super) async fn migrate(store: &PgStore) -> Result<(), StoreError> {
    migrate_to(store, SCHEMA_VERSION).await
}

/// Brings the schema to version `latest` (a test may stop short of this build's).
async fn migrate_to(store: &PgStore, latest: i32) -> Result<(), StoreError> {
    let mut client = store.client().await?;
    loop {
        let tx = client.transaction().await.ctx("starting a migration")?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .ctx("waiting for other instances' migrations")?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS c1bot_schema_migrations (
                 version integer PRIMARY KEY,
                 description text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await
        .ctx("creating the migrations table")?;
        let found: i32 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM c1bot_schema_migrations",
                &[],
            )
            .await
            .ctx("reading the schema version")?
            .get(0);
        let next = next_step(found, latest).map_err(|found| StoreError::NewerSchema {
            database: store.inner.database.clone(),
            found,
            supported: SCHEMA_VERSION,
        })?;
        let Some(next) = next else {
            tx.commit().await.ctx("reading the schema version")?;
            return Ok(());
        };
        let (description, sql) = MIGRATIONS[next as usize - 1];
        tx.batch_execute(sql).await.ctx("migrating the schema")?;
        if next == 1 {
            tx.batch_execute(&seed())
                .await
                .ctx("seeding the counters")?;
        }
        tx.execute(
            "INSERT INTO c1bot_schema_migrations (version, description) VALUES ($1, $2)",
            &[&next, &description],
        )
        .await
        .ctx("recording a migration")?;
        tx.commit().await.ctx("committing a migration")?;
        tracing::info!(
            database = %store.inner.database,
            version = next,
            description,
            "schema migrated"
        );
    }
}

/// The migration to apply after version `found` (`None`: up to date; `Err`: the
/// database is newer than `latest`).
fn next_step(found: i32, latest: i32) -> Result<Option<i32>, i32> {
    if found > latest {
        Err(found)
    } else if found == latest {
        Ok(None)
    } else {
        Ok(Some(found + 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_in_order_up_to_the_latest_and_a_newer_database_is_refused() {
        assert_eq!(next_step(0, 3), Ok(Some(1)));
        assert_eq!(next_step(2, 3), Ok(Some(3)));
        assert_eq!(next_step(3, 3), Ok(None));
        assert_eq!(next_step(4, 3), Err(4));
    }

    /// A store on a fresh database of the test server, not yet migrated (`None`:
    /// skipped, see `store::suite`).
    async fn unmigrated() -> Option<PgStore> {
        let cluster = super::super::cluster::for_test()?;
        let url = cluster.database().await.expect("a fresh test database");
        let url = crate::config::DatabaseUrl::parse(&url).expect("the test URL parses");
        Some(PgStore::unmigrated(&url).expect("a pool"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_version_1_database_keeps_its_queued_outbox_entries_through_migration_2() {
        let Some(store) = unmigrated().await else {
            return;
        };
        migrate_to(&store, 1).await.expect("version 1");
        let entry = r#"{"message":{"method":"chat.postMessage","args":{"channel":"U1","text":"a \"quoted\" word"}},"enqueued_at":"2026-01-01T00:00:00Z","attempts":2,"last_error":"timeout"}"#;
        let client = store.client().await.expect("a client");
        client
            .execute(
                "INSERT INTO c1bot_outbox (id, v, entry) VALUES (7, 1, $1::text::jsonb)",
                &[&entry],
            )
            .await
            .expect("an entry queued by version 1");
        drop(client);

        migrate(&store)
            .await
            .expect("migrates to this build's version");
        let read = store.outbox_entry(7).await.expect("reads").expect("kept");
        assert_eq!(read.message.method, "chat.postMessage");
        assert_eq!(read.message.args["text"], "a \"quoted\" word");
        assert_eq!(read.attempts, 2);
        assert_eq!(read.last_error.as_deref(), Some("timeout"));
        let client = store.client().await.expect("a client");
        let kind: String = client
            .query_one(
                "SELECT data_type FROM information_schema.columns \
                 WHERE table_name = 'c1bot_outbox' AND column_name = 'entry'",
                &[],
            )
            .await
            .expect("the column")
            .get(0);
        assert_eq!(kind, "json");

        // An older leader still serving while a newer instance migrated (a rolling
        // upgrade) queues as version 1 did: jsonb is assigned to json.
        client
            .execute(
                "INSERT INTO c1bot_outbox (id, v, entry) VALUES (8, 1, $1::text::jsonb)",
                &[&entry],
            )
            .await
            .expect("queued the version-1 way into the migrated table");
        drop(client);
        let read = store.outbox_entry(8).await.expect("reads").expect("queued");
        assert_eq!(read.message.args["text"], "a \"quoted\" word");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_database_migrated_by_a_newer_c1bot_is_refused_and_left_alone() {
        let Some(store) = unmigrated().await else {
            return;
        };
        migrate(&store).await.expect("this build's version");
        let newer = SCHEMA_VERSION + 1;
        let client = store.client().await.expect("a client");
        client
            .execute(
                "INSERT INTO c1bot_schema_migrations (version, description) VALUES ($1, 'later')",
                &[&newer],
            )
            .await
            .expect("a newer version recorded");
        drop(client);
        let refused = migrate(&store).await.expect_err("refused");
        assert!(
            matches!(refused, StoreError::NewerSchema { found, supported, .. } if found == newer && supported == SCHEMA_VERSION),
            "{refused:?}"
        );
        let client = store.client().await.expect("a client");
        let versions: i64 = client
            .query_one("SELECT count(*) FROM c1bot_schema_migrations", &[])
            .await
            .expect("versions")
            .get(0);
        assert_eq!(versions, i64::from(newer));
    }

    #[test]
    fn the_schema_version_counts_the_migrations() {
        assert_eq!(SCHEMA_VERSION, 2);
        assert!(INITIAL.contains("CREATE TABLE c1bot_lease"));
    }
}
