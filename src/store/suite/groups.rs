//! Group commits on every backend, beyond each change's own checks (`effects`): a
//! group leaves every record, index row and timer as the last change to it left
//! it, however many of its changes touched it; a large group of independent changes
//! keeps every effect of every change it keeps (on PostgreSQL it commits as two
//! transactions at once); and a large group whose changes depend on each other
//! still commits them in order.

use super::*;

both!(
    a_group_leaves_each_record_index_row_and_timer_as_its_last_change_left_it,
    a_large_group_of_independent_changes_keeps_every_effect_of_every_kept_change,
    a_large_group_whose_last_change_depends_on_its_first_commits_in_order,
    a_group_keeps_index_entries_whatever_their_text,
);

fn grant(owner: &str) -> Grant {
    Grant {
        owner: owner.into(),
    }
}

async fn timer_subjects(store: &Store, kind: &str) -> Vec<String> {
    let mut subjects: Vec<String> = store
        .timers_of_kind_before(kind, t(10_000))
        .await
        .expect("timers")
        .into_iter()
        .map(|(_, entry)| entry.subject)
        .collect();
    subjects.sort();
    subjects
}

async fn a_group_leaves_each_record_index_row_and_timer_as_its_last_change_left_it(store: Store) {
    store
        .commit(Change::new().put(Table::Requests, "G-2", &grant("carol")))
        .await
        .expect("seed");
    let expiry = |key: &str| TimerEntry::new("expiry", key);
    let changes = vec![
        // G-1 is created, then moved to bob; its first timer is replaced.
        Change::new()
            .expect(Table::Requests, "G-1", None)
            .put(Table::Requests, "G-1", &grant("alice"))
            .timer(t(10), expiry("G-1")),
        Change::new()
            .expect(Table::Requests, "G-1", Some(1))
            .put(Table::Requests, "G-1", &grant("bob"))
            .cancel_timer(t(10), "G-1", "expiry")
            .timer(t(20), expiry("G-1")),
        // G-2 existed: deleted, then created again.
        Change::new()
            .expect(Table::Requests, "G-2", Some(1))
            .delete(Table::Requests, "G-2"),
        Change::new().expect(Table::Requests, "G-2", None).put(
            Table::Requests,
            "G-2",
            &grant("dave"),
        ),
        // G-3 is created and deleted: nothing is left of it.
        Change::new()
            .put(Table::Requests, "G-3", &grant("erin"))
            .timer(t(30), expiry("G-3")),
        Change::new()
            .delete(Table::Requests, "G-3")
            .cancel_timer(t(30), "G-3", "expiry"),
        // Stale: written nothing.
        Change::new()
            .expect(Table::Requests, "G-1", Some(1))
            .put(Table::Requests, "G-1", &grant("mallory"))
            .timer(t(40), expiry("G-9")),
    ];
    let results = store.commit_all(changes).await;
    assert!(results[..6].iter().all(Result::is_ok), "{results:?}");
    assert!(matches!(results[6], Err(CommitError::Conflict { .. })));

    let one: Versioned<Grant> = store
        .get(Table::Requests, "G-1")
        .await
        .expect("read")
        .expect("G-1");
    assert_eq!((one.rev, one.data), (2, grant("bob")));
    let two: Versioned<Grant> = store
        .get(Table::Requests, "G-2")
        .await
        .expect("read")
        .expect("G-2");
    assert_eq!((two.rev, two.data), (1, grant("dave")), "created anew");
    let three: Option<Versioned<Grant>> = store.get(Table::Requests, "G-3").await.expect("read");
    assert!(three.is_none());

    assert_eq!(indexed(&store, "active:aws-prod").await, ["G-1", "G-2"]);
    assert_eq!(indexed(&store, "person:bob").await, ["G-1"]);
    assert_eq!(indexed(&store, "person:dave").await, ["G-2"]);
    for gone in [
        "person:alice",
        "person:carol",
        "person:erin",
        "person:mallory",
    ] {
        assert!(indexed(&store, gone).await.is_empty(), "{gone}");
    }
    let timers = store
        .timers_of_kind_before("expiry", t(10_000))
        .await
        .expect("timers");
    assert_eq!(timers.len(), 1, "{timers:?}");
    assert_eq!((timers[0].0, timers[0].1.subject.as_str()), (t(20), "G-1"));
}

async fn a_large_group_of_independent_changes_keeps_every_effect_of_every_kept_change(
    store: Store,
) {
    store.commit(create("REQ-STALE")).await.expect("seed");
    let mut changes: Vec<Change> = (0..600).map(|i| create(&format!("REQ-{i}"))).collect();
    // In the second half: a conflict there leaves the first half's changes alone.
    changes[450] = Change::new()
        .expect(Table::Requests, "REQ-STALE", Some(9))
        .put(Table::Requests, "REQ-STALE", &req("never"))
        .outbox(dm("U0BOB00001", "never", "REQ-STALE/never"))
        .audit(event("never", "REQ-STALE"));
    let results = store.commit_all(changes).await;
    assert!(matches!(results[450], Err(CommitError::Conflict { .. })));
    let kept: Vec<&Committed> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(kept.len(), 599);

    let mut outbox_ids: Vec<u64> = kept.iter().flat_map(|c| c.outbox_ids.clone()).collect();
    outbox_ids.sort_unstable();
    // The seed's message is id 1; every kept change has one more, none lost or shared.
    assert_eq!(outbox_ids, (2..=600).collect::<Vec<u64>>());
    let mut seqs: Vec<u64> = kept.iter().flat_map(|c| c.audit_seqs.clone()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (2..=600).collect::<Vec<u64>>());
    assert!(store.verify_audit().await.expect("verify").is_ok());
    assert_eq!(store.pending_outbox().await.expect("outbox").len(), 600);

    let reminders = timer_subjects(&store, "reminder").await;
    assert_eq!(reminders.len(), 600, "the seed's and 599 kept");
    assert!(!reminders.contains(&"REQ-450".to_owned()));
    let stale: Versioned<Req> = store
        .get(Table::Requests, "REQ-STALE")
        .await
        .expect("read")
        .expect("seeded");
    assert_eq!(stale.data, req("pending"));
}

async fn a_large_group_whose_last_change_depends_on_its_first_commits_in_order(store: Store) {
    let mut changes: Vec<Change> = (0..600).map(|i| create(&format!("REQ-{i}"))).collect();
    // Sees the revision the first change wrote, and only after it.
    changes.push(
        Change::new()
            .expect(Table::Requests, "REQ-0", Some(1))
            .put(Table::Requests, "REQ-0", &req("approved"))
            .cancel_timer(t(60), "REQ-0", "reminder"),
    );
    let results = store.commit_all(changes).await;
    assert!(results.iter().all(Result::is_ok), "{:?}", results.last());
    let zero: Versioned<Req> = store
        .get(Table::Requests, "REQ-0")
        .await
        .expect("read")
        .expect("REQ-0");
    assert_eq!((zero.rev, zero.data), (2, req("approved")));
    let reminders = timer_subjects(&store, "reminder").await;
    assert_eq!(reminders.len(), 599);
    assert!(!reminders.contains(&"REQ-0".to_owned()));
}

/// Index entries are written in bulk as literals on PostgreSQL: quotes, backslashes,
/// commas, braces, spaces, an empty name and the word NULL come back as they went in,
/// and a later group finds and removes the rows it wrote.
async fn a_group_keeps_index_entries_whatever_their_text(store: Store) {
    let owners = ["a\"b\\c,{d} e", "NULL", "", "\\\"", "ünï,cödé"];
    let created: Vec<Change> = owners
        .iter()
        .enumerate()
        .map(|(i, owner)| {
            Change::new()
                .expect(Table::Requests, format!("H-{i}"), None)
                .put(Table::Requests, format!("H-{i}"), &grant(owner))
        })
        .collect();
    let results = store.commit_all(created).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for (i, owner) in owners.iter().enumerate() {
        assert_eq!(
            indexed(&store, &format!("person:{owner}")).await,
            vec![format!("H-{i}")],
            "{owner:?}"
        );
    }

    let moved: Vec<Change> = (0..owners.len())
        .map(|i| {
            Change::new()
                .expect(Table::Requests, format!("H-{i}"), Some(1))
                .put(Table::Requests, format!("H-{i}"), &grant("zed"))
        })
        .collect();
    let results = store.commit_all(moved).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    for owner in owners {
        assert!(
            indexed(&store, &format!("person:{owner}")).await.is_empty(),
            "{owner:?}"
        );
    }
    assert_eq!(indexed(&store, "person:zed").await.len(), owners.len());
}
