//! `conversations.history` and the faults for exactly-once delivery: metadata kept
//! and shown only when asked for, newest-first pages with a cursor, scope and
//! membership errors by conversation type, and a post Slack carries out but never
//! answers.

use std::time::Duration;

use serde_json::json;

use super::harness::*;
use crate::simulator::SimOptions;

fn posted(n: u64) -> serde_json::Value {
    json!({"channel": "U0ALICE001", "text": format!("m{n}"),
           "metadata": {"event_type": "c1bot_outbox", "event_payload": {"outbox_id": n, "key": ""}}})
}

#[tokio::test]
async fn history_pages_newest_first_with_metadata_only_when_asked() {
    let sim = start().await;
    for n in 1..=5 {
        assert_eq!(bot(&sim, "chat.postMessage", posted(n)).await["ok"], true);
    }
    let first = bot(
        &sim,
        "conversations.history",
        json!({"channel": "D0ALICE001", "limit": 2, "include_all_metadata": true}),
    )
    .await;
    let texts: Vec<&str> = first["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert_eq!(texts, ["m5", "m4"]);
    assert_eq!(first["has_more"], true);
    assert_eq!(
        first["messages"][0]["metadata"]["event_payload"]["outbox_id"],
        5
    );
    let cursor = first["response_metadata"]["next_cursor"].clone();
    let rest = bot(
        &sim,
        "conversations.history",
        json!({"channel": "D0ALICE001", "cursor": cursor, "limit": 10}),
    )
    .await;
    assert_eq!(rest["messages"].as_array().map(Vec::len), Some(3));
    assert_eq!(rest["has_more"], false);
    assert!(rest["messages"][0]["metadata"].is_null(), "not asked for");
    let oldest = first["messages"][1]["ts"].clone();
    let newer = bot(
        &sim,
        "conversations.history",
        json!({"channel": "D0ALICE001", "oldest": oldest}),
    )
    .await;
    assert_eq!(
        newer["messages"].as_array().map(Vec::len),
        Some(1),
        "oldest is exclusive"
    );
}

#[tokio::test]
async fn history_needs_the_scope_of_the_conversations_type_and_membership() {
    let sim = start().await;
    let denied = bot(
        &sim,
        "conversations.history",
        json!({"channel": "C0GENERAL1"}),
    )
    .await;
    assert_eq!(denied["error"], "missing_scope");
    assert_eq!(denied["needed"], "channels:history");
    let unknown = bot(
        &sim,
        "conversations.history",
        json!({"channel": "C0NOWHERE1"}),
    )
    .await;
    assert_eq!(unknown["error"], "channel_not_found");

    let mut options = SimOptions::default();
    options.granted_scopes.push("channels:history".into());
    let sim = start_with(options).await;
    let read = bot(
        &sim,
        "conversations.history",
        json!({"channel": "C0GENERAL1"}),
    )
    .await;
    assert_eq!(read["ok"], true);
    let outside = bot(
        &sim,
        "conversations.history",
        json!({"channel": "C0SECURITY"}),
    )
    .await;
    assert_eq!(outside["error"], "not_in_channel");
}

#[tokio::test]
async fn a_hung_post_is_visible_but_never_answered() {
    let sim = start().await;
    sim.faults()
        .accept_and_hang("chat.postMessage", Some("U0ALICE001"), 1);
    let call = tokio::time::timeout(
        Duration::from_millis(300),
        bot(&sim, "chat.postMessage", posted(1)),
    )
    .await;
    assert!(call.is_err(), "the answer never came");
    let dms = sim.person("alice").dms();
    assert_eq!(dms.len(), 1);
    assert_eq!(
        dms[0]
            .metadata
            .as_ref()
            .map(|m| m["event_payload"]["outbox_id"].clone()),
        Some(json!(1))
    );
    assert_eq!(bot(&sim, "chat.postMessage", posted(2)).await["ok"], true);
}
