//! Socket Mode: tickets, hello, events_api retries, disconnects, socket cap.

use std::time::Duration;

use serde_json::json;
use slack_morphism::prelude::*;

use super::harness::*;

#[tokio::test]
async fn hello_carries_every_field_slack_morphism_requires() {
    let sim = start().await;
    let (_ws, hello) = connect(&sim).await;
    assert_eq!(hello["type"], "hello");
    let parsed: Hello = serde_json::from_value(hello).expect("hello parses");
    assert_eq!(parsed.connection_info.app_id, "A0C1BOT001");
    assert_eq!(parsed.num_connections, 1);
    assert!(!parsed.debug_info.host.is_empty());
    assert_eq!(parsed.debug_info.approximate_connection_time, Some(18060));
    sim.wait_for_connections(1, Duration::from_secs(1))
        .await
        .expect("open");
    assert_eq!(sim.connections_opened_total(), 1);
}

#[tokio::test]
async fn a_ticket_works_once_and_debug_reconnects_is_accepted() {
    let sim = start().await;
    let (_, _, body) = call(
        &sim,
        "apps.connections.open",
        Some(&sim.app_token()),
        json!({}),
    )
    .await;
    let url = format!(
        "{}&debug_reconnects=true",
        body["url"].as_str().expect("url")
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(url.clone())
        .await
        .expect("first use");
    let hello: Hello =
        serde_json::from_value(next_frame(&mut ws).await.expect("hello")).expect("hello");
    assert_eq!(hello.debug_info.approximate_connection_time, Some(360));
    assert!(
        tokio_tungstenite::connect_async(url).await.is_err(),
        "second use refused"
    );
}

#[tokio::test]
async fn unacked_events_are_redelivered_with_the_same_ids_and_retry_attempt() {
    let sim = start().await;
    let (mut ws, _) = connect(&sim).await;
    let handle = sim.push_event(json!({"type": "app_mention", "user": "U0ALICE001", "text": "hi", "channel": "C0GENERAL1"})).await;
    let first = next_frame(&mut ws).await.expect("first delivery");
    let params: EnvelopeParams = serde_json::from_value(first.clone()).expect("envelope params");
    assert!(!params.accepts_response_payload);
    assert_eq!(params.envelope_id, handle.envelope_id);
    assert_eq!(
        (
            first["retry_attempt"].clone(),
            first["retry_reason"].clone()
        ),
        (json!(0), json!(""))
    );
    let callback: SlackPushEventCallback =
        serde_json::from_value(first["payload"].clone()).expect("event_callback parses");
    assert_eq!(callback.team_id.to_string(), "T0C1TEAM01");

    let retry = next_frame(&mut ws).await.expect("redelivery");
    assert_eq!(retry["envelope_id"], first["envelope_id"]);
    assert_eq!(retry["payload"]["event_id"], first["payload"]["event_id"]);
    assert_eq!(
        (
            retry["retry_attempt"].clone(),
            retry["retry_reason"].clone()
        ),
        (json!(1), json!("timeout"))
    );
    ack(&mut ws, &retry, None).await;
    let got = handle
        .ack(Duration::from_secs(1))
        .await
        .expect("ack recorded");
    assert_eq!(got.payload, None);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        sim.deliveries(&handle.envelope_id),
        2,
        "no retry after the ack"
    );
}

#[tokio::test]
async fn an_event_pushed_without_sockets_arrives_as_a_retry() {
    let sim = start().await;
    let handle = sim.push_event(json!({"type": "app_mention", "user": "U0BOB00001", "text": "x", "channel": "C0GENERAL1"})).await;
    assert_eq!(sim.deliveries(&handle.envelope_id), 0);
    let (mut ws, _) = connect(&sim).await;
    let env = next_frame(&mut ws).await.expect("delivered by a retry");
    assert_eq!(env["envelope_id"], handle.envelope_id.as_str());
    assert_eq!(env["retry_attempt"], 1);
}

#[tokio::test]
async fn refresh_keeps_the_old_socket_until_the_simulator_closes_it() {
    let sim = start().await;
    let (mut old, _) = connect(&sim).await;
    let (mut new, _) = connect(&sim).await;
    sim.wait_for_connections(2, Duration::from_secs(1))
        .await
        .expect("two open");
    sim.send_disconnect_with("refresh_requested", Duration::from_millis(300))
        .await
        .expect("disconnect");
    let frame = next_frame(&mut old).await.expect("disconnect frame");
    let d: Disconnect = serde_json::from_value(frame).expect("disconnect parses");
    assert_eq!(d.reason, "refresh_requested");
    assert!(!d.debug_info.host.is_empty());
    // New envelopes avoid the draining socket.
    for _ in 0..3 {
        let h = sim.push_event(json!({"type": "app_mention", "user": "U0BOB00001", "text": "x", "channel": "C0GENERAL1"})).await;
        let env = next_frame(&mut new).await.expect("on the new socket");
        assert_eq!(env["envelope_id"], h.envelope_id.as_str());
        ack(&mut new, &env, None).await;
    }
    assert_eq!(sim.open_connections(), 2);
    assert!(
        next_frame(&mut old).await.is_none(),
        "closed by the simulator"
    );
    sim.wait_for(Duration::from_secs(1), |s| s.open_connections() == 1)
        .await
        .expect("one left");
}

#[tokio::test]
async fn link_disabled_closes_everything_and_refuses_new_connections() {
    let sim = start().await;
    let (mut ws, _) = connect(&sim).await;
    sim.send_disconnect("link_disabled")
        .await
        .expect("disconnect");
    let frame = next_frame(&mut ws).await.expect("frame");
    assert_eq!(frame["reason"], "link_disabled");
    assert!(next_frame(&mut ws).await.is_none());
    let (_, _, body) = call(
        &sim,
        "apps.connections.open",
        Some(&sim.app_token()),
        json!({}),
    )
    .await;
    assert_eq!(body["error"], "invalid_auth");
}

#[tokio::test]
async fn abrupt_drop_ends_the_stream_and_the_count() {
    let sim = start().await;
    let (mut ws, _) = connect(&sim).await;
    sim.wait_for_connections(1, Duration::from_secs(1))
        .await
        .expect("open");
    sim.drop_connection_abruptly().await.expect("drop");
    assert_eq!(sim.open_connections(), 0);
    assert!(next_frame(&mut ws).await.is_none());
}

#[tokio::test]
async fn the_eleventh_socket_gets_too_many_websockets() {
    let sim = start().await;
    let mut keep = Vec::new();
    for _ in 0..10 {
        keep.push(connect(&sim).await.0);
    }
    let (mut ws, frame) = connect(&sim).await;
    assert_eq!(frame["type"], "disconnect");
    assert_eq!(frame["reason"], "too_many_websockets");
    assert!(next_frame(&mut ws).await.is_none());
    assert_eq!(sim.open_connections(), 10);
}

#[tokio::test]
async fn a_refused_handshake_fails_and_the_next_connection_works() {
    let sim = start().await;
    sim.faults().refuse_socket_handshakes(1);
    let (_, _, body) = call(
        &sim,
        "apps.connections.open",
        Some(&sim.app_token()),
        json!({}),
    )
    .await;
    let url = body["url"].as_str().expect("url").to_string();
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    let (_ws, hello) = connect(&sim).await;
    assert_eq!(hello["type"], "hello");
}

#[tokio::test]
async fn redeliver_everything_sends_each_envelope_again_on_another_socket() {
    let sim = start_with(crate::simulator::SimOptions {
        redeliver_everything: true,
        ..fast()
    })
    .await;
    let (mut a, _) = connect(&sim).await;
    let (mut b, _) = connect(&sim).await;
    sim.wait_for_connections(2, Duration::from_secs(1))
        .await
        .expect("two open");
    let h = sim.push_event(json!({"type": "app_mention", "user": "U0BOB00001", "text": "x", "channel": "C0GENERAL1"})).await;
    let (fa, fb) = (
        next_frame(&mut a).await.expect("a"),
        next_frame(&mut b).await.expect("b"),
    );
    assert_eq!(fa["envelope_id"], fb["envelope_id"]);
    let mut attempts = [fa["retry_attempt"].as_u64(), fb["retry_attempt"].as_u64()];
    attempts.sort();
    assert_eq!(attempts, [Some(0), Some(1)]);
    ack(&mut a, &fa, None).await;
    ack(&mut b, &fb, None).await;
    sim.wait_for(Duration::from_secs(1), |s| s.acks_received().len() == 2)
        .await
        .expect("both acks");
    let conns: Vec<u64> = sim
        .deliveries_of(&h.envelope_id)
        .iter()
        .map(|d| d.connection_id)
        .collect();
    assert_ne!(conns[0], conns[1]);
}
