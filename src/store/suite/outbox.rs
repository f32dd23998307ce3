//! The outbox on every backend: entries in commit order (handed to the sender in that
//! order even when committed concurrently), wake-ups, delivery and failure
//! settlements with their audit entries, the words owed when giving up, and an
//! unreadable row reported and moved aside.

use std::time::Duration;

use super::*;

both!(
    outbox_entries_come_back_in_commit_order,
    concurrent_commits_hand_their_ids_to_the_sender_in_commit_order,
    a_commit_with_messages_wakes_the_sender_even_if_it_was_not_waiting_yet,
    a_delivered_message_leaves_the_outbox_and_records_where_it_landed,
    a_failed_message_counts_attempts_then_is_given_up_and_audited,
    giving_up_queues_the_words_owed_in_the_same_transaction,
    an_undecodable_outbox_row_is_reported_by_the_scan_and_the_rest_still_read,
);

async fn outbox_entries_come_back_in_commit_order(store: Store) {
    for i in 0..300 {
        let message = dm("U0ALICE001", &format!("m{i}"), &format!("K/{i}"));
        store
            .commit(Change::new().outbox(message))
            .await
            .expect("commit");
    }
    let texts: Vec<String> = store
        .pending_outbox()
        .await
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

async fn concurrent_commits_hand_their_ids_to_the_sender_in_commit_order(store: Store) {
    let scan = store.outbox_resume().await.expect("resume");
    assert!(scan.entries.is_empty());
    let commits: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let change = Change::new()
                    .outbox(dm("U0BOB00001", "a", &format!("K/{i}")))
                    .outbox(dm("U0ALICE001", "b", &format!("K/{i}/b")));
                store.commit(change).await.expect("commit")
            })
        })
        .collect();
    for commit in commits {
        commit.await.expect("joined");
    }
    let ids = store.take_committed_outbox();
    assert_eq!(ids, (1..=100).collect::<Vec<u64>>());
    assert!(store.take_committed_outbox().is_empty(), "handed out once");
    assert_eq!(store.outbox_queued_to("U0BOB00001"), 50);
    assert_eq!(store.outbox_depth(), 100);
}

async fn a_commit_with_messages_wakes_the_sender_even_if_it_was_not_waiting_yet(store: Store) {
    store.commit(create("REQ-1")).await.expect("commit");
    tokio::time::timeout(Duration::from_secs(5), store.outbox_changed())
        .await
        .expect("the wake-up was kept");
    tokio::time::timeout(Duration::from_secs(5), store.timers_changed())
        .await
        .expect("the timer wake-up was kept");
}

async fn a_delivered_message_leaves_the_outbox_and_records_where_it_landed(store: Store) {
    let done = store.commit(create("REQ-1")).await.expect("commit");
    let posted = SlackRef::new("D0ALICE001", "1.000100");
    store
        .outbox_delivered(done.outbox_ids[0], Some(posted.clone()), t(2))
        .await
        .expect("delivered");
    assert!(store.pending_outbox().await.expect("outbox").is_empty());
    assert_eq!(store.outbox_depth(), 0);
    assert_eq!(
        store.slack_ref("REQ-1/requester").await.expect("ref"),
        Some(posted.clone())
    );
    assert_eq!(
        store.slack_refs("REQ-1/").await.expect("refs"),
        vec![("REQ-1/requester".to_owned(), posted)]
    );
    let last = audit_lines(&store).await.pop().expect("audited");
    assert_eq!(last["action"], "notification.sent");
    assert_eq!(last["subject"], "REQ-1");
    assert_eq!(last["detail"]["channel"], "D0ALICE001");
    // Settling twice (a retried call after a crash) changes nothing.
    store
        .outbox_delivered(done.outbox_ids[0], None, t(3))
        .await
        .expect("idempotent");
    assert_eq!(audit_lines(&store).await.len(), 2);
}

async fn a_failed_message_counts_attempts_then_is_given_up_and_audited(store: Store) {
    let id = store
        .commit(create("REQ-1"))
        .await
        .expect("commit")
        .outbox_ids[0];
    assert!(store.outbox_attempt_started(id, t(0)).await.expect("mark"));
    for (error, at) in [("HTTP 500", t(1)), ("HTTP 503", t(5))] {
        store
            .outbox_failed(id, error, false, false, at, &[])
            .await
            .expect("retry");
    }
    let entry = store
        .outbox_entry(id)
        .await
        .expect("read")
        .expect("pending");
    assert_eq!(entry.attempts, 2);
    assert_eq!(entry.last_error.as_deref(), Some("HTTP 503"));
    assert_eq!(entry.attempt_started_at, Some(t(0)));
    assert_eq!(
        (entry.first_failed_at, entry.last_failed_at),
        (Some(t(1)), Some(t(5)))
    );
    store
        .outbox_failed(id, "channel_not_found", true, false, t(9), &[])
        .await
        .expect("give up");
    assert!(store.pending_outbox().await.expect("outbox").is_empty());
    assert!(!store.outbox_attempt_started(id, t(10)).await.expect("gone"));
    let last = audit_lines(&store).await.pop().expect("audited");
    assert_eq!(last["action"], "notification.failed");
    assert_eq!(last["detail"]["error"], "channel_not_found");
    assert_eq!(last["detail"]["attempts"], 3);
    assert!(store.verify_audit().await.expect("verify").is_ok());
}

async fn giving_up_queues_the_words_owed_in_the_same_transaction(store: Store) {
    let id = store
        .commit(create("REQ-1"))
        .await
        .expect("commit")
        .outbox_ids[0];
    let word = OutboxMessage::text("U0BOB00001", "could not invite: they are a guest.");
    let owed = std::slice::from_ref(&word);
    store
        .outbox_failed(id, "HTTP 500", false, false, t(1), owed)
        .await
        .expect("retry");
    let pending = store.pending_outbox().await.expect("outbox");
    assert_eq!(pending.len(), 1, "a retry owes nobody anything yet");
    store
        .outbox_failed(id, "ura_max_channels", true, false, t(2), owed)
        .await
        .expect("give up");
    let pending = store.pending_outbox().await.expect("outbox");
    assert_eq!(pending.len(), 1);
    assert_ne!(pending[0].0, id);
    assert_eq!(pending[0].1.message, word);
    assert_eq!(pending[0].1.enqueued_at, t(2));
}

async fn an_undecodable_outbox_row_is_reported_by_the_scan_and_the_rest_still_read(store: Store) {
    let ids = store
        .commit(
            Change::new()
                .outbox(dm("U0BOB00001", "one", "K/1"))
                .outbox(dm("U0BOB00001", "two", "K/2")),
        )
        .await
        .expect("commit")
        .outbox_ids;
    let key = ids[0].to_be_bytes();
    plant(&store, Table::Outbox, &key, br#"{"v":1,"data":42}"#, "42").await;
    let scan = store.outbox_resume().await.expect("resume");
    let readable: Vec<u64> = scan.entries.iter().map(|(id, _)| *id).collect();
    assert_eq!(readable, vec![ids[1]]);
    assert_eq!(scan.undecodable.len(), 1);
    assert_eq!(scan.undecodable[0].0, key.to_vec());
    assert!(store
        .quarantine(Table::Outbox, &key, "unreadable", t(0))
        .await
        .expect("quarantined"));
    assert_eq!(
        store.quarantined_count(Table::Outbox).await.expect("count"),
        1
    );
    assert_eq!(store.pending_outbox().await.expect("outbox").len(), 1);
}
