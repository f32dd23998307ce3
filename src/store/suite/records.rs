//! Records on every backend: revisions and compare-and-set, one winner among
//! simultaneous decisions, gap-free request numbers, prefix scans, refused writes to
//! the store's own tables, and secondary indexes with their counters.

use super::*;

both!(
    records_come_back_with_their_version_and_revision,
    a_failed_expectation_writes_nothing,
    two_decisions_on_the_same_revision_count_once,
    simultaneous_decisions_on_one_revision_yield_exactly_one_winner,
    request_numbers_are_sequential_and_skip_nothing_on_conflict,
    index_tables_and_reserved_meta_keys_cannot_be_written_directly,
    records_are_scanned_by_key_prefix_in_key_order,
    index_entries_and_counts_follow_each_record_in_its_own_commit,
    a_group_commit_counts_the_changes_it_keeps_and_only_those,
    records_written_before_their_index_are_indexed_once_at_reindex,
);

async fn records_come_back_with_their_version_and_revision(store: Store) {
    store.commit(create("REQ-1")).await.expect("commit");
    let got = store
        .get::<Req>(Table::Requests, "REQ-1")
        .await
        .expect("read")
        .expect("present");
    assert_eq!((got.v, got.rev, got.data), (2, 1, req("pending")));
    let change = Change::new().expect(Table::Requests, "REQ-1", Some(1)).put(
        Table::Requests,
        "REQ-1",
        &req("approved"),
    );
    store.commit(change).await.expect("second write");
    let got = store
        .get::<Req>(Table::Requests, "REQ-1")
        .await
        .expect("read");
    assert_eq!(got.map(|r| (r.rev, r.data)), Some((2, req("approved"))));
}

async fn a_failed_expectation_writes_nothing(store: Store) {
    store.commit(create("REQ-1")).await.expect("first");
    let before_audit = audit_lines(&store).await.len();
    let before_outbox = store.pending_outbox().await.expect("outbox").len();
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
    let got = store
        .get::<Req>(Table::Requests, "REQ-1")
        .await
        .expect("read");
    assert_eq!(got.map(|r| r.data), Some(req("pending")));
    assert!(store
        .get::<Req>(Table::Sessions, "modal/V1")
        .await
        .expect("read")
        .is_none());
    assert_eq!(
        store.pending_outbox().await.expect("outbox").len(),
        before_outbox
    );
    assert_eq!(audit_lines(&store).await.len(), before_audit);
    assert_eq!(
        store.due_timers(t(3600)).await.expect("timers"),
        vec![(t(60), reminder("REQ-1"))]
    );
}

async fn two_decisions_on_the_same_revision_count_once(store: Store) {
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
    let got = store
        .get::<Req>(Table::Requests, "REQ-1")
        .await
        .expect("read");
    assert_eq!(got.map(|r| r.data), Some(req("approved by bob")));
}

async fn simultaneous_decisions_on_one_revision_yield_exactly_one_winner(store: Store) {
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
        .await
        .iter()
        .filter(|l| l["action"] == "decision.approved")
        .count();
    assert_eq!(decisions, 1);
}

async fn request_numbers_are_sequential_and_skip_nothing_on_conflict(store: Store) {
    let key = |n: u64| format!("REQ-{n}");
    for expected in [1001, 1002] {
        let done = store
            .commit_numbered(|n| Ok(create(&key(n))))
            .await
            .expect("numbered commit");
        assert_eq!(done.number, Some(expected));
    }
    // A numbered change that fails gives its number back.
    let failed = store.commit_numbered(|_| Ok(create(&key(1001)))).await;
    assert!(
        matches!(failed, Err(CommitError::Conflict { .. })),
        "{failed:?}"
    );
    // So does one whose build fails, or that would commit nothing.
    let failed = store.commit_numbered(|_| Err("no template".into())).await;
    assert!(matches!(failed, Err(CommitError::Invalid { .. })));
    let failed = store.commit_numbered(|_| Ok(Change::new())).await;
    assert!(matches!(failed, Err(CommitError::Invalid { .. })));
    let done = store
        .commit_numbered(|n| Ok(create(&key(n))))
        .await
        .expect("third");
    assert_eq!(done.number, Some(1003));
    assert_eq!(done.outbox_ids, vec![3]);
    assert_eq!(done.audit_seqs, vec![3]);
    let ids: Vec<u64> = store
        .pending_outbox()
        .await
        .expect("outbox")
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(ids, [1, 2, 3]);
}

async fn index_tables_and_reserved_meta_keys_cannot_be_written_directly(store: Store) {
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

async fn records_are_scanned_by_key_prefix_in_key_order(store: Store) {
    let change = Change::new()
        .put(Table::Sessions, "modal/U2", &req("b"))
        .put(Table::Sessions, "home/U1", &req("z"))
        .put(Table::Sessions, "modal/U1", &req("a"))
        .put(Table::Sessions, "modal0", &req("not under the prefix"));
    store.commit(change).await.expect("commit");
    let found: Vec<(String, String)> = store
        .scan_prefix::<Req>(Table::Sessions, "modal/")
        .await
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

/// A record indexed by its owner and counted by its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Owned {
    owner: String,
    state: String,
}

impl Record for Owned {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }

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

async fn count(store: &Store, name: &str) -> u64 {
    store.count(Table::Requests, name).await.expect("count")
}

async fn index_entries_and_counts_follow_each_record_in_its_own_commit(store: Store) {
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
        .index::<Owned>(Table::Requests, "owner:alice")
        .await
        .expect("index")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(alices, ["REQ-1", "REQ-2"]);
    assert_eq!(count(&store, "state:pending").await, 3);
    assert!(
        indexed(&store, "state:pending").await.is_empty(),
        "a counted entry is a counter only, not an index row"
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
    assert_eq!(indexed(&store, "owner:alice").await, ["REQ-1"]);
    assert_eq!(indexed(&store, "owner:carol").await, ["REQ-2"]);
    assert!(indexed(&store, "owner:bob").await.is_empty());
    assert_eq!(count(&store, "state:pending").await, 1);
    assert_eq!(count(&store, "state:approved").await, 1);
    assert_eq!(
        store
            .counts(
                Table::Requests,
                &["state:approved", "state:gone", "state:pending"]
            )
            .await
            .expect("counts"),
        [1, 0, 1],
        "read together, in the order asked, an unknown name counting 0"
    );

    // Several entries read together: each record once, in key order, with its data.
    let names = ["owner:carol", "owner:alice", "owner:carol", "owner:bob"].map(String::from);
    let together: Vec<(String, Owned)> = store
        .index_read_any::<Owned>(Table::Requests, &names)
        .await
        .expect("read")
        .into_iter()
        .map(|(key, record)| (key, record.expect("readable").data))
        .collect();
    assert_eq!(
        together,
        [
            ("REQ-1".to_owned(), owned("alice", "pending")),
            ("REQ-2".to_owned(), owned("carol", "approved")),
        ]
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
    assert_eq!(indexed(&store, "owner:alice").await, ["REQ-1"]);
    assert_eq!(count(&store, "state:denied").await, 0);
}

async fn a_group_commit_counts_the_changes_it_keeps_and_only_those(store: Store) {
    store
        .commit(Change::new().put(Table::Requests, "REQ-1", &owned("alice", "pending")))
        .await
        .expect("seed");
    // More changes than one transaction takes on PostgreSQL, one of them conflicting
    // in the middle: its counter moves must not survive its rollback.
    let mut changes: Vec<Change> = (0..150)
        .map(|i| {
            Change::new().put(
                Table::Requests,
                format!("BULK-{i}"),
                &owned("bulk", "pending"),
            )
        })
        .collect();
    changes.insert(
        70,
        Change::new().expect(Table::Requests, "REQ-1", Some(7)).put(
            Table::Requests,
            "REQ-1",
            &owned("alice", "approved"),
        ),
    );
    changes.push(Change::new().expect(Table::Requests, "REQ-1", Some(1)).put(
        Table::Requests,
        "REQ-1",
        &owned("alice", "denied"),
    ));
    let results = store.commit_all(changes).await;
    assert!(matches!(results[70], Err(CommitError::Conflict { .. })));
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 151);
    assert_eq!(count(&store, "state:pending").await, 150);
    assert_eq!(
        count(&store, "state:approved").await,
        0,
        "the conflict moved nothing"
    );
    assert_eq!(count(&store, "state:denied").await, 1);
    assert_eq!(indexed(&store, "owner:bulk").await.len(), 150);
}

async fn records_written_before_their_index_are_indexed_once_at_reindex(store: Store) {
    // Written as an older build did: the same data without index entries.
    let old = r#"{"v":1,"rev":4,"data":{"owner":"alice","state":"pending"}}"#;
    plant(&store, Table::Requests, b"REQ-2", old.as_bytes(), old).await;
    assert!(indexed(&store, "owner:alice").await.is_empty());
    let reindexed = store
        .reindex::<Owned>(Table::Requests, 1)
        .await
        .expect("reindex");
    assert_eq!(reindexed, 1);
    assert_eq!(indexed(&store, "owner:alice").await, ["REQ-2"]);
    assert_eq!(count(&store, "state:pending").await, 1);
    // Once per version: a second start does nothing.
    let again = store
        .reindex::<Owned>(Table::Requests, 1)
        .await
        .expect("again");
    assert_eq!(again, 0);
}
