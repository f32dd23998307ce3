//! sled-only tests over real directories: durability across a reopen and a process
//! exit, the directory lock, a corrupt directory, flushes shared by many commits, and
//! quarantine. What every backend must do is `store::suite`.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Req {
    state: String,
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

fn req(state: &str) -> Req {
    Req {
        state: state.into(),
    }
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, 0)
        .single()
        .expect("valid instant")
}

fn dm(user: &str, text: &str, record_ref: &str) -> OutboxMessage {
    OutboxMessage {
        method: "chat.postMessage".into(),
        args: json!({"channel": user, "text": text}),
        record_ref: Some(record_ref.into()),
        update_ref: None,
        if_refused: None,
    }
}

fn event(action: &str, subject: &str) -> AuditEvent {
    AuditEvent {
        actor: "U0ALICE001".into(),
        action: action.into(),
        subject: subject.into(),
        detail: json!({"why": "test"}),
    }
}

fn reminder(subject: &str) -> TimerEntry {
    TimerEntry::new("reminder", subject)
}

/// A request created with a DM, an audit entry and a reminder.
fn create(key: &str) -> Change {
    Change::new()
        .expect(Table::Requests, key, None)
        .put(Table::Requests, key, &req("pending"))
        .outbox(dm("U0ALICE001", "received", &format!("{key}/requester")))
        .audit(event("request.created", key))
        .timer(t(60), reminder(key))
}

#[tokio::test]
async fn request_numbers_are_sequential_skip_nothing_on_conflict_and_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = |n: u64| format!("REQ-{n}");
    {
        let store = SledStore::open(dir.path()).expect("open");
        for expected in [1001, 1002] {
            let done = store
                .commit_numbered(|n| Ok(create(&key(n))))
                .await
                .expect("numbered commit");
            assert_eq!(done.number, Some(expected));
        }
        // A numbered change that fails gives its number back.
        let failed = store.commit_numbered(|_| Ok(create(&key(1001)))).await;
        assert!(matches!(failed, Err(CommitError::Conflict { .. })));
        // So does one whose build fails, or that would commit nothing.
        let failed = store.commit_numbered(|_| Err("no template".into())).await;
        assert!(matches!(failed, Err(CommitError::Invalid { .. })));
        let failed = store.commit_numbered(|_| Ok(Change::new())).await;
        assert!(matches!(failed, Err(CommitError::Invalid { .. })));
    }
    let store = SledStore::reopen(dir.path()).expect("reopen");
    let done = store
        .commit_numbered(|n| Ok(create(&key(n))))
        .await
        .expect("after reopen");
    assert_eq!(done.number, Some(1003));
    assert_eq!(done.outbox_ids, vec![3]);
    assert_eq!(done.audit_seqs, vec![3]);
    let ids: Vec<u64> = store
        .pending_outbox()
        .expect("outbox")
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids, [1, 2, 3]);
}

const CRASH_CHILD_ENV: &str = "C1BOT_STORE_CRASH_CHILD_DIR";

/// The child half of the crash test: commit, then exit at once, running no
/// destructor (so nothing but `commit` itself can have flushed).
fn crash_child(dir: &str) -> ! {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let store = SledStore::open(std::path::Path::new(dir)).expect("child opens the store");
    runtime
        .block_on(store.commit(create("REQ-1")))
        .expect("child commits");
    std::process::exit(0);
}

#[test]
fn a_commit_survives_the_process_exiting_right_after_it_returns() {
    if let Ok(dir) = std::env::var(CRASH_CHILD_ENV) {
        crash_child(&dir);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "store::tests::a_commit_survives_the_process_exiting_right_after_it_returns",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_ENV, dir.path())
        .status()
        .expect("run the child");
    assert!(status.success(), "child failed: {status}");

    let store = SledStore::open(dir.path()).expect("reopen after the exit");
    let got = store.get::<Req>(Table::Requests, "REQ-1").expect("read");
    assert_eq!(got.map(|r| r.data), Some(req("pending")));
    assert_eq!(store.pending_outbox().expect("outbox").len(), 1);
    assert_eq!(store.next_timer_due().expect("timers"), Some(t(60)));
    let verification = store.verify_audit().expect("verify");
    assert_eq!((verification.count, verification.problem), (1, None));
}

#[test]
fn a_second_open_of_the_same_directory_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = SledStore::open(dir.path()).expect("first open");
    let err = SledStore::open(dir.path()).expect_err("second open");
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "another c1bot is using {}: only one instance may write a data directory",
            dir.path().display()
        )
    );
}

#[test]
fn the_directory_can_be_reopened_once_the_store_is_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SledStore::open(dir.path()).expect("open");
    let clone = store.clone();
    drop(store);
    drop(clone);
    SledStore::reopen(dir.path()).expect("reopen");
}

#[test]
fn a_corrupt_directory_is_a_clear_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("conf"), b"\xff\xfe not a sled config").expect("write conf");
    std::fs::write(dir.path().join("db"), vec![0xA5; 4096]).expect("write db");
    let err = SledStore::open(dir.path()).expect_err("garbage is refused");
    assert!(
        err.to_string().contains(&dir.path().display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn an_undecodable_row_is_moved_aside_and_counted() {
    let store = SledStore::temporary().expect("store");
    store
        .tree(Table::Timers)
        .insert(b"not a timer key", &b"{garbage"[..])
        .expect("planted");
    assert!(store
        .quarantine(Table::Timers, b"not a timer key", "not a timer key", t(0))
        .await
        .expect("quarantined"));
    assert!(store.tree(Table::Timers).is_empty());
    assert_eq!(store.quarantined_count(Table::Timers).expect("count"), 1);
    let moved = store
        .get::<Quarantined>(Table::Quarantine, "timers/6e6f7420612074696d6572206b6579")
        .expect("read")
        .expect("kept");
    assert_eq!(moved.data.bytes, "{garbage");
    assert!(!store
        .quarantine(Table::Timers, b"not a timer key", "again", t(1))
        .await
        .expect("no-op"));
    assert_eq!(store.quarantined_count(Table::Timers).expect("count"), 1);
}
