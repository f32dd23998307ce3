//! A sled store holding one of everything, copied to PostgreSQL and read back through
//! `Store` on both sides: the same answers, and the counters carry on where sled's
//! stopped.

use serde_json::json;

use super::*;
use crate::store::suite::{create, dm, event, pg_store, req, t, Req};
use crate::store::{Change, Journaled, Store};

async fn summary(store: &Store) -> serde_json::Value {
    let far = t(1_000_000);
    let mut audit = Vec::new();
    store.export_audit(&mut audit).await.expect("export");
    let requests = store
        .scan_prefix::<Req>(Table::Requests, "")
        .await
        .expect("records");
    let journal = store.journal_pending().await.expect("journal");
    json!({
        "requests": requests.iter().map(|(k, r)| json!([k, r.rev, r.data.state])).collect::<Vec<_>>(),
        "outbox": store.pending_outbox().await.expect("outbox").iter().map(|(id, e)| json!([id, e.message.args])).collect::<Vec<_>>(),
        "timers": store.due_timers(far).await.expect("timers").iter().map(|(at, e)| json!([at, e.subject, e.kind])).collect::<Vec<_>>(),
        "audit": String::from_utf8(audit).expect("utf8"),
        "journal": journal.rows.iter().map(|(id, e)| json!([id.0, e.keys])).collect::<Vec<_>>(),
        "journal_failed": store.journal_failed_count().await.expect("count"),
        "quarantined": store.quarantined_count(Table::Timers).await.expect("count"),
        "refs": store.slack_refs("").await.expect("refs").len(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_in_a_sled_store_reads_the_same_on_postgres_and_numbering_carries_on() {
    let Some(target) = pg_store().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    let sled = SledStore::open(dir.path()).expect("sled");
    let source: Store = sled.clone().into();
    for _ in 0..2 {
        source
            .commit_numbered(|n| Ok(create(&format!("REQ-{n}"))))
            .await
            .expect("numbered");
    }
    let delivered = source
        .commit(Change::new().outbox(dm("U0BOB00001", "hi", "REQ-1001/bob")))
        .await
        .expect("commit")
        .outbox_ids[0];
    source
        .outbox_delivered(
            delivered,
            Some(crate::store::SlackRef::new("D1", "1.1")),
            t(1),
        )
        .await
        .expect("delivered");
    source
        .commit(
            Change::new()
                .put(Table::Sessions, "modal/V1", &req("open"))
                .audit(event("x", "y")),
        )
        .await
        .expect("commit");
    let Journaled::New(kept) = source
        .journal(&["env:A".into()], &json!({"a": 1}), t(2))
        .await
        .expect("journal")
    else {
        panic!("new")
    };
    let Journaled::New(failed) = source
        .journal(&["env:B".into()], &json!({"b": 1}), t(3))
        .await
        .expect("journal")
    else {
        panic!("new")
    };
    source
        .journal_give_up(failed, "no", &event("intake.failed", "B"), &[], t(4))
        .await
        .expect("given up");
    let bad = crate::store::keys::timer_key(t(9), "REQ-X", "reminder");
    sled.tree(Table::Timers)
        .insert(bad.clone(), &b"garbage"[..])
        .expect("planted");
    source
        .quarantine(Table::Timers, &bad, "unreadable", t(5))
        .await
        .expect("moved");

    let pg = target.postgres().expect("postgres");
    let copied = sled_to_postgres(&sled, pg).await.expect("migrated");
    assert_eq!(
        (copied.audit, copied.journal, copied.journal_failed),
        (5, 1, 1)
    );
    assert_eq!(summary(&target).await, summary(&source).await);
    assert!(target.verify_audit().await.expect("verify").is_ok());
    assert!(
        sled_to_postgres(&sled, pg).await.is_err(),
        "a second copy is refused"
    );

    // Numbers carry on where sled stopped, on both sides alike.
    for store in [&source, &target] {
        let next = store
            .commit_numbered(|n| Ok(create(&format!("REQ-{n}"))))
            .await
            .expect("numbered");
        assert_eq!(next.number, Some(1003));
        assert_eq!(next.outbox_ids, vec![4]);
        assert_eq!(next.audit_seqs, vec![6]);
        let Journaled::New(id) = store
            .journal(&["env:C".into()], &json!({}), t(6))
            .await
            .expect("journal")
        else {
            panic!("new")
        };
        assert_eq!(id.0, failed.0 + 1);
        let copy = store
            .journal(&["env:A".into()], &json!({}), t(7))
            .await
            .expect("journal");
        assert_eq!(copy, Journaled::Duplicate(kept), "dedupe keys came along");
    }
}
