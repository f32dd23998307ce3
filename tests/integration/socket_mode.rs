//! Socket Mode: connecting, acking, refreshes, drops, duplicates, odd payloads.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::helpers::{
    eventually, fast_sim_options, spawn_app, spawn_app_with, spawn_stopped, start,
};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_bot_connects_and_answers_c1_with_usage_in_time() {
    let app = spawn_app().await;
    assert_eq!(app.sim.open_connections(), 2);

    let outcome = app.sim.person("alice").slash("/c1", "", "general").await;

    assert!(outcome.acked, "the person must not see an error");
    assert!(
        outcome.response_text.contains("/c1 help"),
        "{}",
        outcome.response_text
    );
    let ephemerals = app.sim.person("alice").ephemerals();
    assert!(ephemerals
        .iter()
        .any(|m| m.visible_text().contains("c1bot")));
    assert!(app.sim.person_errors().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_subcommand_is_named_in_the_usage_answer() {
    let app = spawn_app().await;
    let outcome = app
        .sim
        .person("bob")
        .slash("/c1", "frobnicate <!channel>", "general")
        .await;
    assert!(outcome.acked);
    assert!(
        outcome
            .response_text
            .starts_with("I don't know `frobnicate`"),
        "{}",
        outcome.response_text
    );
    app.stop().await;
}

/// Samples the open connection count every 2 ms and keeps the lowest seen.
fn watch_lowest_connection_count(
    sim: &c1bot::simulator::Simulator,
) -> (Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let lowest = Arc::new(AtomicUsize::new(usize::MAX));
    let sim = sim.clone();
    let seen = lowest.clone();
    let task = tokio::spawn(async move {
        loop {
            seen.fetch_min(sim.open_connections(), Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    (lowest, task)
}

async fn refresh_keeps_serving(reason: &str) {
    let mut options = fast_sim_options();
    options.server_ping_interval = Some(Duration::from_millis(200));
    // One link: a bot that closed before replacing would leave Slack with nowhere to send.
    let mut app = spawn_stopped(options).await;
    app.config.slack.connections = 1;
    let app = start(app).await;
    let opened_before = app.sim.connections_opened_total();
    let (lowest, sampler) = watch_lowest_connection_count(&app.sim);

    app.sim
        .send_disconnect_with(reason, Duration::from_millis(400))
        .await
        .expect("disconnect sent");
    // People keep working through the refresh.
    let alice = app.sim.person("alice");
    let mut homes = Vec::new();
    for i in 0..20 {
        let outcome = alice.slash("/c1", "help", "general").await;
        assert!(outcome.acked, "slash command {i} failed during {reason}");
        homes.push(app.sim.person("carol").open_app_home().await);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    eventually(
        WAIT,
        "the replacement is up and the old link gone",
        || async {
            app.sim.connections_opened_total() == opened_before + 1
                && app.sim.open_connections() == 1
        },
    )
    .await;
    sampler.abort();

    assert!(
        lowest.load(Ordering::Relaxed) >= 1,
        "there was a moment with no connection during {reason}"
    );
    for home in homes {
        assert!(
            home.ack(WAIT).await.is_some(),
            "an events_api envelope was never acked"
        );
    }
    eventually(WAIT, "every app_home_opened handled", || async {
        app.sim.calls_to("views.publish").len() == 20
    })
    .await;
    assert!(
        app.sim.person_errors().is_empty(),
        "{:?}",
        app.sim.person_errors()
    );
    app.stop().await;
}

#[tokio::test]
async fn refresh_requested_opens_the_replacement_before_the_old_link_closes() {
    refresh_keeps_serving("refresh_requested").await;
}

#[tokio::test]
async fn a_warning_is_handled_like_a_refresh() {
    refresh_keeps_serving("warning").await;
}

#[tokio::test]
async fn link_disabled_stops_the_bot_with_a_clear_error() {
    let mut app = spawn_app().await;
    app.sim
        .send_disconnect("link_disabled")
        .await
        .expect("sent");
    let bot = app.bot.take().expect("running");
    let error = tokio::time::timeout(WAIT, bot.wait())
        .await
        .expect("the bot stops by itself")
        .expect_err("link_disabled is an error");
    let message = format!("{error:#}");
    assert!(
        message.contains("link_disabled") && message.contains("Socket Mode"),
        "{message}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_abrupt_drop_is_reconnected_and_no_event_is_lost() {
    let app = spawn_app_with(fast_sim_options()).await;
    let opened_before = app.sim.connections_opened_total();

    app.sim.drop_all_connections_abruptly().await;
    // Events raised while no link is open are delivered by Slack's retries.
    let mut homes = Vec::new();
    for person in ["alice", "bob", "carol", "frank"] {
        homes.push(app.sim.person(person).open_app_home().await);
    }

    eventually(WAIT, "both links are back", || async {
        app.sim.open_connections() == 2
    })
    .await;
    assert!(app.sim.connections_opened_total() >= opened_before + 2);
    for home in homes {
        assert!(
            home.ack(WAIT).await.is_some(),
            "an event raised during the drop was never acked"
        );
    }
    eventually(WAIT, "every event was handled once", || async {
        app.sim.calls_to("views.publish").len() == 4
    })
    .await;
    for person in ["alice", "bob", "carol", "frank"] {
        assert!(
            app.sim.person(person).home().is_some(),
            "{person} has no App Home"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn a_failed_connect_is_retried_with_backoff() {
    let app = spawn_stopped(fast_sim_options()).await;
    app.sim
        .faults()
        .slack_error("apps.connections.open", "internal_error", 3);

    let app = start(app).await;

    let opens = app.sim.calls_to("apps.connections.open");
    assert_eq!(
        opens.len(),
        2 + 3,
        "three failures, then one success per connection"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_revoked_app_token_stops_start_up_with_the_variable_named() {
    let app = spawn_stopped(fast_sim_options()).await;
    app.sim
        .faults()
        .slack_error("apps.connections.open", "token_revoked", 1);
    let bot = c1bot::app::start(&app.config)
        .await
        .expect("the bot token is fine");
    let error = tokio::time::timeout(WAIT, bot.wait())
        .await
        .expect("stops by itself")
        .expect_err("a revoked app token is fatal");
    assert!(
        format!("{error:#}").contains("SLACK_APP_TOKEN"),
        "{error:#}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_refused_bot_token_stops_start_up_with_the_variable_named() {
    let app = spawn_stopped(fast_sim_options()).await;
    app.sim.faults().slack_error("auth.test", "invalid_auth", 1);
    let error = c1bot::app::start(&app.config)
        .await
        .err()
        .expect("start-up fails");
    assert!(
        format!("{error:#}").contains("SLACK_BOT_TOKEN"),
        "{error:#}"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_envelope_delivered_twice_is_processed_once_and_acked_twice() {
    let mut options = fast_sim_options();
    options.redeliver_everything = true;
    let app = spawn_app_with(options).await;

    let outcome = app
        .sim
        .person("alice")
        .slash("/c1", "help", "general")
        .await;
    assert!(outcome.acked);
    let home = app.sim.person("bob").open_app_home().await;

    eventually(WAIT, "both copies of each envelope acked", || async {
        let acks = app.sim.acks_received();
        let home_acks = acks
            .iter()
            .filter(|a| a.envelope_id == home.envelope_id)
            .count();
        home_acks == 2
    })
    .await;
    // Give a duplicate handler run time to show itself before counting.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.sim.calls_to("views.publish").len(),
        1,
        "the event was handled twice"
    );
    assert!(
        app.sim.person_errors().is_empty(),
        "{:?}",
        app.sim.person_errors()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_retried_event_with_a_new_envelope_id_is_processed_once() {
    let app = spawn_app().await;
    let event = |envelope_id: &str, attempt: u32| {
        json!({
            "envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": false,
            "retry_attempt": attempt, "retry_reason": if attempt > 0 { "timeout" } else { "" },
            "payload": {
                "token": "fixed-value", "team_id": "T0C1TEAM01", "api_app_id": "A0C1BOT001",
                "type": "event_callback", "event_id": "Ev0RETRY001", "event_time": 1763630043,
                "event": {"type": "app_home_opened", "user": "U0ALICE001", "channel": "D0ALICEBOT", "tab": "home", "event_ts": "1763630043.000100"}
            }
        })
    };
    let first = app
        .sim
        .push_raw_envelope(event("11111111-0000-0000-0000-000000000001", 0))
        .await;
    let retry = app
        .sim
        .push_raw_envelope(event("11111111-0000-0000-0000-000000000002", 1))
        .await;
    assert!(first.ack(WAIT).await.is_some());
    assert!(
        retry.ack(WAIT).await.is_some(),
        "the retry must be acked too"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sim.calls_to("views.publish").len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn unknown_envelope_and_payload_types_are_acked_and_survived() {
    let app = spawn_app().await;
    let odd_envelope = app
        .sim
        .push_raw_envelope(json!({"envelope_id": "22222222-0000-0000-0000-000000000001", "type": "brand_new_kind", "accepts_response_payload": false, "payload": {}}))
        .await;
    let odd_interaction = app
        .sim
        .push_raw_envelope(json!({"envelope_id": "22222222-0000-0000-0000-000000000002", "type": "interactive", "accepts_response_payload": false, "payload": {"type": "future_interaction", "team": {"id": "T0C1TEAM01"}}}))
        .await;
    assert!(odd_envelope.ack(WAIT).await.is_some());
    assert!(odd_interaction.ack(WAIT).await.is_some());
    // A modal c1bot never opened, submitted.
    let odd_modal = app
        .sim
        .push_raw_envelope(json!({"envelope_id": "22222222-0000-0000-0000-000000000003", "type": "interactive", "accepts_response_payload": true, "payload": {"type": "view_submission", "team": {"id": "T0C1TEAM01"}, "user": {"id": "U0ALICE001"}, "view": {"callback_id": "not_ours", "state": {"values": {}}}}}))
        .await;
    assert!(odd_modal.ack(WAIT).await.is_some());
    // Both interactions nothing handles are counted for the operator.
    let metrics = app.bot.as_ref().expect("running").metrics.clone();
    eventually(WAIT, "the unhandled interactions are counted", || async {
        metrics
            .render()
            .await
            .contains("c1bot_envelopes_unread_total{kind=\"interactive\",why=\"no_handler\"} 2")
    })
    .await;

    let outcome = app
        .sim
        .person("alice")
        .slash("/c1", "help", "general")
        .await;
    assert!(outcome.acked, "the bot must survive odd payloads");
    assert_eq!(app.sim.open_connections(), 2);
    app.stop().await;
}

/// A slash command Slack's model cannot read (here: its `response_url` is no URL) is
/// answered, so the person knows nothing happened, and counted for the operator;
/// so is an `app_home_opened` event without its user.
#[tokio::test]
async fn a_payload_that_does_not_decode_is_answered_and_counted() {
    let app = spawn_app().await;
    let command = app
        .sim
        .push_raw_envelope(json!({
            "envelope_id": "33333333-0000-0000-0000-000000000001", "type": "slash_commands",
            "accepts_response_payload": true,
            "payload": {
                "token": "fixed-value", "team_id": "T0C1TEAM01", "channel_id": "C0GENERAL1",
                "user_id": "U0ALICE001", "command": "/c1", "text": "status",
                "api_app_id": "A0C1BOT001", "response_url": "not a url",
                "trigger_id": "1.2.3"
            }
        }))
        .await;
    let answer = command.ack(WAIT).await.expect("acked").payload;
    let text = answer
        .as_ref()
        .and_then(|a| a["text"].as_str())
        .unwrap_or_default();
    assert!(text.contains("could not read that command"), "{answer:?}");
    let event = app
        .sim
        .push_raw_envelope(json!({
            "envelope_id": "33333333-0000-0000-0000-000000000002", "type": "events_api",
            "accepts_response_payload": false,
            "payload": {
                "token": "fixed-value", "team_id": "T0C1TEAM01", "api_app_id": "A0C1BOT001",
                "type": "event_callback", "event_id": "Ev0ODD00001", "event_time": 1763630043,
                "event": {"type": "app_home_opened", "tab": "home"}
            }
        }))
        .await;
    assert!(event.ack(WAIT).await.is_some());

    let metrics = app.bot.as_ref().expect("running").metrics.clone();
    eventually(WAIT, "both are counted", || async {
        let text = metrics.render().await;
        text.contains("c1bot_envelopes_unread_total{kind=\"slash_commands\",why=\"undecodable\"} 1")
            && text
                .contains("c1bot_envelopes_unread_total{kind=\"events_api\",why=\"undecodable\"} 1")
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_slow_web_api_does_not_delay_acks() {
    // One link, so both envelopes share it: a handler that blocked its connection would show.
    let mut app = spawn_stopped(fast_sim_options()).await;
    app.config.slack.connections = 1;
    let app = start(app).await;
    app.sim
        .faults()
        .latency(Some("views.publish"), Duration::from_secs(2));

    let home = app.sim.person("alice").open_app_home().await;
    assert!(home.ack(WAIT).await.is_some());
    let outcome = app.sim.person("bob").slash("/c1", "help", "general").await;

    assert!(outcome.acked);
    // Ordering, not timing: the command was answered while views.publish was still in Slack's hands.
    assert!(
        app.sim.person("alice").home().is_none(),
        "the ack waited for the slow Web API call"
    );
    eventually(WAIT, "the home tab is published in the end", || async {
        app.sim.person("alice").home().is_some()
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_bot_token_missing_a_core_scope_stops_start_up_naming_the_scope() {
    // Only the core scopes stop start-up; any other switches one feature off
    // (tests/integration/scopes.rs).
    let mut options = fast_sim_options();
    options.granted_scopes.retain(|s| s != "users:read");
    let app = spawn_stopped(options).await;

    let error = c1bot::app::start(&app.config)
        .await
        .err()
        .expect("start-up refuses");

    let message = format!("{error:#}");
    assert!(
        message.contains("users:read") && message.contains("reinstall"),
        "{message}"
    );
    assert!(
        !message.contains("chat:write"),
        "granted scopes are not listed as missing: {message}"
    );
    app.stop().await;
}
