//! A request's life beyond the first decision: cancel, reminders, expiry, policy
//! failures, a large catalog, and the audit trail.

use std::time::Duration;

use c1bot::catalog::Catalog;
use c1bot::simulator::SubmitOutcome;

use crate::helpers::{eventually, fast_sim_options, spawn_stopped, start, TestApp};
use crate::requests::{dm_containing, fill_request, request, WAIT};

async fn app_with(tune: impl FnOnce(&mut c1bot::config::Config)) -> TestApp {
    let mut app = spawn_stopped(fast_sim_options()).await;
    tune(&mut app.config);
    start(app).await
}

#[tokio::test]
async fn the_requester_can_cancel_a_pending_request_and_the_approver_card_says_so() {
    let app = app_with(|_| {}).await;
    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "changed my mind",
    )
    .await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, "changed my mind").await;
    let alice = app.sim.person("alice");
    dm_containing(&alice, "REQ-1001").await;

    alice.click("Cancel request").await.expect("alice cancels");

    eventually(
        WAIT,
        "bob's card shows the cancellation without buttons",
        || async {
            bob.dms()
                .iter()
                .any(|m| m.visible_text().contains("Cancelled") && m.buttons().is_empty())
        },
    )
    .await;
    assert!(
        bob.click("Approve").await.is_err(),
        "no live Approve button remains"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_pending_request_expires_without_a_decision_and_the_requester_is_told() {
    let app = app_with(|c| c.requests.decide_within = Duration::from_secs(1)).await;
    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "nobody answers",
    )
    .await;

    dm_containing(&app.sim.person("alice"), "Expired").await;
    let bob = app.sim.person("bob");
    eventually(WAIT, "bob's card loses its buttons", || async {
        bob.dms().iter().all(|m| m.buttons().is_empty()) && !bob.dms().is_empty()
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn approvers_who_have_not_acted_are_reminded() {
    let app = app_with(|c| c.requests.remind_every = Duration::from_secs(1)).await;
    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "please look",
    )
    .await;

    let reminder = dm_containing(&app.sim.person("bob"), "Reminder: REQ-1001").await;
    assert!(reminder.visible_text().contains("ReadOnly"));
    app.stop().await;
}

#[tokio::test]
async fn a_policy_that_fails_to_evaluate_denies_with_a_clear_message() {
    let policies = tempfile::tempdir().expect("temp dir");
    std::fs::copy("policies/access.rego", policies.path().join("access.rego")).expect("copy");
    std::fs::write(
        policies.path().join("broken.rego"),
        "package c1.broken\n\ndeny contains msg if {\n\tinput.action == \"approve\"\n\tmsg := sprintf(\"%v\", [to_number(\"not a number\")])\n}\n",
    )
    .expect("write");
    let dir = policies.path().to_path_buf();
    let app = app_with(move |c| c.policies_dir = dir).await;
    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "policy bug",
    )
    .await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, "policy bug").await;

    bob.click("Approve").await.expect("clicked");

    eventually(WAIT, "bob is told the policy failed", || async {
        bob.ephemerals()
            .iter()
            .any(|m| m.visible_text().contains("broken.rego"))
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app
        .sim
        .person("alice")
        .dms()
        .iter()
        .all(|m| !m.visible_text().contains("*Approved*")));
    app.stop().await;
}

#[tokio::test]
async fn a_catalog_of_500_entitlements_is_searchable_in_the_modal() {
    let app = app_with(|c| c.catalog = Catalog::synthetic(500)).await;
    let alice = app.sim.person("alice");
    fill_request(
        &alice,
        "Payments API 007",
        "ReadOnly",
        "1 h",
        "large catalog",
    )
    .await;
    assert!(matches!(
        alice.submit().await.expect("submitted"),
        SubmitOutcome::Closed
    ));
    dm_containing(&app.sim.person("bob"), "Payments API 007").await;
    app.stop().await;
}

#[tokio::test]
async fn every_submission_and_decision_is_in_the_verified_audit_log() {
    let mut app = app_with(|_| {}).await;
    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "audit me",
    )
    .await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, "audit me").await;
    bob.click("Approve").await.expect("approved");
    dm_containing(&app.sim.person("alice"), "Approved").await;

    let bot = app.bot.take().expect("running");
    bot.stop().await.expect("stops");
    let store = loop {
        match c1bot::store::Store::open(&app.config.data_dir) {
            Ok(store) => break store,
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let verification = store.verify_audit().await.expect("readable");
    assert!(verification.is_ok(), "{verification:?}");
    let mut lines = Vec::new();
    store.export_audit(&mut lines).await.expect("export");
    let log = String::from_utf8(lines).expect("utf-8");
    for action in ["request.submitted", "request.approve", "notification.sent"] {
        assert!(
            log.contains(action),
            "{action} missing from the audit log:\n{log}"
        );
    }
    assert!(log.contains("\"policy\""), "the policy verdict is recorded");
    drop(store);
    app.stop().await;
}

#[tokio::test]
async fn an_undecided_step_escalates_to_the_next_tier() {
    let catalog = r#"
[[spaces]]
id = "root"
name = "Root"

[[resources]]
id = "billing"
name = "Billing console"
space = "root"
owners = ["U0FRANK001"]

[[resources.entitlements]]
id = "viewer"
name = "Viewer"
default_duration = "1h"
max_duration = "4h"

[[resources.entitlements.steps]]
name = "Team lead"
approvers = { users = ["U0BOB00001"] }
require = "any"
escalate_after = "1s"
escalate_to = { users = ["U0FRANK001"] }

[resources.entitlements.provisioner]
kind = "manual"
assignees = { users = ["U0CAROL001"] }
"#;
    let catalog = Catalog::from_toml(c1bot::catalog::Source {
        name: "escalation.toml",
        text: catalog,
    })
    .expect("valid catalog");
    let app = app_with(move |c| c.catalog = catalog).await;
    request(
        &app,
        "alice",
        "Billing console",
        "Viewer",
        "1 h",
        "bob is on holiday",
    )
    .await;
    dm_containing(&app.sim.person("bob"), "bob is on holiday").await;

    let frank = app.sim.person("frank");
    let card = dm_containing(&frank, "bob is on holiday").await;
    assert_eq!(card.buttons(), ["Approve", "Deny"]);
    frank
        .click("Approve")
        .await
        .expect("the next tier approves");

    dm_containing(&app.sim.person("alice"), "Approved").await;
    app.stop().await;
}
