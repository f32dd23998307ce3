//! Exactly-once posts: a post Slack took but never answered is found in history,
//! every copy found is edited, and channels are read only with a history scope.

use std::time::Duration;

use chrono::Utc;

use super::*;

#[tokio::test]
async fn a_post_that_slack_took_but_never_answered_is_found_in_history_not_posted_again() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    sim.faults()
        .accept_and_hang("chat.postMessage", Some(ALICE), 1);
    queue(&store, card(ALICE, "please approve", "REQ-1/approver")).await;
    let sender = Running::start(&store, client(&sim, Duration::from_millis(500)));
    settled(&store).await;
    queue(&store, update("approved", "REQ-1/approver")).await;
    settled(&store).await;
    sender.stop().await;
    let dms = sim.person("alice").dms();
    assert_eq!(dms.len(), 1, "posted once: {dms:?}");
    assert_eq!(dms[0].text, "approved");
    assert!(dms[0].buttons().is_empty());
    assert_eq!(sim.calls_to("chat.postMessage").len(), 1);
    let posted = store
        .slack_ref("REQ-1/approver")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(posted.ts, dms[0].ts);
}

#[tokio::test]
async fn every_copy_found_is_recorded_and_edited_so_none_keeps_its_buttons() {
    let sim = simulator().await;
    let web = client(&sim, Duration::from_secs(10));
    let store = Store::temporary().expect("store");
    let message = card(ALICE, "please approve", "REQ-1/approver");
    let id = store
        .commit(Change::new().outbox(message.clone()))
        .await
        .expect("commit")
        .outbox_ids[0];
    // Two earlier attempts reached Slack (say, a time-out and then a crash).
    assert!(store
        .outbox_attempt_started(id, Utc::now())
        .await
        .expect("marked"));
    for _ in 0..2 {
        let mut args = message.args.clone();
        args["metadata"] = history::metadata(id, Some("REQ-1/approver"));
        web.call(methods::CHAT_POST_MESSAGE, args)
            .await
            .expect("an earlier copy");
    }
    let sender = Running::start(&store, web);
    settled(&store).await;
    let posted = store
        .slack_ref("REQ-1/approver")
        .await
        .expect("read")
        .expect("recorded");
    assert_eq!(posted.copies.len(), 1);
    queue(&store, update("approved by bob", "REQ-1/approver")).await;
    settled(&store).await;
    sender.stop().await;
    let dms = sim.person("alice").dms();
    assert_eq!(dms.len(), 2, "no third copy");
    for dm in &dms {
        assert_eq!(dm.text, "approved by bob");
        assert!(dm.buttons().is_empty(), "a copy kept live buttons: {dm:?}");
    }
}

#[tokio::test]
async fn channel_history_is_read_only_with_a_channel_history_scope() {
    for granted in [false, true] {
        let mut options = SimOptions::default();
        if granted {
            options.granted_scopes.push("channels:history".into());
        }
        let sim = simulator_with(options).await;
        let store = Store::temporary().expect("store");
        let id = store
            .commit(Change::new().outbox(post("C0GENERAL1", "status", "CMP-1/status/1")))
            .await
            .expect("commit")
            .outbox_ids[0];
        assert!(store
            .outbox_attempt_started(id, Utc::now())
            .await
            .expect("marked"));
        let sender = Running::start(&store, client(&sim, Duration::from_secs(10)));
        settled(&store).await;
        sender.stop().await;
        let looked = sim.calls_to("conversations.history").len();
        assert_eq!(looked, usize::from(granted), "granted: {granted}");
        assert_eq!(sim.messages_in("general").len(), 1);
    }
}
