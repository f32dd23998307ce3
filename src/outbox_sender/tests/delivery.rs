//! Delivery against the simulator: restart recovery, post-then-update order,
//! given-up messages and the words owed.

use std::time::Duration;

use serde_json::json;

use super::*;

#[tokio::test]
async fn a_pending_dm_is_delivered_after_a_restart_and_its_dm_channel_recorded() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    {
        // The process that committed the request dies before any delivery.
        let store = Store::open(dir.path()).expect("open");
        let change = Change::new().outbox(post(ALICE, "REQ-1001 received", "REQ-1001/requester"));
        store.commit(change).await.expect("commit");
    }
    let store = Store::reopen(dir.path()).expect("reopen");
    let sender = Running::start(&store, client(&sim, Duration::from_secs(10)));
    let alice = sim.person("alice");
    alice
        .wait_for_message(WITHIN, |m| m.text == "REQ-1001 received")
        .await
        .expect("delivered after the restart");
    // A later commit wakes the running sender.
    let change = Change::new().outbox(post(ALICE, "REQ-1001 approved", "REQ-1001/requester/2"));
    store.commit(change).await.expect("commit");
    alice
        .wait_for_message(WITHIN, |m| m.text == "REQ-1001 approved")
        .await
        .expect("delivered after the wake-up");
    settled(&store).await;
    sender.stop().await;

    let posted = store
        .slack_ref("REQ-1001/requester")
        .await
        .expect("read")
        .expect("recorded");
    let first_dm = &alice.dms()[0];
    assert_eq!(posted, SlackRef::new(&first_dm.channel, &first_dm.ts));
    assert!(
        posted.channel.starts_with('D'),
        "the DM channel: {posted:?}"
    );
    assert_eq!(
        texts(&sim, "alice"),
        ["REQ-1001 received", "REQ-1001 approved"]
    );
    let metadata = first_dm.metadata.clone().expect("posted with metadata");
    assert_eq!(metadata["event_type"], "c1bot_outbox");
    assert_eq!(metadata["event_payload"]["key"], "REQ-1001/requester");
    assert_eq!(metadata["event_payload"]["outbox_id"], 1);
}

#[tokio::test]
async fn a_burst_of_expiries_committing_goes_first_and_the_message_follows_it() {
    let sim = simulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let burst = crate::burst::Burst::default();
    let committing = burst.start();
    let sender = Running::start_with(&store, client(&sim, Duration::from_secs(10)), burst);
    let change = Change::new().outbox(post(ALICE, "REQ-1001 expired", "REQ-1001/requester"));
    store.commit(change).await.expect("commit");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        texts(&sim, "alice").is_empty(),
        "nothing is sent while the burst commits"
    );
    drop(committing);
    sim.person("alice")
        .wait_for_message(WITHIN, |m| m.text == "REQ-1001 expired")
        .await
        .expect("delivered once the burst is over");
    settled(&store).await;
    sender.stop().await;
}

#[tokio::test]
async fn an_update_never_overtakes_its_post_and_edits_the_posted_message() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    // The post fails once: the update must wait behind it.
    sim.faults().http_error("chat.postMessage", 500, 1);
    let change = Change::new()
        .outbox(post(ALICE, "pending", "REQ-1/requester"))
        .outbox(update("approved by bob", "REQ-1/requester"));
    store.commit(change).await.expect("commit");
    deliver_all(&sim, &store).await;

    let order: Vec<(String, u16)> = sim
        .calls()
        .into_iter()
        .filter(|c| c.method.starts_with("chat."))
        .map(|c| (c.method, c.http_status))
        .collect();
    let expected = [
        ("chat.postMessage", 500),
        ("chat.postMessage", 200),
        ("chat.update", 200),
    ];
    let expected: Vec<(String, u16)> = expected.iter().map(|(m, s)| (m.to_string(), *s)).collect();
    assert_eq!(order, expected);
    // The 500 may have come after Slack posted: it was looked for before posting again.
    assert_eq!(sim.calls_to("conversations.history").len(), 1);
    let dms = sim.person("alice").dms();
    assert_eq!(dms.len(), 1, "one message, edited in place");
    assert_eq!(dms[0].text, "approved by bob");
    assert!(dms[0].edited);
}

#[tokio::test]
async fn a_definitive_error_is_given_up_audited_and_does_not_block_the_next_message() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    sim.faults()
        .slack_error("chat.postMessage", "channel_not_found", 1);
    let change = Change::new()
        .outbox(post(ALICE, "first", "REQ-1/requester"))
        .outbox(post(ALICE, "second", "REQ-2/requester"));
    store.commit(change).await.expect("commit");
    deliver_all(&sim, &store).await;
    assert_eq!(texts(&sim, "alice"), ["second"]);
    let failed = audit_actions(&store, "notification.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["subject"], "REQ-1");
    assert!(failed[0]["detail"]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("channel_not_found"));
    assert!(store.verify_audit().await.expect("verify").is_ok());
}

#[tokio::test]
async fn a_refused_call_that_owes_words_tells_them_with_slacks_reason() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    // grace is a single-channel guest: Slack refuses the invitation.
    sim.faults()
        .slack_error("conversations.invite", "ura_max_channels", 1);
    let invite = OutboxMessage::call(
        "conversations.invite",
        json!({ "channel": "C0GENERAL1", "users": "U0GRACE001" }),
    )
    .if_refused(
        vec![ALICE.to_owned()],
        "c1bot could not invite <@U0GRACE001>".to_owned(),
    );
    queue(&store, invite).await;
    let sender = Running::start(&store, client(&sim, Duration::from_secs(10)));
    wait_for_dm(&sim, "alice", "the words owed").await;
    settled(&store).await;
    sender.stop().await;
    assert_eq!(
        texts(&sim, "alice"),
        ["c1bot could not invite <@U0GRACE001>: they are a single-channel guest, already in their one channel."]
    );
}

#[tokio::test]
async fn inviting_someone_already_in_the_channel_is_a_success_nobody_is_told_of() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    // Everyone is in #general already.
    let invite = OutboxMessage::call(
        "conversations.invite",
        json!({ "channel": "C0GENERAL1", "users": "U0GRACE001" }),
    )
    .if_refused(
        vec![ALICE.to_owned()],
        "c1bot could not invite <@U0GRACE001>".to_owned(),
    );
    queue(&store, invite).await;
    let sender = Running::start(&store, client(&sim, Duration::from_secs(10)));
    settled(&store).await;
    sender.stop().await;
    assert_eq!(sim.calls_to("conversations.invite").len(), 1);
    assert!(
        texts(&sim, "alice").is_empty(),
        "{:?}",
        texts(&sim, "alice")
    );
}

#[tokio::test]
async fn an_update_of_a_message_whose_post_was_given_up_is_given_up_too() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    sim.faults()
        .slack_error("chat.postMessage", "channel_not_found", 1);
    let change = Change::new()
        .outbox(post(ALICE, "pending", "REQ-1/requester"))
        .outbox(update("approved", "REQ-1/requester"))
        .outbox(OutboxMessage::call(
            "chat.nonexistent",
            json!({"channel": BOB}),
        ));
    store.commit(change).await.expect("commit");
    deliver_all(&sim, &store).await;
    assert!(sim.calls_to("chat.update").is_empty());
    let reasons: Vec<String> = audit_actions(&store, "notification.failed")
        .await
        .into_iter()
        .map(|e| e["detail"]["error"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("never succeeded")));
    assert!(reasons.iter().any(|r| r.contains("chat.nonexistent")));
}

#[tokio::test]
async fn an_answer_whose_response_url_expired_goes_to_the_persons_dm() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    // A response_url Slack no longer knows (older than 30 minutes, after a restart).
    let base = sim.api_url();
    let expired = format!("{}hooks/T0C1TEAM01/gone", base.trim_end_matches("api/"));
    let answer = OutboxMessage::respond(&expired, "You are not an approver of REQ-1.").if_refused(
        vec![ALICE.to_owned()],
        "You are not an approver of REQ-1".to_owned(),
    );
    queue(&store, answer).await;
    let sender = Running::start(&store, client(&sim, Duration::from_secs(10)));
    wait_for_dm(&sim, "alice", "the answer, in her DM").await;
    settled(&store).await;
    sender.stop().await;
    let told = texts(&sim, "alice");
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].starts_with("You are not an approver of REQ-1: (sent here because"),
        "{told:?}"
    );
}
