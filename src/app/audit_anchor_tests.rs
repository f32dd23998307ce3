//! Tests for the audit anchor: when a head is due, where it goes, and one pass over a
//! real store.

use super::*;
use crate::store::{AuditEvent, SlackRef};

fn anchor(seq: u64, hash: char) -> AuditAnchor {
    AuditAnchor {
        seq,
        hash: hash.to_string().repeat(64),
    }
}

#[test]
fn a_head_is_due_when_it_moved_and_not_for_the_anchor_posts_own_delivery() {
    let cases = [
        (None, anchor(1, 'a'), false, Due::Moved),
        (Some(anchor(4, 'a')), anchor(4, 'a'), false, Due::Unchanged),
        (Some(anchor(4, 'a')), anchor(6, 'b'), false, Due::Moved),
        (Some(anchor(4, 'a')), anchor(5, 'b'), true, Due::Unchanged),
        (Some(anchor(4, 'a')), anchor(3, 'b'), false, Due::WentBack),
        (Some(anchor(4, 'a')), anchor(4, 'b'), false, Due::WentBack),
    ];
    for (last, head, only_own, expected) in cases {
        assert_eq!(
            due(last.as_ref(), &head, only_own),
            expected,
            "{last:?} -> {head}"
        );
    }
}

#[test]
fn the_anchor_channel_wins_over_the_activity_channel() {
    let activity = ActivityConfig {
        channel: Some("C0ACTIVITY".into()),
        include_reason: false,
    };
    let mut audit = AuditConfig::default();
    assert_eq!(channel(&audit, &activity), Some("C0ACTIVITY"));
    assert_eq!(channel(&audit, &ActivityConfig::default()), None);
    audit.anchor_channel = Some("C0AUDIT001".into());
    assert_eq!(channel(&audit, &activity), Some("C0AUDIT001"));
}

#[test]
fn a_loop_that_waits_an_hour_is_not_called_stuck_within_it() {
    let every = Duration::from_secs(3600);
    assert!(stale_after(every) > every);
}

async fn audited(store: &Store, subject: &str) {
    let event = AuditEvent {
        actor: "U0ALICE001".into(),
        action: "request.created".into(),
        subject: subject.into(),
        detail: json!({}),
    };
    store
        .commit(Change::new().audit(event))
        .await
        .expect("commit");
}

/// Delivers every pending outbox entry, as the sender would.
async fn deliver_all(store: &Store) -> Vec<OutboxMessage> {
    let mut sent = Vec::new();
    for (id, entry) in store.pending_outbox().await.expect("outbox") {
        let posted = SlackRef {
            channel: "C0AUDIT001".into(),
            ts: format!("1700000000.{id:06}"),
            copies: Vec::new(),
        };
        store
            .outbox_delivered(id, Some(posted), Utc::now())
            .await
            .expect("settled");
        sent.push(entry.message);
    }
    sent
}

#[tokio::test]
async fn a_pass_posts_the_head_once_until_it_moves_again() {
    let store = Store::temporary().expect("store");
    let channel = Some("C0AUDIT001");
    assert_eq!(
        publish_once(&store, channel, Utc::now()).await.ok(),
        Some(None)
    );

    audited(&store, "REQ-1").await;
    let head = store.audit_head().await.expect("read").expect("a head");
    let published = publish_once(&store, channel, Utc::now()).await;
    assert_eq!(published.ok(), Some(Some(head.clone())));
    let sent = deliver_all(&store).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].args["channel"], "C0AUDIT001");
    let text = sent[0].args["text"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("--head {head}")), "{text}");

    // The post's own delivery moved the head; that alone is not worth a post.
    assert!(store.audit_head().await.expect("read").expect("a head").seq > head.seq);
    let again = publish_once(&store, channel, Utc::now()).await;
    assert_eq!(again.ok(), Some(None));
    assert!(store.pending_outbox().await.expect("outbox").is_empty());

    audited(&store, "REQ-2").await;
    let moved = publish_once(&store, channel, Utc::now()).await;
    let moved = moved.ok().flatten().expect("published");
    assert!(moved.seq > head.seq);
    assert_eq!(deliver_all(&store).await.len(), 1);
}

#[tokio::test]
async fn without_a_channel_the_head_is_only_logged_and_remembered() {
    let store = Store::temporary().expect("store");
    audited(&store, "REQ-1").await;
    let first = publish_once(&store, None, Utc::now()).await;
    assert!(first.ok().flatten().is_some());
    assert!(store.pending_outbox().await.expect("outbox").is_empty());
    let again = publish_once(&store, None, Utc::now()).await;
    assert_eq!(again.ok(), Some(None), "nothing moved");
}
