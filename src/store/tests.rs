//! SledStore-level tests over real sled directories: atomicity, durability across a
//! process exit, the directory lock, the outbox, timers and the audit chain.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Req {
    state: String,
}

impl Record for Req {
    const VERSION: u32 = 2;
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

fn audit_lines(store: &SledStore) -> Vec<Value> {
    let mut out = Vec::new();
    store.export_audit(&mut out).expect("export");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
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
async fn records_come_back_with_their_version_and_revision() {
    let store = SledStore::temporary().expect("store");
    store.commit(create("REQ-1")).await.expect("commit");
    let got = store
        .get::<Req>(Table::Requests, "REQ-1")
        .expect("read")
        .expect("present");
    assert_eq!((got.v, got.rev, got.data), (2, 1, req("pending")));
    let change = Change::new().expect(Table::Requests, "REQ-1", Some(1)).put(
        Table::Requests,
        "REQ-1",
        &req("approved"),
    );
    store.commit(change).await.expect("second write");
    let got = store.get::<Req>(Table::Requests, "REQ-1").expect("read");
    assert_eq!(got.map(|r| (r.rev, r.data)), Some((2, req("approved"))));
}

#[tokio::test]
async fn a_failed_expectation_writes_nothing() {
    let store = SledStore::temporary().expect("store");
    store.commit(create("REQ-1")).await.expect("first");
    let before_audit = audit_lines(&store).len();
    let before_outbox = store.pending_outbox().expect("outbox").len();

    let stale = Change::new()
        .expect(Table::Requests, "REQ-1", Some(7))
        .put(Table::Requests, "REQ-1", &req("approved"))
        .put(Table::Sessions, "modal/V1", &req("x"))
        .outbox(dm("U0BOB00001", "approved", "REQ-1/approver"))
        .audit(event("decision.approved", "REQ-1"))
        .timer(t(1), reminder("REQ-2"))
        .cancel_timer(t(60), "REQ-1", "reminder");
    let err = store.commit(stale).await.expect_err("stale revision");
    assert!(
        matches!(err, CommitError::Conflict { table: Table::Requests, ref key } if key == "REQ-1")
    );

    let got = store.get::<Req>(Table::Requests, "REQ-1").expect("read");
    assert_eq!(got.map(|r| r.data), Some(req("pending")));
    assert!(store
        .get::<Req>(Table::Sessions, "modal/V1")
        .expect("read")
        .is_none());
    assert_eq!(store.pending_outbox().expect("outbox").len(), before_outbox);
    assert_eq!(audit_lines(&store).len(), before_audit);
    assert_eq!(
        store.due_timers(t(3600)).expect("timers"),
        vec![(t(60), reminder("REQ-1"))]
    );
}

#[tokio::test]
async fn two_decisions_on_the_same_revision_count_once() {
    let store = SledStore::temporary().expect("store");
    store.commit(create("REQ-1")).await.expect("create");
    let decide = |who: &str| {
        Change::new().expect(Table::Requests, "REQ-1", Some(1)).put(
            Table::Requests,
            "REQ-1",
            &req(&format!("approved by {who}")),
        )
    };
    store.commit(decide("bob")).await.expect("first decision");
    let second = store.commit(decide("carol")).await;
    assert!(matches!(second, Err(CommitError::Conflict { .. })));
    let got = store.get::<Req>(Table::Requests, "REQ-1").expect("read");
    assert_eq!(got.map(|r| r.data), Some(req("approved by bob")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_decisions_on_one_revision_yield_exactly_one_winner() {
    let store = SledStore::temporary().expect("store");
    store.commit(create("REQ-1")).await.expect("create");
    let clicks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let change = Change::new()
                    .expect(Table::Requests, "REQ-1", Some(1))
                    .put(Table::Requests, "REQ-1", &req(&format!("decided by {i}")))
                    .audit(event("decision.approved", "REQ-1"));
                store.commit(change).await
            })
        })
        .collect();
    let mut winners = 0;
    for click in clicks {
        match click.await.expect("task") {
            Ok(_) => winners += 1,
            Err(CommitError::Conflict { .. }) => {}
            Err(other) => panic!("unexpected: {other}"),
        }
    }
    assert_eq!(winners, 1);
    let decisions = audit_lines(&store)
        .iter()
        .filter(|l| l["action"] == "decision.approved")
        .count();
    assert_eq!(decisions, 1);
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
    let store = SledStore::open(dir.path()).expect("reopen");
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
    SledStore::open(dir.path()).expect("reopen");
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
async fn index_tables_and_reserved_meta_keys_cannot_be_written_directly() {
    let store = SledStore::temporary().expect("store");
    for change in [
        Change::new().put(Table::Outbox, "x", &req("x")),
        Change::new().delete(Table::Audit, "x"),
        Change::new().put(Table::Meta, "store/counter/request", &req("x")),
        Change::new().timer(t(1), reminder("REQ\0-1")),
    ] {
        let err = store.commit(change).await.expect_err("refused");
        assert!(matches!(err, CommitError::Invalid { .. }), "{err:?}");
    }
    store
        .commit(Change::new().put(Table::Meta, "settings/x", &req("x")))
        .await
        .expect("a caller's own meta key is fine");
}

#[tokio::test]
async fn records_are_scanned_by_key_prefix_in_key_order() {
    let store = SledStore::temporary().expect("store");
    let change = Change::new()
        .put(Table::Sessions, "modal/U2", &req("b"))
        .put(Table::Sessions, "home/U1", &req("z"))
        .put(Table::Sessions, "modal/U1", &req("a"));
    store.commit(change).await.expect("commit");
    let found: Vec<(String, String)> = store
        .scan_prefix::<Req>(Table::Sessions, "modal/")
        .expect("scan")
        .into_iter()
        .map(|(k, r)| (k, r.data.state))
        .collect();
    assert_eq!(
        found,
        [
            ("modal/U1".into(), "a".into()),
            ("modal/U2".into(), "b".into())
        ]
    );
}

#[tokio::test]
async fn outbox_entries_come_back_in_commit_order() {
    let store = SledStore::temporary().expect("store");
    for i in 0..300 {
        let message = dm("U0ALICE001", &format!("m{i}"), &format!("K/{i}"));
        store
            .commit(Change::new().outbox(message))
            .await
            .expect("commit");
    }
    let texts: Vec<String> = store
        .pending_outbox()
        .expect("outbox")
        .into_iter()
        .map(|(_, e)| {
            e.message.args["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let expected: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected);
}

#[tokio::test]
async fn a_commit_with_messages_wakes_the_sender_even_if_it_was_not_waiting_yet() {
    let store = SledStore::temporary().expect("store");
    store.commit(create("REQ-1")).await.expect("commit");
    tokio::time::timeout(Duration::from_secs(5), store.outbox_changed())
        .await
        .expect("the wake-up was kept");
    tokio::time::timeout(Duration::from_secs(5), store.timers_changed())
        .await
        .expect("the timer wake-up was kept");
}

#[tokio::test]
async fn a_delivered_message_leaves_the_outbox_and_records_where_it_landed() {
    let store = SledStore::temporary().expect("store");
    let done = store.commit(create("REQ-1")).await.expect("commit");
    let posted = SlackRef::new("D0ALICE001", "1.000100");
    store
        .outbox_delivered(done.outbox_ids[0], Some(posted.clone()), t(2))
        .await
        .expect("delivered");
    assert!(store.pending_outbox().expect("outbox").is_empty());
    assert_eq!(
        store.slack_ref("REQ-1/requester").expect("ref"),
        Some(posted.clone())
    );
    assert_eq!(
        store.slack_refs("REQ-1/").expect("refs"),
        vec![("REQ-1/requester".to_owned(), posted)]
    );
    let last = audit_lines(&store).pop().expect("audited");
    assert_eq!(last["action"], "notification.sent");
    assert_eq!(last["subject"], "REQ-1");
    assert_eq!(last["detail"]["channel"], "D0ALICE001");
    // Settling twice (a retried call after a crash) changes nothing.
    store
        .outbox_delivered(done.outbox_ids[0], None, t(3))
        .await
        .expect("idempotent");
    assert_eq!(audit_lines(&store).len(), 2);
}

#[tokio::test]
async fn a_failed_message_counts_attempts_then_is_given_up_and_audited() {
    let store = SledStore::temporary().expect("store");
    let id = store
        .commit(create("REQ-1"))
        .await
        .expect("commit")
        .outbox_ids[0];
    store
        .outbox_failed(id, "HTTP 500", false, false, t(1), &[])
        .await
        .expect("retry");
    store
        .outbox_failed(id, "HTTP 503", false, false, t(5), &[])
        .await
        .expect("retry");
    let (_, entry) = store
        .pending_outbox()
        .expect("outbox")
        .pop()
        .expect("still pending");
    assert_eq!(entry.attempts, 2);
    assert_eq!(entry.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(
        (entry.first_failed_at, entry.last_failed_at),
        (Some(t(1)), Some(t(5)))
    );

    store
        .outbox_failed(id, "channel_not_found", true, false, t(9), &[])
        .await
        .expect("give up");
    assert!(store.pending_outbox().expect("outbox").is_empty());
    let last = audit_lines(&store).pop().expect("audited");
    assert_eq!(last["action"], "notification.failed");
    assert_eq!(last["detail"]["error"], "channel_not_found");
    assert_eq!(last["detail"]["attempts"], 3);
    assert!(store.verify_audit().expect("verify").is_ok());
}

#[tokio::test]
async fn giving_up_queues_the_words_owed_in_the_same_transaction() {
    let store = SledStore::temporary().expect("store");
    let id = store
        .commit(create("REQ-1"))
        .await
        .expect("commit")
        .outbox_ids[0];
    let word = OutboxMessage::text("U0BOB00001", "could not invite: they are a guest.");
    store
        .outbox_failed(
            id,
            "HTTP 500",
            false,
            false,
            t(1),
            std::slice::from_ref(&word),
        )
        .await
        .expect("retry");
    let pending = store.pending_outbox().expect("outbox");
    assert_eq!(pending.len(), 1, "a retry owes nobody anything yet");
    store
        .outbox_failed(
            id,
            "ura_max_channels",
            true,
            false,
            t(2),
            std::slice::from_ref(&word),
        )
        .await
        .expect("give up");
    let pending = store.pending_outbox().expect("outbox");
    assert_eq!(pending.len(), 1);
    assert_ne!(pending[0].0, id);
    assert_eq!(pending[0].1.message, word);
    assert_eq!(pending[0].1.enqueued_at, t(2));
}

#[tokio::test]
async fn due_timers_come_out_in_time_order_and_only_when_due() {
    let store = SledStore::temporary().expect("store");
    let change = Change::new()
        .timer(t(300), reminder("REQ-3"))
        .timer(t(100), reminder("REQ-1"))
        .timer(t(200), TimerEntry::new("expiry", "REQ-2"))
        .timer(t(100), TimerEntry::new("expiry", "REQ-0"));
    store.commit(change).await.expect("commit");
    assert!(store.due_timers(t(99)).expect("timers").is_empty());
    let due: Vec<(DateTime<Utc>, String)> = store
        .due_timers(t(200))
        .expect("timers")
        .into_iter()
        .map(|(at, e)| (at, format!("{}:{}", e.subject, e.kind)))
        .collect();
    assert_eq!(
        due,
        [
            (t(100), "REQ-0:expiry".to_owned()),
            (t(100), "REQ-1:reminder".to_owned()),
            (t(200), "REQ-2:expiry".to_owned()),
        ]
    );
    assert_eq!(store.next_timer_due().expect("next"), Some(t(100)));
}

#[tokio::test]
async fn a_cancelled_timer_never_fires() {
    let store = SledStore::temporary().expect("store");
    store.commit(create("REQ-1")).await.expect("commit");
    store
        .commit(Change::new().cancel_timer(t(60), "REQ-1", "reminder"))
        .await
        .expect("cancel");
    assert!(store.due_timers(t(10_000)).expect("timers").is_empty());
    assert_eq!(store.next_timer_due().expect("next"), None);
}

#[tokio::test]
async fn the_audit_chain_of_real_commits_verifies_and_exports_one_object_per_line() {
    let store = SledStore::temporary().expect("store");
    for n in 1..=4 {
        store
            .commit(create(&format!("REQ-{n}")))
            .await
            .expect("commit");
    }
    let verification = store.verify_audit().expect("verify");
    assert_eq!(
        verification,
        AuditVerification {
            count: 4,
            problem: None
        }
    );
    let lines = audit_lines(&store);
    let seqs: Vec<u64> = lines.iter().filter_map(|l| l["seq"].as_u64()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(lines[0]["prev_hash"], GENESIS_HASH);
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    assert_eq!(lines[2]["subject"], "REQ-3");
}

#[tokio::test]
async fn an_edited_stored_audit_entry_is_detected_with_its_seq() {
    let store = SledStore::temporary().expect("store");
    for n in 1..=3 {
        store
            .commit(create(&format!("REQ-{n}")))
            .await
            .expect("commit");
    }
    let tree = store.tree(Table::Audit);
    let key = 2u64.to_be_bytes();
    let stored = tree.get(key).expect("read").expect("present");
    let edited = String::from_utf8(stored.to_vec())
        .expect("utf8")
        .replace("U0ALICE001", "U0MALLORY1");
    tree.insert(key, edited.as_bytes()).expect("tamper");
    let problem = store
        .verify_audit()
        .expect("verify")
        .problem
        .expect("detected");
    assert_eq!(problem.seq, 2);

    tree.remove(key).expect("remove");
    let problem = store
        .verify_audit()
        .expect("verify")
        .problem
        .expect("detected");
    assert_eq!(problem.seq, 2);
    assert!(problem.reason.contains("missing"), "{}", problem.reason);
}

#[tokio::test]
async fn a_group_commit_applies_each_change_and_a_conflict_stops_only_its_own() {
    let store = SledStore::temporary().expect("store");
    store
        .commit(Change::new().put(Table::Requests, "REQ-1", &req("active")))
        .await
        .expect("seed");
    let changes = vec![
        Change::new()
            .expect(Table::Requests, "REQ-1", Some(1))
            .put(Table::Requests, "REQ-1", &req("revoking"))
            .timer(t(60), reminder("REQ-1")),
        // Read at the same revision: loses to the first.
        Change::new().expect(Table::Requests, "REQ-1", Some(1)).put(
            Table::Requests,
            "REQ-1",
            &req("double"),
        ),
        Change::new()
            .put(Table::Requests, "REQ-2", &req("new"))
            .outbox(dm("U0ALICE001", "hi", "REQ-2/card/requester")),
    ];
    let results = store.commit_all(changes).await;
    assert!(results[0].is_ok());
    assert!(matches!(results[1], Err(CommitError::Conflict { .. })));
    assert!(results[2].is_ok());
    let one: Versioned<Req> = store
        .get(Table::Requests, "REQ-1")
        .expect("read")
        .expect("there");
    assert_eq!(one.data, req("revoking"));
    assert_eq!(store.pending_outbox().expect("outbox").len(), 1);
    assert_eq!(store.due_timers(t(61)).expect("timers").len(), 1);
    assert_eq!(
        store
            .due_timers_limit(t(61), 0)
            .expect("timers")
            .timers
            .len(),
        0
    );
    assert_eq!(
        store
            .timers_of_kind_before("reminder", t(120))
            .expect("timers")
            .len(),
        1
    );
    assert!(store
        .timers_of_kind_before("expiry", t(120))
        .expect("timers")
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_commits_share_flushes_and_all_finish() {
    let dir = tempfile::tempdir().expect("dir");
    let store = SledStore::open(dir.path()).expect("store");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300 {
        let store = store.clone();
        tasks.spawn(async move {
            store
                .commit(
                    Change::new()
                        .put(Table::Requests, format!("REQ-{i}"), &req("active"))
                        .audit(event("grant.revoke", &format!("REQ-{i}"))),
                )
                .await
        });
    }
    let all = tokio::time::timeout(Duration::from_secs(60), async {
        let mut ok = 0;
        while let Some(done) = tasks.join_next().await {
            ok += usize::from(done.expect("task").is_ok());
        }
        ok
    })
    .await
    .expect("every commit returns (sled's flush pool must not deadlock)");
    assert_eq!(all, 300);
    assert_eq!(audit_lines(&store).len(), 300);
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

#[tokio::test]
async fn an_undecodable_timer_is_reported_apart_and_the_rest_still_come_due() {
    let store = SledStore::temporary().expect("store");
    store
        .commit(
            Change::new()
                .timer(t(10), reminder("REQ-1"))
                .timer(t(30), reminder("REQ-2")),
        )
        .await
        .expect("scheduled");
    let mut bad = t(20).timestamp_millis().to_be_bytes().to_vec();
    bad.extend_from_slice(b"REQ-X\0reminder");
    store
        .tree(Table::Timers)
        .insert(bad.clone(), &b"not json"[..])
        .expect("planted");
    let due = store.due_timers_limit(t(60), 10).expect("due");
    let subjects: Vec<&str> = due.timers.iter().map(|(_, e)| e.subject.as_str()).collect();
    assert_eq!(subjects, ["REQ-1", "REQ-2"]);
    assert_eq!(due.undecodable, vec![bad]);
}

/// A record indexed by its owner and counted by its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Owned {
    owner: String,
    state: String,
}

impl Record for Owned {
    const VERSION: u32 = 1;

    fn index(&self) -> Vec<IndexKey> {
        vec![
            IndexKey::lookup(format!("owner:{}", self.owner)),
            IndexKey::counted(format!("state:{}", self.state)),
        ]
    }
}

fn owned(owner: &str, state: &str) -> Owned {
    Owned {
        owner: owner.into(),
        state: state.into(),
    }
}

#[tokio::test]
async fn index_entries_and_counts_follow_each_record_in_its_own_commit() {
    let store = SledStore::temporary().expect("store");
    store
        .commit(
            Change::new()
                .put(Table::Requests, "REQ-1", &owned("alice", "pending"))
                .put(Table::Requests, "REQ-2", &owned("alice", "pending"))
                .put(Table::Requests, "REQ-3", &owned("bob", "pending")),
        )
        .await
        .expect("commit");
    let alices: Vec<String> = store
        .index_scan::<Owned>(Table::Requests, "owner:alice")
        .expect("index")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(alices, ["REQ-1", "REQ-2"]);
    assert_eq!(
        store
            .count(Table::Requests, "state:pending")
            .expect("count"),
        3
    );

    // REQ-2 changes hands and state; REQ-3 goes away.
    store
        .commit(
            Change::new()
                .put(Table::Requests, "REQ-2", &owned("carol", "approved"))
                .delete(Table::Requests, "REQ-3"),
        )
        .await
        .expect("commit");
    assert_eq!(
        store
            .index_keys(Table::Requests, "owner:alice")
            .expect("index"),
        ["REQ-1"]
    );
    assert_eq!(
        store
            .index_keys(Table::Requests, "owner:carol")
            .expect("index"),
        ["REQ-2"]
    );
    assert!(store
        .index_keys(Table::Requests, "owner:bob")
        .expect("index")
        .is_empty());
    assert_eq!(
        store
            .count(Table::Requests, "state:pending")
            .expect("count"),
        1
    );
    assert_eq!(
        store
            .count(Table::Requests, "state:approved")
            .expect("count"),
        1
    );

    // A failed commit moves nothing.
    let failed = store
        .commit(
            Change::new()
                .expect(Table::Requests, "REQ-1", Some(99))
                .put(Table::Requests, "REQ-1", &owned("dave", "denied")),
        )
        .await;
    assert!(failed.is_err());
    assert_eq!(
        store
            .index_keys(Table::Requests, "owner:alice")
            .expect("index"),
        ["REQ-1"]
    );
    assert_eq!(
        store.count(Table::Requests, "state:denied").expect("count"),
        0
    );
}

#[tokio::test]
async fn records_written_before_their_index_are_indexed_once_at_reindex() {
    let store = SledStore::temporary().expect("store");
    // Written as an older build did: the same data without index entries.
    store
        .commit(Change::new().put(Table::Requests, "REQ-1", &req("pending")))
        .await
        .expect("commit");
    store
        .tree(Table::Requests)
        .insert(
            "REQ-2",
            &br#"{"v":1,"rev":4,"data":{"owner":"alice","state":"pending"}}"#[..],
        )
        .expect("planted");
    store
        .tree(Table::Requests)
        .remove("REQ-1")
        .expect("only Owned rows");
    assert_eq!(
        store
            .reindex::<Owned>(Table::Requests, 1)
            .await
            .expect("reindex"),
        1
    );
    assert_eq!(
        store
            .index_keys(Table::Requests, "owner:alice")
            .expect("index"),
        ["REQ-2"]
    );
    assert_eq!(
        store
            .count(Table::Requests, "state:pending")
            .expect("count"),
        1
    );
    // Once per version: a second start does nothing.
    assert_eq!(
        store
            .reindex::<Owned>(Table::Requests, 1)
            .await
            .expect("again"),
        0
    );
}
