use std::time::Duration;

use chrono::TimeZone;

use super::*;
use crate::store::Store;
use crate::workflow::request::{AccessDuration, Quorum, State, Step};

fn at(days: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .expect("a valid instant")
        + chrono::Duration::days(days)
}

fn request(id: &str, state: State, decide_by: DateTime<Utc>) -> AccessRequest {
    AccessRequest {
        id: id.into(),
        requester: "UALICE".into(),
        beneficiary: "UALICE".into(),
        resource: "aws-prod".into(),
        entitlement: "read-only".into(),
        duration: AccessDuration::For(Duration::from_secs(3600)),
        justification: "why".into(),
        created_at: decide_by - chrono::Duration::days(1),
        decide_by,
        steps: vec![Step::new("lead", ["UBOB".to_owned()], Quorum::Any)],
        state,
        decisions: Vec::new(),
        grant: None,
        extends: None,
        fields: Default::default(),
        starts_at: None,
        emergency: None,
    }
}

async fn seeded() -> Store {
    let store = Store::temporary().expect("a store");
    let old = request("REQ-1001", State::Expired, at(0));
    let recent = request("REQ-1002", State::Expired, at(80));
    let open = request("REQ-1003", State::Pending { step: 0 }, at(1));
    let mut change = Change::new();
    for r in [&old, &recent, &open] {
        change = change.put(Table::Requests, r.id.clone(), r);
    }
    let posted = crate::store::SlackRef {
        channel: "D0ALICE001".into(),
        ts: "1.000001".into(),
        copies: Vec::new(),
    };
    change = change.put(Table::SlackRefs, "REQ-1001/card/requester", &posted);
    store.commit(change).await.expect("seeded");
    store
}

fn config(archive: bool) -> RetentionConfig {
    RetentionConfig {
        closed_after: Duration::from_secs(90 * 86_400),
        archive,
    }
}

#[tokio::test]
async fn a_request_closed_longer_ago_than_the_retention_time_moves_to_the_archive() {
    let store = seeded().await;
    let done = pass(&store, at(92), config(true)).await.expect("a pass");
    assert_eq!(
        done,
        Pass {
            archived: 1,
            deferred: 0
        }
    );
    let gone = store
        .get::<AccessRequest>(Table::Requests, "REQ-1001")
        .await
        .expect("read");
    assert!(gone.is_none(), "out of the hot table");
    let archived = store
        .get::<Archived>(Table::Archive, "REQ-1001")
        .await
        .expect("read")
        .expect("archived");
    assert_eq!(archived.data.0.id, "REQ-1001");
    assert_eq!(
        store
            .count(Table::Requests, "state:expired")
            .await
            .expect("count"),
        1
    );
    assert!(store
        .index_keys(Table::Requests, "person:UALICE")
        .await
        .expect("index")
        .iter()
        .all(|k| k != "REQ-1001"));
    assert!(store
        .slack_refs("REQ-1001/")
        .await
        .expect("refs")
        .is_empty());
    for id in ["REQ-1002", "REQ-1003"] {
        assert!(
            store
                .get::<AccessRequest>(Table::Requests, id)
                .await
                .expect("read")
                .is_some(),
            "{id} stays"
        );
    }
    let mut exported = Vec::new();
    store.export_audit(&mut exported).await.expect("export");
    let audit = String::from_utf8(exported).expect("utf-8");
    assert!(audit.contains("request.archived"), "{audit}");
}

#[tokio::test]
async fn a_second_pass_finds_nothing_and_later_days_follow_in_time() {
    let store = seeded().await;
    pass(&store, at(92), config(true)).await.expect("a pass");
    assert_eq!(
        pass(&store, at(92), config(true)).await.expect("again"),
        Pass::default()
    );
    let later = pass(&store, at(172), config(true)).await.expect("later");
    assert_eq!(later.archived, 1, "REQ-1002's day came");
}

#[tokio::test]
async fn without_the_archive_a_closed_request_is_removed() {
    let store = seeded().await;
    pass(&store, at(92), config(false)).await.expect("a pass");
    assert!(store
        .get::<Archived>(Table::Archive, "REQ-1001")
        .await
        .expect("read")
        .is_none());
    assert!(store
        .get::<AccessRequest>(Table::Requests, "REQ-1001")
        .await
        .expect("read")
        .is_none());
}
