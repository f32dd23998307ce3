//! A change's effects on every backend besides the outbox (`suite::outbox`): timers
//! in time order, the audit chain, group commits, many concurrent commits, and an
//! unreadable timer moved aside.

use std::time::Duration;

use super::*;
use crate::store::keys::timer_key;

both!(
    due_timers_come_out_in_time_order_and_only_when_due,
    a_cancelled_timer_never_fires,
    the_audit_chain_of_real_commits_verifies_and_exports_one_object_per_line,
    an_edited_or_removed_audit_entry_is_detected_with_its_seq,
    a_group_commit_applies_each_change_and_a_conflict_stops_only_its_own,
    each_change_of_a_group_sees_what_the_ones_before_it_wrote_and_not_what_they_undid,
    many_concurrent_commits_all_finish,
    an_undecodable_timer_is_reported_apart_moved_aside_and_counted,
);

async fn due_timers_come_out_in_time_order_and_only_when_due(store: Store) {
    let change = Change::new()
        .timer(t(300), reminder("REQ-3"))
        .timer(t(100), reminder("REQ-1"))
        .timer(t(200), TimerEntry::new("expiry", "REQ-2"))
        .timer(t(100), TimerEntry::new("expiry", "REQ-0"));
    store.commit(change).await.expect("commit");
    assert!(store.due_timers(t(99)).await.expect("timers").is_empty());
    let due: Vec<(DateTime<Utc>, String)> = store
        .due_timers(t(200))
        .await
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
    assert_eq!(store.next_timer_due().await.expect("next"), Some(t(100)));
    let first = store.due_timers_limit(t(200), 1).await.expect("limited");
    assert_eq!(first.timers.len(), 1);
}

async fn a_cancelled_timer_never_fires(store: Store) {
    store.commit(create("REQ-1")).await.expect("commit");
    store
        .commit(Change::new().cancel_timer(t(60), "REQ-1", "reminder"))
        .await
        .expect("cancel");
    assert!(store
        .due_timers(t(10_000))
        .await
        .expect("timers")
        .is_empty());
    assert_eq!(store.next_timer_due().await.expect("next"), None);
}

async fn the_audit_chain_of_real_commits_verifies_and_exports_one_object_per_line(store: Store) {
    assert_eq!(store.audit_head().await.expect("head"), None);
    for n in 1..=4 {
        store
            .commit(create(&format!("REQ-{n}")))
            .await
            .expect("commit");
    }
    let verification = store.verify_audit().await.expect("verify");
    assert_eq!(
        verification,
        AuditVerification {
            count: 4,
            problem: None
        }
    );
    let lines = audit_lines(&store).await;
    let seqs: Vec<u64> = lines.iter().filter_map(|l| l["seq"].as_u64()).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    assert_eq!(lines[0]["prev_hash"], GENESIS_HASH);
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
    assert_eq!(lines[2]["subject"], "REQ-3");
    let head = store.audit_head().await.expect("head").expect("entries");
    assert_eq!(
        (head.seq, Some(head.hash.as_str())),
        (4, lines[3]["hash"].as_str())
    );
    let after = store.audit_after(2, 1).await.expect("after");
    assert_eq!(after, vec![lines[2].clone()]);
    assert!(store
        .verify_audit_against(Some(&head))
        .await
        .expect("verify")
        .is_ok());
}

async fn an_edited_or_removed_audit_entry_is_detected_with_its_seq(store: Store) {
    for n in 1..=3 {
        store
            .commit(create(&format!("REQ-{n}")))
            .await
            .expect("commit");
    }
    tamper_audit(&store, 2, Some(("U0ALICE001", "U0MALLORY1"))).await;
    let problem = store
        .verify_audit()
        .await
        .expect("verify")
        .problem
        .expect("detected");
    assert_eq!(problem.seq, 2);
    tamper_audit(&store, 2, None).await;
    let problem = store
        .verify_audit()
        .await
        .expect("verify")
        .problem
        .expect("detected");
    assert_eq!(problem.seq, 2);
    assert!(problem.reason.contains("missing"), "{}", problem.reason);
}

async fn a_group_commit_applies_each_change_and_a_conflict_stops_only_its_own(store: Store) {
    store
        .commit(Change::new().put(Table::Requests, "REQ-1", &req("active")))
        .await
        .expect("seed");
    let changes = vec![
        Change::new()
            .expect(Table::Requests, "REQ-1", Some(1))
            .put(Table::Requests, "REQ-1", &req("revoking"))
            .timer(t(60), reminder("REQ-1"))
            .audit(event("grant.revoke", "REQ-1")),
        // Read at the same revision: loses to the first.
        Change::new()
            .expect(Table::Requests, "REQ-1", Some(1))
            .put(Table::Requests, "REQ-1", &req("double"))
            .outbox(dm("U0BOB00001", "never", "REQ-1/double"))
            .audit(event("never", "REQ-1")),
        Change::new()
            .put(Table::Requests, "REQ-2", &req("new"))
            .outbox(dm("U0ALICE001", "hi", "REQ-2/card/requester"))
            .audit(event("request.created", "REQ-2"))
            .outbox(dm("U0ALICE001", "and again", "REQ-2/card/requester/2")),
    ];
    let results = store.commit_all(changes).await;
    assert_eq!(results[0].as_ref().expect("first").audit_seqs, vec![1]);
    assert!(matches!(results[1], Err(CommitError::Conflict { .. })));
    let third = results[2].as_ref().expect("third");
    assert_eq!(
        third.outbox_ids,
        vec![1, 2],
        "no id is lost to the conflict"
    );
    assert_eq!(third.audit_seqs, vec![2], "nor an audit seq");
    assert!(store.verify_audit().await.expect("verify").is_ok());
    let one: Versioned<Req> = store
        .get(Table::Requests, "REQ-1")
        .await
        .expect("read")
        .expect("there");
    assert_eq!(one.data, req("revoking"));
    assert_eq!(store.pending_outbox().await.expect("outbox").len(), 2);
    assert_eq!(store.take_committed_outbox(), vec![1, 2]);
    assert_eq!(store.due_timers(t(61)).await.expect("timers").len(), 1);
    let none = store.due_timers_limit(t(61), 0).await.expect("timers");
    assert!(none.timers.is_empty());
    let reminders = store
        .timers_of_kind_before("reminder", t(120))
        .await
        .expect("timers");
    assert_eq!(reminders.len(), 1);
    assert!(store
        .timers_of_kind_before("expiry", t(120))
        .await
        .expect("timers")
        .is_empty());
}

async fn each_change_of_a_group_sees_what_the_ones_before_it_wrote_and_not_what_they_undid(
    store: Store,
) {
    store
        .commit(Change::new().put(Table::Requests, "REQ-1", &req("active")))
        .await
        .expect("seed");
    let changes = vec![
        Change::new().expect(Table::Requests, "REQ-1", Some(1)).put(
            Table::Requests,
            "REQ-1",
            &req("revoking"),
        ),
        // Sees the revision the first one wrote.
        Change::new().expect(Table::Requests, "REQ-1", Some(2)).put(
            Table::Requests,
            "REQ-1",
            &req("revoked"),
        ),
        // Creates REQ-2, then fails its expectation: REQ-2 is not written.
        Change::new()
            .put(Table::Requests, "REQ-2", &req("phantom"))
            .expect(Table::Requests, "REQ-1", Some(1)),
        // So REQ-2 is still absent for this one.
        Change::new().expect(Table::Requests, "REQ-2", None).put(
            Table::Requests,
            "REQ-2",
            &req("real"),
        ),
        // And deleting REQ-1 after both writes sees its latest revision.
        Change::new()
            .expect(Table::Requests, "REQ-1", Some(3))
            .delete(Table::Requests, "REQ-1"),
    ];
    let results = store.commit_all(changes).await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(results[1].is_ok(), "{:?}", results[1]);
    assert!(matches!(results[2], Err(CommitError::Conflict { .. })));
    assert!(results[3].is_ok(), "{:?}", results[3]);
    assert!(results[4].is_ok(), "{:?}", results[4]);
    let two: Versioned<Req> = store
        .get(Table::Requests, "REQ-2")
        .await
        .expect("read")
        .expect("there");
    assert_eq!((two.rev, two.data), (1, req("real")));
    let one: Option<Versioned<Req>> = store.get(Table::Requests, "REQ-1").await.expect("read");
    assert!(one.is_none(), "deleted");
}

async fn many_concurrent_commits_all_finish(store: Store) {
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
    .expect("every commit returns");
    assert_eq!(all, 300);
    assert_eq!(audit_lines(&store).await.len(), 300);
    assert!(store.verify_audit().await.expect("verify").is_ok());
}

async fn an_undecodable_timer_is_reported_apart_moved_aside_and_counted(store: Store) {
    store
        .commit(
            Change::new()
                .timer(t(10), reminder("REQ-1"))
                .timer(t(30), reminder("REQ-2")),
        )
        .await
        .expect("scheduled");
    let bad = timer_key(t(20), "REQ-X", "reminder");
    plant(
        &store,
        Table::Timers,
        &bad,
        b"not json",
        r#"{"garbage": 1}"#,
    )
    .await;
    let due = store.due_timers_limit(t(60), 10).await.expect("due");
    let subjects: Vec<&str> = due.timers.iter().map(|(_, e)| e.subject.as_str()).collect();
    assert_eq!(subjects, ["REQ-1", "REQ-2"]);
    assert_eq!(due.undecodable, vec![bad.clone()]);

    let moved = store
        .quarantine(Table::Timers, &bad, "not a timer", t(0))
        .await
        .expect("quarantined");
    assert!(moved);
    assert!(store
        .due_timers_limit(t(60), 10)
        .await
        .expect("due")
        .undecodable
        .is_empty());
    assert_eq!(
        store.quarantined_count(Table::Timers).await.expect("count"),
        1
    );
    let hex: String = bad.iter().map(|b| format!("{b:02x}")).collect();
    let kept = store
        .get::<Quarantined>(Table::Quarantine, &format!("timers/{hex}"))
        .await
        .expect("read")
        .expect("kept");
    assert!(kept.data.bytes.contains("garbage") || kept.data.bytes == "not json");
    assert!(!store
        .quarantine(Table::Timers, &bad, "again", t(1))
        .await
        .expect("no-op"));
    assert_eq!(
        store.quarantined_count(Table::Timers).await.expect("count"),
        1
    );
}
