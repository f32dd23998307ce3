//! The sender's pure parts (lanes, retry schedule) and its behaviour against the
//! simulator: restart recovery, post-then-update order, given-up messages.

use std::time::Duration;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::simulator::{SimOptions, Simulator, Workspace};
use crate::slack::web::WebApiOptions;
use crate::store::{Change, Table};

const ALICE: &str = "U0ALICE001";
const BOB: &str = "U0BOB00001";
const WITHIN: Duration = Duration::from_secs(10);

fn post(channel: &str, text: &str, record_ref: &str) -> OutboxMessage {
    OutboxMessage {
        method: "chat.postMessage".into(),
        args: json!({"channel": channel, "text": text}),
        record_ref: Some(record_ref.into()),
        update_ref: None,
        if_refused: None,
    }
}

fn update(text: &str, update_ref: &str) -> OutboxMessage {
    OutboxMessage {
        method: "chat.update".into(),
        args: json!({"text": text}),
        record_ref: None,
        update_ref: Some(update_ref.into()),
        if_refused: None,
    }
}

fn entry(message: OutboxMessage) -> OutboxEntry {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid");
    OutboxEntry {
        message,
        enqueued_at: at,
        attempts: 0,
        last_error: None,
        first_failed_at: None,
        last_failed_at: None,
    }
}

fn pending(messages: Vec<OutboxMessage>) -> Vec<(u64, OutboxEntry)> {
    (1..).zip(messages.into_iter().map(entry)).collect()
}

#[test]
fn messages_to_the_same_channel_share_a_lane_in_commit_order() {
    let lanes = lanes(&pending(vec![
        post(ALICE, "1", "A/1"),
        post(BOB, "2", "B/1"),
        post(ALICE, "3", "A/2"),
    ]));
    assert_eq!(lanes, vec![vec![0, 2], vec![1]]);
}

#[test]
fn an_update_joins_the_lane_of_the_message_it_edits() {
    let lanes = lanes(&pending(vec![
        post(ALICE, "asked", "REQ-1/requester"),
        post(BOB, "please decide", "REQ-1/approver"),
        update("approved", "REQ-1/requester"),
        post("C0GENERAL1", "unrelated", "X/1"),
    ]));
    assert_eq!(lanes, vec![vec![0, 2], vec![1], vec![3]]);
}

#[test]
fn a_message_linking_two_conversations_merges_their_lanes() {
    let lanes = lanes(&pending(vec![
        post(ALICE, "1", "K/1"),
        post(BOB, "2", "K/2"),
        // Posted to bob but recorded under alice's key: both lanes must wait for each other.
        post(BOB, "3", "K/1"),
    ]));
    assert_eq!(lanes, vec![vec![0, 1, 2]]);
}

#[test]
fn a_failed_entry_waits_longer_after_each_attempt() {
    let mut e = entry(post(ALICE, "x", "K/1"));
    assert_eq!(retry_at(&e), None);
    let failed = e.enqueued_at;
    e.last_failed_at = Some(failed);
    e.attempts = 1;
    assert_eq!(retry_at(&e), Some(failed + chrono::TimeDelta::seconds(2)));
    e.attempts = 3;
    assert_eq!(retry_at(&e), Some(failed + chrono::TimeDelta::seconds(8)));
    e.attempts = 40;
    assert_eq!(retry_at(&e), Some(failed + chrono::TimeDelta::minutes(5)));
}

#[test]
fn only_throttling_and_unreachable_slack_are_retried() {
    let slack = WebApiError::Slack {
        method: "chat.postMessage",
        code: "channel_not_found".into(),
        needed: None,
        provided: None,
        messages: vec![],
    };
    let http = WebApiError::Http {
        method: "chat.postMessage",
        status: 503,
        attempts: 4,
    };
    let limited = WebApiError::RateLimited {
        method: "chat.postMessage",
        retry_after: Duration::from_secs(1),
        attempts: 4,
    };
    assert!(!is_transient(&slack));
    assert!(is_transient(&http));
    assert!(is_transient(&limited));
}

// ---- against the simulator ----

async fn simulator() -> Simulator {
    Simulator::start(Workspace::demo(), SimOptions::default())
        .await
        .expect("simulator")
}

/// A client that makes one attempt per call, so a test's injected failure is seen by
/// the sender rather than absorbed by the client's own retries.
fn single_attempt_client(sim: &Simulator) -> WebApi {
    let mut options =
        WebApiOptions::new(sim.api_url(), Some(sim.app_token()), Some(sim.bot_token()));
    options.retry.max_attempts = 1;
    WebApi::new(options).expect("client")
}

fn texts(sim: &Simulator, person: &str) -> Vec<String> {
    sim.person(person)
        .dms()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

fn audit_actions(store: &Store) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    store.export_audit(&mut out).expect("export");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

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
    let store = Store::open(dir.path()).expect("reopen");
    let shutdown = CancellationToken::new();
    let sender = tokio::spawn(run(
        store.clone(),
        single_attempt_client(&sim),
        shutdown.clone(),
    ));

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

    shutdown.cancel();
    sender.await.expect("sender stops");
    assert!(store.pending_outbox().expect("outbox").is_empty());
    let posted = store
        .slack_ref("REQ-1001/requester")
        .expect("read")
        .expect("recorded");
    let first_dm = &alice.dms()[0];
    assert_eq!(
        (posted.channel.as_str(), posted.ts.as_str()),
        (first_dm.channel.as_str(), first_dm.ts.as_str())
    );
    assert!(
        posted.channel.starts_with('D'),
        "the DM channel, not the user id: {posted:?}"
    );
    assert_eq!(
        texts(&sim, "alice"),
        ["REQ-1001 received", "REQ-1001 approved"]
    );
}

#[tokio::test]
async fn an_update_never_overtakes_its_post_and_edits_the_posted_message() {
    let sim = simulator().await;
    let web = single_attempt_client(&sim);
    let store = Store::temporary().expect("store");
    store
        .commit(Change::new().outbox(post(ALICE, "pending", "REQ-1/requester")))
        .await
        .expect("post");
    store
        .commit(Change::new().outbox(update("approved by bob", "REQ-1/requester")))
        .await
        .expect("update");

    // The post fails transiently: the update must wait behind it.
    sim.faults().http_error("chat.postMessage", 500, 1);
    let now = Utc::now();
    let first = drain_pass(&store, &web, now, &CancellationToken::new())
        .await
        .expect("pass");
    assert_eq!((first.delivered, first.deferred), (0, 2));
    assert!(sim.calls_to("chat.update").is_empty());

    let later = now + chrono::TimeDelta::hours(1);
    let second = drain_pass(&store, &web, later, &CancellationToken::new())
        .await
        .expect("pass");
    assert_eq!((second.delivered, second.deferred), (2, 0));
    let dms = sim.person("alice").dms();
    assert_eq!(dms.len(), 1, "one message, edited in place");
    assert_eq!(dms[0].text, "approved by bob");
    assert!(dms[0].edited);
}

#[tokio::test]
async fn a_definitive_error_is_given_up_audited_and_does_not_block_the_next_message() {
    let sim = simulator().await;
    let web = single_attempt_client(&sim);
    let store = Store::temporary().expect("store");
    sim.faults()
        .slack_error("chat.postMessage", "channel_not_found", 1);
    for (text, key) in [("first", "REQ-1/requester"), ("second", "REQ-2/requester")] {
        store
            .commit(Change::new().outbox(post(ALICE, text, key)))
            .await
            .expect("commit");
    }
    let drained = drain_once(&store, &web).await.expect("pass");
    assert_eq!(
        (drained.delivered, drained.given_up, drained.deferred),
        (1, 1, 0)
    );
    assert_eq!(texts(&sim, "alice"), ["second"]);
    assert!(store.pending_outbox().expect("outbox").is_empty());
    let failed: Vec<_> = audit_actions(&store)
        .into_iter()
        .filter(|e| e["action"] == "notification.failed")
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["subject"], "REQ-1");
    assert!(failed[0]["detail"]["error"]
        .as_str()
        .unwrap_or_default()
        .contains("channel_not_found"));
    assert!(store.verify_audit().expect("verify").is_ok());
}

#[tokio::test]
async fn a_refused_call_that_owes_words_tells_them_with_slacks_reason() {
    let sim = simulator().await;
    let web = single_attempt_client(&sim);
    let store = Store::temporary().expect("store");
    // Everyone is in #general already: Slack refuses the invitation.
    let invite = OutboxMessage::call(
        "conversations.invite",
        serde_json::json!({ "channel": "C0GENERAL1", "users": "U0GRACE001" }),
    )
    .if_refused(
        vec![ALICE.to_owned()],
        "c1bot could not invite <@U0GRACE001>".to_owned(),
    );
    store
        .commit(Change::new().outbox(invite))
        .await
        .expect("commit");
    let first = drain_once(&store, &web).await.expect("pass");
    assert_eq!((first.delivered, first.given_up), (0, 1));
    let second = drain_once(&store, &web).await.expect("pass");
    assert_eq!(second.delivered, 1);
    assert_eq!(
        texts(&sim, "alice"),
        ["c1bot could not invite <@U0GRACE001>: they are already in the channel."]
    );
}

#[tokio::test]
async fn an_update_of_a_message_whose_post_was_given_up_is_given_up_too() {
    let sim = simulator().await;
    let web = single_attempt_client(&sim);
    let store = Store::temporary().expect("store");
    sim.faults()
        .slack_error("chat.postMessage", "channel_not_found", 1);
    let change = Change::new()
        .outbox(post(ALICE, "pending", "REQ-1/requester"))
        .outbox(update("approved", "REQ-1/requester"))
        .outbox(OutboxMessage {
            method: "chat.nonexistent".into(),
            args: json!({"channel": BOB}),
            record_ref: None,
            update_ref: None,
            if_refused: None,
        });
    store.commit(change).await.expect("commit");
    let drained = drain_once(&store, &web).await.expect("pass");
    assert_eq!((drained.delivered, drained.given_up), (0, 3));
    assert!(sim.calls_to("chat.update").is_empty());
    let reasons: Vec<String> = audit_actions(&store)
        .into_iter()
        .filter(|e| e["action"] == "notification.failed")
        .map(|e| e["detail"]["error"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("never succeeded")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("chat.nonexistent")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_transient_failure_in_one_conversation_does_not_hold_back_another() {
    let sim = simulator().await;
    let web = single_attempt_client(&sim);
    let store = Store::temporary().expect("store");
    sim.faults().http_error("chat.update", 503, 1);
    let change = Change::new()
        .outbox(post(ALICE, "pending", "REQ-1/requester"))
        .outbox(update("approved", "REQ-1/requester"))
        .outbox(post(BOB, "FYI", "REQ-1/approver"));
    store.commit(change).await.expect("commit");

    let now = Utc::now();
    let first = drain_pass(&store, &web, now, &CancellationToken::new())
        .await
        .expect("pass");
    assert_eq!((first.delivered, first.deferred), (2, 1));
    assert_eq!(
        first.next_retry_at,
        Some(now + chrono::TimeDelta::seconds(2))
    );
    assert_eq!(texts(&sim, "bob"), ["FYI"]);
    let (_, waiting) = store
        .pending_outbox()
        .expect("outbox")
        .pop()
        .expect("the update");
    assert_eq!(waiting.attempts, 1);

    // Not yet due: left alone.
    let early = drain_pass(&store, &web, now, &CancellationToken::new())
        .await
        .expect("pass");
    assert_eq!((early.delivered, early.deferred), (0, 1));

    let later = now + chrono::TimeDelta::seconds(3);
    let retried = drain_pass(&store, &web, later, &CancellationToken::new())
        .await
        .expect("pass");
    assert_eq!(retried.delivered, 1);
    assert_eq!(texts(&sim, "alice"), ["approved"]);
    assert!(store.slack_ref("REQ-1/approver").expect("read").is_some());
    assert!(store
        .get::<serde_json::Value>(Table::SlackRefs, "REQ-1/requester")
        .expect("read")
        .is_some());
}
