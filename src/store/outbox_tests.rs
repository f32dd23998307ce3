//! The outbox's in-memory index and the sender's reads: ids handed over in commit
//! order once flushed, per-conversation counts kept exact across settlements and a
//! reopen, unreadable rows reported instead of failing the scan, the durable attempt
//! mark, and old `slack_refs` records read with the copies added later.

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::keys::seq_key;
use super::*;

const BOB: &str = "U0BOB00001";

fn dm(to: &str, key: &str) -> OutboxMessage {
    OutboxMessage::post(to, &json!({"text": "hello"}), key.into())
}

fn t(secs: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, 0)
        .single()
        .expect("valid instant")
}

#[tokio::test]
async fn concurrent_commits_hand_their_ids_to_the_sender_in_commit_order() {
    let store = SledStore::temporary().expect("store");
    let scan = store.outbox_resume().expect("resume");
    assert!(scan.entries.is_empty());
    let commits = (0..50).map(|i| {
        let store = store.clone();
        tokio::spawn(async move {
            let change = Change::new()
                .outbox(dm(BOB, &format!("K/{i}")))
                .outbox(dm("U0ALICE001", &format!("K/{i}/b")));
            store.commit(change).await.expect("commit")
        })
    });
    for commit in commits {
        commit.await.expect("joined");
    }
    let ids = store.take_committed_outbox();
    assert_eq!(ids, (1..=100).collect::<Vec<u64>>());
    assert!(store.take_committed_outbox().is_empty(), "handed out once");
}

#[tokio::test]
async fn queued_counts_are_exact_per_person_and_rebuilt_on_open() {
    let dir = tempfile::tempdir().expect("dir");
    {
        let store = SledStore::open(dir.path()).expect("open");
        let change = Change::new()
            .outbox(dm(BOB, "A/1"))
            .outbox(dm(BOB, "A/2"))
            .outbox(OutboxMessage::update(&json!({"text": "x"}), "A/1".into()));
        let ids = store.commit(change).await.expect("commit").outbox_ids;
        assert_eq!(store.outbox_queued_to(BOB), 2);
        assert_eq!(store.outbox_depth(), 3);
        store
            .outbox_delivered(ids[0], Some(SlackRef::new("D0BOB00001", "1.1")), t(1))
            .await
            .expect("delivered");
        store
            .outbox_failed(ids[1], "channel_not_found", true, false, t(2), &[])
            .await
            .expect("given up");
        assert_eq!(store.outbox_queued_to(BOB), 0);
        assert_eq!(store.outbox_depth(), 1);
        store
            .commit(Change::new().outbox(dm(BOB, "A/3")))
            .await
            .expect("commit");
    }
    let store = SledStore::reopen(dir.path()).expect("reopen");
    assert_eq!(store.outbox_queued_to(BOB), 1);
    assert_eq!(store.outbox_queued_to("U0ALICE001"), 0);
    assert_eq!(store.outbox_depth(), 2);
}

#[tokio::test]
async fn an_unreadable_row_is_reported_by_the_scan_and_the_rest_still_read() {
    let store = SledStore::temporary().expect("store");
    store
        .commit(Change::new().outbox(dm(BOB, "A/1")))
        .await
        .expect("commit");
    let tree = store.tree(Table::Outbox);
    tree.insert(seq_key(0), &b"{not json"[..])
        .expect("planted before");
    tree.insert(seq_key(9), &b"\xff"[..])
        .expect("planted after");
    tree.insert(&b"short"[..], &b"{}"[..])
        .expect("planted odd key");
    let scan = store.outbox_resume().expect("the scan does not stop");
    assert_eq!(scan.entries.len(), 1);
    let keys: Vec<Vec<u8>> = scan.undecodable.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(
        keys,
        [seq_key(0).to_vec(), seq_key(9).to_vec(), b"short".to_vec()]
    );
    assert_eq!(store.pending_outbox().expect("pending").len(), 1);
    assert!(matches!(
        store.outbox_entry(9),
        Err(StoreError::Decode { .. })
    ));
}

#[tokio::test]
async fn an_attempt_is_marked_durably_before_the_call() {
    let dir = tempfile::tempdir().expect("dir");
    let id = {
        let store = SledStore::open(dir.path()).expect("open");
        let id = store
            .commit(Change::new().outbox(dm(BOB, "A/1")))
            .await
            .expect("commit")
            .outbox_ids[0];
        assert!(store.outbox_attempt_started(id, t(5)).await.expect("mark"));
        assert!(store.outbox_attempt_started(id, t(9)).await.expect("mark"));
        id
    };
    let store = SledStore::reopen(dir.path()).expect("reopen after the 'crash'");
    let entry = store.outbox_entry(id).expect("read").expect("pending");
    assert!(entry.maybe_posted);
    assert_eq!(entry.attempt_started_at, Some(t(5)), "the first attempt");
    store
        .outbox_failed(id, "ratelimited", false, false, t(10), &[])
        .await
        .expect("failed");
    let entry = store.outbox_entry(id).expect("read").expect("pending");
    assert!(!entry.maybe_posted, "a refused attempt posted nothing");
    assert!(!store
        .outbox_attempt_started(999, t(11))
        .await
        .expect("mark"));
}

#[tokio::test]
async fn a_reference_written_before_copies_existed_still_reads() {
    let store = SledStore::temporary().expect("store");
    store
        .tree(Table::SlackRefs)
        .insert(
            "REQ-1/requester",
            &br#"{"v":1,"rev":1,"data":{"channel":"D1","ts":"1.000100"}}"#[..],
        )
        .expect("an old record");
    let posted = store
        .slack_ref("REQ-1/requester")
        .expect("read")
        .expect("some");
    assert_eq!(posted, SlackRef::new("D1", "1.000100"));
    assert_eq!(posted.all().len(), 1);
    let with_copy = SlackRef {
        copies: vec![Posted {
            channel: "D1".into(),
            ts: "2.000100".into(),
        }],
        ..posted
    };
    let json = serde_json::to_value(&with_copy).expect("json");
    assert_eq!(json["copies"][0]["ts"], "2.000100");
    assert_eq!(with_copy.all()[1].ts, "2.000100");
}

#[test]
fn a_message_encoded_when_queued_is_stored_as_the_entry_would_encode_it() {
    let card = json!({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a <b> & \"c\" \u{e9}"}}]});
    let messages = [
        dm(BOB, "REQ-1/requester"),
        OutboxMessage::update(&card, "REQ-1/access/active/U0BOB00001".into()),
        OutboxMessage::respond("https://hooks.slack.test/1", "done")
            .if_refused(vec![BOB.into()], "Could not answer".into()),
    ];
    for message in messages {
        let queued = outbox::Queued::new(message.clone()).expect("encodes");
        assert_eq!(queued.queued_to.as_deref(), message.queued_to());
        let stored = queued.entry_json(t(7)).expect("wraps");
        assert_eq!(
            stored,
            OutboxEntry::new(message.clone(), t(7))
                .encode()
                .expect("encodes")
        );
        assert_eq!(
            OutboxEntry::decode(&stored).expect("decodes"),
            OutboxEntry::new(message, t(7))
        );
    }
}
