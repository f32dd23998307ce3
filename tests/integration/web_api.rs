//! The Web API client against the simulator: retries, rate limits, typed errors.

use std::time::Duration;

use c1bot::slack::web::{methods, WebApiError};
use serde_json::json;

use crate::helpers::{fast_sim_options, spawn_stopped};

#[tokio::test]
async fn a_429_is_retried_after_retry_after() {
    let app = spawn_stopped(fast_sim_options()).await;
    let web = c1bot::app::web_api(&app.config).expect("client");
    app.sim.faults().rate_limit("users.info", 1, 1);

    let answer = web
        .call(methods::USERS_INFO, json!({"user": "U0ALICE001"}))
        .await
        .expect("succeeds after the wait");

    assert_eq!(answer.body["user"]["id"], "U0ALICE001");
    let calls = app.sim.calls_to("users.info");
    assert_eq!(calls.len(), 2);
    assert!(
        calls[1].at.duration_since(calls[0].at) >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    app.stop().await;
}

#[tokio::test]
async fn server_errors_are_retried_and_then_succeed() {
    let app = spawn_stopped(fast_sim_options()).await;
    let web = c1bot::app::web_api(&app.config).expect("client");
    app.sim.faults().http_error("users.info", 500, 2);

    web.call(methods::USERS_INFO, json!({"user": "U0BOB00001"}))
        .await
        .expect("third try works");

    assert_eq!(app.sim.calls_to("users.info").len(), 3);
    app.stop().await;
}

#[tokio::test]
async fn a_definitive_slack_error_is_typed_and_never_retried() {
    let app = spawn_stopped(fast_sim_options()).await;
    let web = c1bot::app::web_api(&app.config).expect("client");

    let error = web
        .call(methods::USERS_INFO, json!({"user": "U0NOBODY01"}))
        .await
        .expect_err("no such user");

    assert_eq!(error.slack_code(), Some("user_not_found"));
    assert_eq!(app.sim.calls_to("users.info").len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_bounded_attempts() {
    let app = spawn_stopped(fast_sim_options()).await;
    let web = c1bot::app::web_api(&app.config).expect("client");
    app.sim.faults().http_error("users.info", 503, 100);

    let error = web
        .call(methods::USERS_INFO, json!({"user": "U0BOB00001"}))
        .await
        .expect_err("gives up");

    assert!(
        matches!(
            error,
            WebApiError::Http {
                status: 503,
                attempts: 4,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(app.sim.calls_to("users.info").len(), 4);
    app.stop().await;
}

#[tokio::test]
async fn the_app_token_is_used_only_for_apps_connections_open() {
    let app = spawn_stopped(fast_sim_options()).await;
    let web = c1bot::app::web_api(&app.config).expect("client");
    web.call(methods::AUTH_TEST, json!({}))
        .await
        .expect("bot token accepted");
    web.call(methods::APPS_CONNECTIONS_OPEN, json!({}))
        .await
        .expect("app token accepted");
    app.stop().await;
}
