//! The sender's tests: its pure parts here (retry schedule, what a failure may have
//! done), its behaviour against the simulator in `delivery`, `independent` and
//! `exactly_once`, with the helpers they share. Ordering itself is unit-tested in
//! `lanes`, history matching in `history`.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::outcome::{backoff, is_transient, may_have_arrived, retry_at};
use super::*;
use crate::simulator::{SimOptions, Simulator, Workspace};
use crate::slack::web::{methods, WebApiOptions};
use crate::store::{Change, OutboxEntry, OutboxMessage, SlackRef, Table};

/// A method name that makes a delivery task panic, once per process (a bug injected).
pub(super) const PANIC_ONCE: &str = "test.panic_once";
static PANICKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub(super) fn maybe_panic(method: &str) {
    if method == PANIC_ONCE && !PANICKED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        panic!("a bug in a delivery task (injected)");
    }
}

pub(super) const ALICE: &str = "U0ALICE001";
pub(super) const BOB: &str = "U0BOB00001";
pub(super) const WITHIN: Duration = Duration::from_secs(15);

pub(super) fn post(channel: &str, text: &str, record_ref: &str) -> OutboxMessage {
    OutboxMessage::post(channel, &json!({ "text": text }), record_ref.into())
}

pub(super) fn card(channel: &str, text: &str, record_ref: &str) -> OutboxMessage {
    let blocks = json!([{"type": "actions", "elements": [
        {"type": "button", "action_id": "approve", "text": {"type": "plain_text", "text": "Approve"}, "value": "REQ-1"}]}]);
    OutboxMessage::post(
        channel,
        &json!({ "text": text, "blocks": blocks }),
        record_ref.into(),
    )
}

pub(super) fn update(text: &str, update_ref: &str) -> OutboxMessage {
    OutboxMessage::update(&json!({ "text": text, "blocks": [] }), update_ref.into())
}

#[test]
pub(super) fn a_failed_entry_waits_longer_after_each_attempt() {
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
pub(super) fn only_throttling_and_unreachable_slack_are_retried_and_only_a_throttle_surely_posted_nothing(
) {
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

pub(super) async fn simulator_with(options: SimOptions) -> Simulator {
    Simulator::start(Workspace::demo(), options)
        .await
        .expect("simulator")
}

pub(super) async fn simulator() -> Simulator {
    simulator_with(SimOptions::default()).await
}

pub(super) fn client(sim: &Simulator, timeout: Duration) -> WebApi {
    let mut options =
        WebApiOptions::new(sim.api_url(), Some(sim.app_token()), Some(sim.bot_token()));
    options.retry.max_attempts = 1;
    options.timeout = timeout;
    WebApi::new(options).expect("client")
}

/// A running sender; stopped (and awaited) by [`Running::stop`].
pub(super) struct Running {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub(super) fn start(store: &Store, web: WebApi) -> Running {
        Self::start_with(store, web, crate::burst::Burst::default())
    }

    /// Like [`Running::start`], yielding to `burst`.
    pub(super) fn start_with(store: &Store, web: WebApi, burst: crate::burst::Burst) -> Running {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(
            store.clone(),
            web,
            burst,
            stop.clone(),
            Heartbeat::detached(),
        ));
        Running { stop, task }
    }

    pub(super) async fn stop(self) {
        self.stop.cancel();
        self.task.await.expect("the sender stops");
    }
}

/// Runs a sender until the outbox is empty.
pub(super) async fn deliver_all(sim: &Simulator, store: &Store) {
    let sender = Running::start(store, client(sim, Duration::from_secs(10)));
    settled(store).await;
    sender.stop().await;
}

pub(super) fn texts(sim: &Simulator, person: &str) -> Vec<String> {
    sim.person(person)
        .dms()
        .into_iter()
        .map(|m| m.text)
        .collect()
}

pub(super) async fn wait_until(sim: &Simulator, what: &str, check: impl FnMut(&Simulator) -> bool) {
    sim.wait_for(WITHIN, check)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for: {what}"));
}

pub(super) async fn queue(store: &Store, message: OutboxMessage) {
    store
        .commit(Change::new().outbox(message))
        .await
        .expect("commit");
}

pub(super) async fn wait_for_dm(sim: &Simulator, person: &str, what: &str) {
    wait_until(sim, what, |sim| !sim.person(person).dms().is_empty()).await;
}

pub(super) async fn settled(store: &Store) {
    depth_reaches(store, 0).await;
}

pub(super) async fn depth_reaches(store: &Store, depth: usize) {
    for _ in 0..1500 {
        if store.outbox_depth() == depth {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "the outbox did not go down to {depth}: {:?}",
        store.pending_outbox().await
    );
}

pub(super) async fn audit_actions(store: &Store, action: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    store.export_audit(&mut out).await.expect("export");
    String::from_utf8(out)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json line"))
        .filter(|e| e["action"] == action)
        .collect()
}

mod delivery;
mod exactly_once;
mod independent;
