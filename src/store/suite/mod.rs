//! The store's behaviour suite, run against every backend: each test is an `async fn`
//! taking a fresh [`Store`], and [`both!`] makes one `#[tokio::test]` per backend
//! (`sled::name`, `postgres::name`). A backend is correct when it passes the suite.
//!
//! PostgreSQL tests get a fresh database on the process's throwaway server
//! (`postgres::cluster`); without PostgreSQL they print one line and pass, unless
//! `C1BOT_TEST_POSTGRES=required`. Backend-specific tests (sled's directory lock, a
//! crash right after a commit) stay in `store::tests`.

mod effects;
mod groups;
mod journal;
mod outbox;
mod records;
mod volume;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::keys::parse_timer_key;
use super::*;

/// One test per backend for each named `async fn(Store)` of the enclosing module.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sled {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::store::suite::sled_store()).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(store) = crate::store::suite::pg_store().await else {
                        return;
                    };
                    super::$name(store).await
                }
            )*
        }
    };
}
pub(crate) use both;

pub(crate) fn sled_store() -> Store {
    Store::temporary().expect("a temporary sled store")
}

/// A store on a fresh database of the test server (`None`: skipped, see the module docs).
pub(crate) async fn pg_store() -> Option<Store> {
    let cluster = postgres::cluster::for_test()?;
    let url = cluster.database().await.expect("a fresh test database");
    let url = crate::config::DatabaseUrl::parse(&url).expect("the test URL parses");
    Some(Store::connect(&url).await.expect("connects and migrates"))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Req {
    pub state: String,
}

impl Record for Req {
    const VERSION: u32 = 2;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

/// An active grant as the index sees it: under one shared entry and its owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub owner: String,
}

impl Record for Grant {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }

    fn index(&self) -> Vec<IndexKey> {
        vec![
            IndexKey::lookup("active:aws-prod"),
            IndexKey::lookup(format!("person:{}", self.owner)),
        ]
    }
}

pub(crate) fn req(state: &str) -> Req {
    Req {
        state: state.into(),
    }
}

pub(crate) fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, 0)
        .single()
        .expect("valid instant")
}

pub(crate) fn dm(user: &str, text: &str, record_ref: &str) -> OutboxMessage {
    OutboxMessage {
        method: "chat.postMessage".into(),
        args: json!({"channel": user, "text": text}),
        record_ref: Some(record_ref.into()),
        update_ref: None,
        if_refused: None,
    }
}

pub(crate) fn event(action: &str, subject: &str) -> AuditEvent {
    AuditEvent {
        actor: "U0ALICE001".into(),
        action: action.into(),
        subject: subject.into(),
        detail: json!({"why": "test"}),
    }
}

pub(crate) fn reminder(subject: &str) -> TimerEntry {
    TimerEntry::new("reminder", subject)
}

/// The keys of the requests indexed under `name`.
pub(crate) async fn indexed(store: &Store, name: &str) -> Vec<String> {
    store
        .index_keys(Table::Requests, name)
        .await
        .expect("index")
}

pub(crate) async fn audit_lines(store: &Store) -> Vec<Value> {
    let mut out = Vec::new();
    store.export_audit(&mut out).await.expect("export");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// A request created with a DM, an audit entry and a reminder.
pub(crate) fn create(key: &str) -> Change {
    Change::new()
        .expect(Table::Requests, key, None)
        .put(Table::Requests, key, &req("pending"))
        .outbox(dm("U0ALICE001", "received", &format!("{key}/requester")))
        .audit(event("request.created", key))
        .timer(t(60), reminder(key))
}

/// Writes an unreadable row straight into the backend, as damage or an old build
/// would leave it: `table` is `Timers` (key: a timer key), `Outbox` (a seq key) or a
/// keyed table (text key). `sled` is the whole stored value on sled; `pg` the JSON
/// on PostgreSQL (which only stores valid JSON).
pub(crate) async fn plant(store: &Store, table: Table, key: &[u8], sled: &[u8], pg: &str) {
    if let Some(s) = store.sled() {
        s.tree(table).insert(key, sled).expect("planted");
        return;
    }
    let p = store.postgres().expect("a backend");
    let client = p.client().await.expect("client");
    let planted = match table {
        Table::Timers => {
            let (due, subject, kind) = parse_timer_key(key).expect("a timer key");
            client
                .execute(
                    "INSERT INTO c1bot_timers (due_ms, subject, kind, v, entry) VALUES ($1, $2, $3, 1, $4::text::jsonb)",
                    &[&(due as i64), &subject, &kind, &pg],
                )
                .await
        }
        Table::Outbox => {
            let id = keys::seq_from_key(key).expect("a seq key") as i64;
            client
                .execute(
                    "INSERT INTO c1bot_outbox (id, v, entry) VALUES ($1, 1, $2::text::json) \
                     ON CONFLICT (id) DO UPDATE SET entry = EXCLUDED.entry",
                    &[&id, &pg],
                )
                .await
        }
        keyed => {
            let key = String::from_utf8_lossy(key).into_owned();
            let data: Value = serde_json::from_str(pg).expect("JSON");
            let (v, rev, data) = match data.get("data") {
                Some(inner) => (
                    data["v"].as_i64().unwrap_or(1) as i32,
                    data["rev"].as_i64().unwrap_or(0),
                    inner.to_string(),
                ),
                None => (1, 1, data.to_string()),
            };
            client
                .execute(
                    "INSERT INTO c1bot_records (tbl, key, v, rev, data) VALUES ($1, $2, $3, $4, $5::text::jsonb) \
                     ON CONFLICT (tbl, key) DO UPDATE SET v = EXCLUDED.v, rev = EXCLUDED.rev, data = EXCLUDED.data, idx = '{}'",
                    &[&keyed.name(), &key, &v, &rev, &data],
                )
                .await
        }
    };
    planted.expect("planted");
}

/// Edits (`Some`) or removes (`None`) stored audit entry `seq` behind the store's back.
pub(crate) async fn tamper_audit(store: &Store, seq: u64, replace: Option<(&str, &str)>) {
    if let Some(s) = store.sled() {
        let tree = s.tree(Table::Audit);
        let key = seq.to_be_bytes();
        match replace {
            Some((from, to)) => {
                let stored = tree.get(key).expect("read").expect("present");
                let edited = String::from_utf8(stored.to_vec())
                    .expect("utf8")
                    .replace(from, to);
                tree.insert(key, edited.as_bytes()).expect("tamper");
            }
            None => {
                tree.remove(key).expect("remove");
            }
        }
        return;
    }
    let client = store
        .postgres()
        .expect("a backend")
        .client()
        .await
        .expect("client");
    let seq = seq as i64;
    match replace {
        Some((from, to)) => client
            .execute(
                "UPDATE c1bot_audit SET entry = replace(entry, $2, $3) WHERE seq = $1",
                &[&seq, &from, &to],
            )
            .await
            .expect("tamper"),
        None => client
            .execute("DELETE FROM c1bot_audit WHERE seq = $1", &[&seq])
            .await
            .expect("remove"),
    };
}
