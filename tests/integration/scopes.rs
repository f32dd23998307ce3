//! Least privilege under Admin-Approved Apps: a scope an admin has not approved (or
//! removed after start-up) switches off the features that need it, never the bot.
//! People who try such a feature are told why; `/readyz`, the metrics and admins'
//! App Home say which scope waits.

use c1bot::simulator::SubmitOutcome;

use crate::campaigns::{alice_has_access, create};
use crate::grants::told;
use crate::helpers::{eventually, fast_sim_options, spawn_stopped, start, TestApp};
use crate::requests::{dm_containing, request, WAIT};

/// A bot whose token lacks `missing`, with the health listener on.
async fn app_without(missing: &[&str]) -> TestApp {
    let mut options = fast_sim_options();
    options
        .granted_scopes
        .retain(|s| !missing.contains(&s.as_str()));
    let mut app = spawn_stopped(options).await;
    app.config.health.listen = Some("127.0.0.1:0".parse().expect("address"));
    start(app).await
}

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let addr = app
        .bot
        .as_ref()
        .and_then(|b| b.health_addr)
        .expect("health listener");
    let response = reqwest::get(format!("http://{addr}{path}"))
        .await
        .expect("health listener answers");
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The text of `who`'s App Home, once published.
async fn home_text(app: &TestApp, who: &str) -> String {
    let person = app.sim.person(who);
    person.open_app_home().await;
    let mut text = String::new();
    eventually(WAIT, &format!("{who}'s App Home is published"), || {
        text = person.home().map(|h| h.to_string()).unwrap_or_default();
        let done = !text.is_empty();
        async move { done }
    })
    .await;
    text
}

const WAITS_FOR_MANAGE: &str =
    "Campaign channels wait for a workspace admin to approve c1bot's Slack scope `channels:manage`";

#[tokio::test]
async fn without_channels_manage_c1bot_serves_everything_but_campaign_channels() {
    let app = app_without(&["channels:manage"]).await;
    // Requests work end to end: asked, approved, granted, active.
    alice_has_access(&app).await;

    // Access reviews work; the campaign-channel button says what it waits for.
    let bob = app.sim.person("bob");
    assert!(matches!(create(&bob, "Q4").await, SubmitOutcome::Closed));
    dm_containing(&bob, "Access review CMP-1").await;
    bob.click("Add channel").await.expect("bob clicks");
    told(&bob, WAITS_FOR_MANAGE).await;
    assert!(bob.modal().is_none(), "no channel form opens");
    assert!(app.sim.calls_to("conversations.create").is_empty());

    let (status, body) = get(&app, "/readyz").await;
    assert_eq!(status, 200, "one feature waiting is not a bot down: {body}");
    assert!(
        body.contains(&format!("degraded: {WAITS_FOR_MANAGE}")),
        "{body}"
    );
    let (_, metrics) = get(&app, "/metrics").await;
    assert!(
        metrics.contains(
            "c1bot_feature_waiting_for_scope{feature=\"campaign_channels\",scope=\"channels:manage\"} 1"
        ),
        "{metrics}"
    );

    // Admins see it on App Home; others do not.
    assert!(home_text(&app, "frank").await.contains(WAITS_FOR_MANAGE));
    assert!(!home_text(&app, "alice")
        .await
        .contains("wait for a workspace admin"));
    app.stop().await;
}

#[tokio::test]
async fn without_usergroups_read_only_requests_with_group_approvers_are_refused() {
    let app = app_without(&["usergroups:read"]).await;
    // Admin on AWS production needs the secops group in its second step.
    let refused = request(
        &app,
        "alice",
        "AWS production",
        "Admin",
        "1 h",
        "db upgrade",
    )
    .await;
    let SubmitOutcome::Errors(errors) = refused else {
        panic!("the form shows why: {refused:?}");
    };
    assert!(
        errors
            .values()
            .any(|e| e.contains("approve c1bot's Slack scope `usergroups:read`")),
        "{errors:?}"
    );
    // Without groups, everything goes on.
    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "incident 4711",
    )
    .await;
    dm_containing(&app.sim.person("bob"), "incident 4711").await;
    app.stop().await;
}

#[tokio::test]
async fn a_scope_removed_after_start_up_switches_its_feature_off_when_slack_says_so() {
    let app = app_without(&[]).await;
    let bob = app.sim.person("bob");
    assert!(matches!(create(&bob, "Q4").await, SubmitOutcome::Closed));
    dm_containing(&bob, "Access review CMP-1").await;
    assert_eq!(get(&app, "/readyz").await, (200, "ready\n".to_owned()));

    app.sim.remove_scope("channels:manage");
    bob.click("Add channel").await.expect("bob clicks");
    bob.wait_for_modal(WAIT).await.expect("the form opens");
    bob.fill("Channel", "Create a new channel")
        .await
        .expect("kind");
    bob.fill("Channel name", "access-review-q4")
        .await
        .expect("name");
    let outcome = bob.submit().await.expect("submitted");
    let SubmitOutcome::Errors(errors) = outcome else {
        panic!("the form says why: {outcome:?}");
    };
    assert!(
        errors.values().any(|e| e.contains(WAITS_FOR_MANAGE)),
        "{errors:?}"
    );
    let (status, body) = get(&app, "/readyz").await;
    assert_eq!(status, 200);
    assert!(body.contains(WAITS_FOR_MANAGE), "{body}");
    app.stop().await;
}
