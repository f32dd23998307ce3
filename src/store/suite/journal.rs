//! The intake journal on every backend: a row per new envelope and none for a copy,
//! the commit that processes a row removes it (once), retries and giving up, and
//! dedupe keys pruned after their hour.

use super::*;

both!(
    an_envelope_is_journaled_once_and_a_copy_is_a_duplicate,
    simultaneous_copies_of_one_envelope_journal_once,
    a_row_is_completed_by_exactly_one_commit,
    a_row_retried_then_given_up_is_moved_counted_audited_and_owes_its_words,
    dedupe_keys_are_pruned_after_their_hour,
);

fn keys(id: &str) -> Vec<String> {
    vec![format!("env:{id}"), format!("evt:{id}")]
}

async fn journal(store: &Store, id: &str, at: DateTime<Utc>) -> Journaled {
    store
        .journal(&keys(id), &json!({"envelope_id": id}), at)
        .await
        .expect("journaled")
}

async fn an_envelope_is_journaled_once_and_a_copy_is_a_duplicate(store: Store) {
    let Journaled::New(first) = journal(&store, "E1", t(0)).await else {
        panic!("the first copy is new");
    };
    assert_eq!(
        journal(&store, "E1", t(1)).await,
        Journaled::Duplicate(first)
    );
    let Journaled::New(second) = journal(&store, "E2", t(2)).await else {
        panic!("another envelope is new");
    };
    assert!(second > first);
    let pending = store.journal_pending().await.expect("pending");
    let ids: Vec<JournalId> = pending.rows.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [first, second]);
    assert_eq!(pending.rows[0].1.envelope, json!({"envelope_id": "E1"}));
    let entry = store
        .journal_entry(first)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(entry.keys, keys("E1"));
}

async fn simultaneous_copies_of_one_envelope_journal_once(store: Store) {
    let copies: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { journal(&store, "E1", t(0)).await })
        })
        .collect();
    let mut new = 0;
    for copy in copies {
        if let Journaled::New(_) = copy.await.expect("task") {
            new += 1;
        }
    }
    assert_eq!(new, 1);
    assert_eq!(
        store.journal_pending().await.expect("pending").rows.len(),
        1
    );
}

async fn a_row_is_completed_by_exactly_one_commit(store: Store) {
    let Journaled::New(id) = journal(&store, "E1", t(0)).await else {
        panic!("new");
    };
    let process = |state: &str| {
        Change::new()
            .put(Table::Requests, "REQ-1", &req(state))
            .completes(id)
    };
    store.commit(process("first")).await.expect("processed");
    let again = store
        .commit(process("second"))
        .await
        .expect_err("processed already");
    assert!(again.already_processed(), "{again:?}");
    assert!(store.journal_entry(id).await.expect("read").is_none());
    let got = store
        .get::<Req>(Table::Requests, "REQ-1")
        .await
        .expect("read");
    assert_eq!(got.map(|r| r.data), Some(req("first")));
    // The keys outlive the row: a late copy is still a duplicate.
    assert_eq!(journal(&store, "E1", t(5)).await, Journaled::Duplicate(id));
}

async fn a_row_retried_then_given_up_is_moved_counted_audited_and_owes_its_words(store: Store) {
    let Journaled::New(id) = journal(&store, "E1", t(0)).await else {
        panic!("new");
    };
    store
        .journal_retry(id, "policy timed out", t(10))
        .await
        .expect("retry");
    let entry = store.journal_entry(id).await.expect("read").expect("there");
    assert_eq!(entry.attempts, 1);
    assert_eq!(entry.next_attempt_at, Some(t(10)));
    assert_eq!(entry.last_error.as_deref(), Some("policy timed out"));

    let word = OutboxMessage::text("U0ALICE001", "Sorry, that did not work.");
    let audit = event("intake.given_up", "E1");
    let moved = store
        .journal_give_up(id, "gave up", &audit, std::slice::from_ref(&word), t(20))
        .await
        .expect("given up");
    assert!(moved);
    assert!(store
        .journal_pending()
        .await
        .expect("pending")
        .rows
        .is_empty());
    assert_eq!(store.journal_failed_count().await.expect("count"), 1);
    let pending = store.pending_outbox().await.expect("outbox");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].1.message, word);
    let last = audit_lines(&store).await.pop().expect("audited");
    assert_eq!(last["action"], "intake.given_up");
    let again = store
        .journal_give_up(id, "gave up", &audit, &[], t(21))
        .await
        .expect("no-op");
    assert!(!again);
    assert_eq!(store.journal_failed_count().await.expect("count"), 1);
}

async fn dedupe_keys_are_pruned_after_their_hour(store: Store) {
    let Journaled::New(old) = journal(&store, "E1", t(0)).await else {
        panic!("new");
    };
    journal(&store, "E2", t(3000)).await;
    let later = t(0) + JOURNAL_KEEP_KEYS + chrono::TimeDelta::seconds(1);
    let pruned = store.prune_journal_keys(later, 100).await.expect("pruned");
    assert_eq!(pruned, 2, "both keys of E1, none of E2");
    store
        .commit(Change::new().completes(old))
        .await
        .expect("processed");
    // E1's keys are forgotten: a copy now is new again; E2's are kept.
    assert!(matches!(
        journal(&store, "E1", later).await,
        Journaled::New(_)
    ));
    assert!(matches!(
        journal(&store, "E2", later).await,
        Journaled::Duplicate(_)
    ));
}
