//! The sender's pure parts (retry schedule, what a failure may have done) and its
//! behaviour against the simulator: restart recovery, post-then-update order, given-up
//! messages, independent conversations, quarantine, and posts found in history
//! instead of posted twice. Ordering itself is unit-tested in `lanes`.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::deliver::{backoff, is_transient, may_have_arrived, retry_at};
use super::*;
use crate::simulator::{SimOptions, Simulator, Workspace};
use crate::slack::web::{methods, WebApiOptions};
use crate::store::{Change, OutboxEntry, OutboxMessage, SlackRef, Table};

/// A method name that makes a delivery task panic, once per process (a bug injected).
const PANIC_ONCE: &str = "test.panic_once";
static PANICKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(super) fn maybe_panic(method: &str) {
    if method == PANIC_ONCE && !PANICKED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        panic!("a bug in a delivery task (injected)");
    }
}

const ALICE: &str = "U0ALICE001";
const BOB: &str = "U0BOB00001";
const WITHIN: Duration = Duration::from_secs(15);

fn post(channel: &str, text: &str, record_ref: &str) -> OutboxMessage {
    OutboxMessage::post(channel, &json!({ "text": text }), record_ref.into())
}

fn card(channel: &str, text: &str, record_ref: &str) -> OutboxMessage {
    let blocks = json!([{"type": "actions", "elements": [
        {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}, "value": "REQ-1"}]}]);
    OutboxMessage::post(
        channel,
        &json!({ "text": text, "blocks": blocks }),
        record_ref.into(),
    )
}

fn update(text: &str, update_ref: &str) -> OutboxMessage {
    OutboxMessage::update(&json!({ "text": text, "blocks": [] }), update_ref.into())
}

#[test]
fn a_failed_entry_waits_longer_after_each_attempt() {
    let at = Utc
        .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid");
    let mut e = OutboxEntry::new(post(ALICE, "x", "K/1"), at);
    assert_eq!(retry_at(&e), None);
    e.last_failed_at = Some(at);
    e.attempts = 1;
    assert_eq!(retry_at(&e), Some(at + chrono::TimeDelta::seconds(1)));
    e.attempts = 4;
    assert_eq!(retry_at(&e), Some(at + chrono::TimeDelta::seconds(8)));
    e.attempts = 40;
    assert_eq!(retry_at(&e), Some(at + chrono::TimeDelta::minutes(5)));
    assert_eq!(backoff(2), chrono::TimeDelta::seconds(2));
}

#[test]
fn only_throttling_and_unreachable_slack_are_retried_and_only_a_throttle_surely_posted_nothing() {
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
        attempts: 1,
    };
    let limited = WebApiError::RateLimited {
        method: "chat.postMessage",
        retry_after: Duration::from_secs(1),
        attempts: 1,
    };
    assert!(!is_transient(&slack));
    assert!(is_transient(&http) && may_have_arrived(&http));
    assert!(is_transient(&limited) && !may_have_arrived(&limited));
}

// ---- against the simulator ----

async fn simulator_with(options: SimOptions) -> Simulator {
    Simulator::start(Workspace::demo(), options)
        .await
        .expect("simulator")
}

async fn simulator() -> Simulator {
    simulator_with(SimOptions::default()).await
}

fn client(sim: &Simulator, timeout: Duration) -> WebApi {
    let mut options =
        WebApiOptions::new(sim.api_url(), Some(sim.app_token()), Some(sim.bot_token()));
    options.retry.max_attempts = 1;
    options.timeout = timeout;
    WebApi::new(options).expect("client")
}

/// A running sender; stopped (and awaited) by [`Running::stop`].
struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(store: &Store, web: WebApi) -> Running {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(store.clone(), web, stop.clone(), Heartbeat::detached()));
        Running { stop, task }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("the sender stops");
    }
}

/// Runs a sender until the outbox is empty.
async fn deliver_all(sim: &Simulator, store: &Store) {
    let sender = Running::start(store, client(sim, Duration::from_secs(10)));
    settled(store).await;
    sender.stop().await;
}

fn texts(sim: &Simulator, person: &str) -> Vec<String> {
    sim.person(person)
        .dms()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

async fn wait_until(sim: &Simulator, what: &str, check: impl FnMut(&Simulator) -> bool) {
    sim.wait_for(WITHIN, check)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for: {what}"));
}

async fn queue(store: &Store, message: OutboxMessage) {
    store
        .commit(Change::new().outbox(message))
        .await
        .expect("commit");
}

async fn wait_for_dm(sim: &Simulator, person: &str, what: &str) {
    wait_until(sim, what, |sim| !sim.person(person).dms().is_empty()).await;
}

async fn settled(store: &Store) {
    depth_reaches(store, 0).await;
}

async fn depth_reaches(store: &Store, depth: usize) {
    for _ in 0..1500 {
        if store.outbox_depth() == depth {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the outbox did not go down to {depth}: {:?}",
        store.pending_outbox()
    );
}

fn audit_actions(store: &Store, action: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    store.export_audit(&mut out).expect("export");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .filter(|e| e["action"] == action)
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
    let failed = audit_actions(&store, "notification.failed");
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
    let store = Store::temporary().expect("store");
    // Everyone is in #general already: Slack refuses the invitation.
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
        ["c1bot could not invite <@U0GRACE001>: they are already in the channel."]
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
        .into_iter()
        .map(|e| e["detail"]["error"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("never succeeded")));
    assert!(reasons.iter().any(|r| r.contains("chat.nonexistent")));
}

#[tokio::test]
async fn a_failing_and_a_paced_conversation_hold_back_no_other() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    // alice's DM answers 503 for a long while; carol has 40 messages queued, paced
    // at one a second after a burst of five.
    sim.faults()
        .http_error_to("chat.postMessage", ALICE, 503, 1_000);
    let mut change = Change::new().outbox(post(ALICE, "stuck", "A/1"));
    for i in 0..40 {
        change = change.outbox(post("U0CAROL001", &format!("task {i}"), &format!("T/{i}")));
    }
    store.commit(change).await.expect("commit");
    let sender = Running::start(&store, client(&sim, Duration::from_secs(10)));
    wait_until(&sim, "alice's DM failed at least once", |sim| {
        sim.calls_to("chat.postMessage")
            .iter()
            .any(|c| c.http_status == 503)
    })
    .await;
    // Committed after both: delivered while they still wait.
    queue(&store, post(BOB, "please approve", "REQ-9/approver")).await;
    wait_for_dm(&sim, "bob", "bob's card").await;
    assert!(texts(&sim, "alice").is_empty());
    assert!(
        sim.person("carol").dms().len() < 40,
        "bob's card did not wait for carol's queue"
    );
    assert_eq!(store.outbox_queued_to(ALICE), 1);
    sender.stop().await;
}

#[tokio::test]
async fn an_unreadable_row_is_quarantined_and_everything_else_delivered() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    let change = Change::new()
        .outbox(post(ALICE, "one", "K/1"))
        .outbox(post(BOB, "two", "K/2"));
    let ids = store.commit(change).await.expect("commit").outbox_ids;
    store
        .tree(Table::Outbox)
        .insert(ids[0].to_be_bytes(), &b"{\"v\":1,\"data\":42}"[..])
        .expect("garbage planted over the first entry");
    let sender = Running::start(&store, client(&sim, Duration::from_secs(10)));
    wait_for_dm(&sim, "bob", "the readable entry").await;
    queue(&store, post(ALICE, "three", "K/3")).await;
    wait_for_dm(&sim, "alice", "a later entry").await;
    sender.stop().await;
    assert_eq!(texts(&sim, "alice"), ["three"]);
    assert_eq!(store.quarantined_count(Table::Outbox).expect("count"), 1);
    assert!(store.pending_outbox().expect("outbox").is_empty());
}

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

#[tokio::test]
async fn a_panicking_delivery_task_restarts_the_sender_which_goes_on_delivering() {
    let sim = simulator().await;
    let store = Store::temporary().expect("store");
    let metrics = crate::metrics::Metrics::default();
    let supervisor = crate::supervise::Supervisor::new(metrics.clone());
    let stop = CancellationToken::new();
    let handle = {
        let (store, web, stop) = (store.clone(), client(&sim, WITHIN), stop.clone());
        supervisor.spawn("outbox", STALE_AFTER, stop.clone(), move |beat| {
            run(store.clone(), web.clone(), stop.clone(), beat)
        })
    };
    queue(
        &store,
        OutboxMessage::call(PANIC_ONCE, json!({"channel": BOB})),
    )
    .await;
    queue(&store, post(ALICE, "after the panic", "K/1")).await;
    wait_for_dm(&sim, "alice", "delivery after the restart").await;
    settled(&store).await;
    let restarts = metrics.value("c1bot_loop_restarts_total", &[("loop", "outbox")]);
    assert_eq!(restarts, 1.0, "the panic was counted as a restart");
    stop.cancel();
    handle.await.expect("the supervisor ends");
}

#[tokio::test]
async fn conversations_waiting_out_a_rate_limit_hold_no_delivery_slot() {
    let workspace = Workspace::large(CONCURRENT_CALLS + 4);
    let sim = Simulator::start(workspace, SimOptions::default())
        .await
        .expect("simulator");
    let store = Store::temporary().expect("store");
    // More conversations than delivery slots answer 429 with a long Retry-After.
    let mut change = Change::new();
    for i in 0..CONCURRENT_CALLS + 4 {
        let user = format!("U0L{i:07}");
        sim.faults()
            .rate_limit_to("chat.postMessage", &user, 600, 1_000);
        change = change.outbox(post(&user, "throttled", &format!("L/{i}")));
    }
    store.commit(change).await.expect("commit");
    let sender = Running::start(&store, client(&sim, WITHIN));
    wait_until(
        &sim,
        "enough conversations to fill every slot were refused",
        |sim| sim.calls_to("chat.postMessage").len() >= CONCURRENT_CALLS,
    )
    .await;
    queue(&store, post(BOB, "please approve", "REQ-9/approver")).await;
    wait_for_dm(&sim, "bob", "bob's card, past the throttled conversations").await;
    depth_reaches(&store, CONCURRENT_CALLS + 4).await;
    sender.stop().await;
}
