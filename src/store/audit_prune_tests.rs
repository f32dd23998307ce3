//! Pruning against a real store: only through a checked export, and the log verifies
//! afterwards (also after a prune cut short).

use serde_json::json;

use super::*;
use crate::store::{AuditEvent, Change, Store};

async fn store_with(entries: u64) -> Store {
    let store = Store::temporary().expect("a store");
    for n in 1..=entries {
        let change = Change::new().audit(AuditEvent {
            actor: "U0BOB00001".into(),
            action: "decision.approved".into(),
            subject: format!("REQ-{n}"),
            detail: json!({ "n": n }),
        });
        store.commit(change).await.expect("committed");
    }
    store
}

fn sled(store: &Store) -> &SledStore {
    store.sled().expect("the sled backend")
}

fn export(store: &Store) -> Vec<u8> {
    let mut out = Vec::new();
    sled(store).export_audit(&mut out).expect("exported");
    out
}

fn anchor_at(export: &[u8], seq: u64) -> AuditAnchor {
    let line = export
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .nth(usize::try_from(seq - 1).expect("small"))
        .expect("the entry");
    let value: Value = serde_json::from_slice(line).expect("json");
    AuditAnchor {
        seq,
        hash: value["hash"].as_str().expect("hash").to_owned(),
    }
}

fn stored_seqs(store: &Store) -> Vec<u64> {
    sled(store)
        .tree(Table::Audit)
        .iter()
        .keys()
        .map(|k| u64::from_be_bytes(k.expect("key").as_ref().try_into().expect("8 bytes")))
        .collect()
}

#[tokio::test]
async fn entries_through_a_checked_export_leave_and_the_log_still_verifies() {
    let store = store_with(10).await;
    let exported = export(&store);
    let through = anchor_at(&exported, 6);
    let removed = sled(&store)
        .prune_audit(&through, &exported)
        .expect("pruned");
    assert_eq!(removed, 6);
    assert_eq!(stored_seqs(&store), vec![7, 8, 9, 10]);
    let verified = sled(&store).verify_audit().expect("verify");
    assert!(verified.is_ok(), "{verified:?}");
    assert_eq!(verified.count, 10, "counted to the last sequence number");

    // New entries chain on; a second prune starts where the first ended.
    let store2 = store;
    store2
        .commit(Change::new().audit(AuditEvent {
            actor: "c1bot".into(),
            action: "request.archived".into(),
            subject: "REQ-11".into(),
            detail: json!({}),
        }))
        .await
        .expect("committed");
    let exported = export(&store2);
    let through = AuditAnchor {
        seq: 9,
        hash: {
            let line = exported
                .split(|b| *b == b'\n')
                .find(|l| l.windows(8).any(|w| w == b"\"seq\":9,"))
                .expect("entry 9");
            serde_json::from_slice::<Value>(line).expect("json")["hash"]
                .as_str()
                .expect("hash")
                .to_owned()
        },
    };
    assert_eq!(
        sled(&store2)
            .prune_audit(&through, &exported)
            .expect("pruned"),
        3
    );
    assert!(sled(&store2).verify_audit().expect("verify").is_ok());
}

#[tokio::test]
async fn an_export_that_does_not_hold_the_point_prunes_nothing() {
    let store = store_with(6).await;
    let exported = export(&store);
    let through = anchor_at(&exported, 4);
    // Cut short: the export ends before the point.
    let short: Vec<u8> = exported
        .split(|b| *b == b'\n')
        .take(3)
        .flat_map(|l| l.iter().copied().chain([b'\n']))
        .collect();
    let refused = sled(&store)
        .prune_audit(&through, &short)
        .expect_err("refused");
    assert!(refused.to_string().contains("does not hold"), "{refused}");
    // Edited: an entry's content no longer matches its hash.
    let edited = String::from_utf8(exported.clone())
        .expect("utf-8")
        .replace("REQ-2", "REQ-9");
    let refused = sled(&store)
        .prune_audit(&through, edited.as_bytes())
        .expect_err("refused");
    assert!(refused.to_string().contains("does not hold"), "{refused}");
    // A point whose hash is not the store's.
    let mut wrong = through.clone();
    wrong.hash = "0".repeat(64);
    assert!(sled(&store).prune_audit(&wrong, &exported).is_err());
    assert_eq!(stored_seqs(&store).len(), 6, "nothing pruned");
}

#[tokio::test]
async fn a_prune_cut_short_after_its_point_was_recorded_still_verifies() {
    let store = store_with(5).await;
    let exported = export(&store);
    let through = anchor_at(&exported, 3);
    // As if the process died right after recording the point.
    sled(&store).record_pruned(&through).expect("recorded");
    assert!(sled(&store).verify_audit().expect("verify").is_ok());
    assert_eq!(stored_seqs(&store).len(), 5, "nothing deleted yet");
    // Finishing it: entries through the point go.
    sled(&store).delete_through(0, 3).expect("deleted");
    assert_eq!(stored_seqs(&store), vec![4, 5]);
    assert!(sled(&store).verify_audit().expect("verify").is_ok());
}
