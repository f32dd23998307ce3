//! Slack fails for a while (HTTP 503, then 429) at the worst moments: an expiry whose
//! revoke task goes to a user group, an approval, a submission. Access is still
//! revoked once Slack is back, and nothing is lost or done twice.

use std::time::Duration;

use c1bot::simulator::faults::FailureKind;
use c1bot::simulator::SubmitOutcome;

use crate::crash::count;
use crate::grants::{advance, app_with, approved_request, audit_actions, catalog_edited};
use crate::helpers::eventually;
use crate::requests::{dm_containing, fill_request, WAIT};

/// Long enough for the outbox's and the journal's backoff after an outage.
const AFTER_OUTAGE: Duration = Duration::from_secs(40);

const REVOKE_TASK: &str = "Revoke *ReadOnly* on *AWS production* from <@U0ALICE001>: expired";

fn slack_down(app: &crate::helpers::TestApp, lasting: Duration) {
    let faults = app.sim.faults();
    faults.outage(None, FailureKind::Http { status: 503 }, lasting / 2);
    faults.outage(
        None,
        FailureKind::RateLimit {
            retry_after_secs: 1,
        },
        lasting,
    );
}

#[tokio::test]
async fn an_expiry_with_group_assignees_during_an_outage_is_revoked_once_slack_is_back() {
    let app = app_with(|c| {
        c.catalog = catalog_edited(
            "assignees = { users = [\"U0CAROL001\"] }   # carol",
            "assignees = { groups = [\"S0SECOPS01\"] }   # secops: bob and carol",
        );
    })
    .await;
    approved_request(&app).await;
    let (alice, bob, carol) = (
        app.sim.person("alice"),
        app.sim.person("bob"),
        app.sim.person("carol"),
    );
    dm_containing(&carol, "Grant *ReadOnly* on *AWS production*").await;
    carol.click("Mark complete").await.expect("carol completes");
    dm_containing(&alice, "Your access is active").await;

    slack_down(&app, Duration::from_secs(6));
    advance(&app, Duration::from_secs(4 * 3600 + 1));
    // The expiry needs no Slack call: it is recorded during the outage.
    eventually(
        WAIT,
        "the expiry is recorded while Slack is down",
        || async {
            audit_actions(&app)
                .await
                .iter()
                .any(|a| a == "grant.expired")
        },
    )
    .await;
    for person in [&bob, &carol] {
        eventually(
            AFTER_OUTAGE,
            "each group member gets the revoke task",
            || async { count(person, REVOKE_TASK) >= 1 },
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&bob, REVOKE_TASK), 1, "one task for bob");
    assert_eq!(count(&carol, REVOKE_TASK), 1, "one task for carol");
    carol.click("Mark complete").await.expect("carol revokes");
    dm_containing(&alice, "Access removed").await;
    let expired = audit_actions(&app)
        .await
        .iter()
        .filter(|a| *a == "grant.expired")
        .count();
    assert_eq!(expired, 1);
    app.stop().await;
}

#[tokio::test]
async fn an_approval_during_an_outage_is_decided_once_slack_is_back() {
    let app = app_with(|_| {}).await;
    fill_request(
        &app.sim.person("alice"),
        "AWS production",
        "ReadOnly",
        "4 h",
        "incident 4711",
    )
    .await;
    app.sim.person("alice").submit().await.expect("submitted");
    let bob = app.sim.person("bob");
    dm_containing(&bob, "incident 4711").await;
    // bob's profile is not cached yet: deciding needs users.info, which fails.
    slack_down(&app, Duration::from_secs(6));
    bob.click("Approve").await.expect("acked at once");
    let carol = app.sim.person("carol");
    eventually(
        AFTER_OUTAGE,
        "the approval goes through after the outage",
        || async { count(&carol, "Grant *ReadOnly* on *AWS production*") == 1 },
    )
    .await;
    dm_containing(&app.sim.person("alice"), "Approved").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&carol, "Grant *ReadOnly* on *AWS production*"), 1);
    let approvals = audit_actions(&app)
        .await
        .iter()
        .filter(|a| *a == "request.approve")
        .count();
    assert_eq!(approvals, 1, "decided once");
    app.stop().await;
}

#[tokio::test]
async fn a_submission_during_an_outage_is_stored_once_and_its_card_sent_after() {
    let app = app_with(|_| {}).await;
    let alice = app.sim.person("alice");
    fill_request(
        &alice,
        "AWS production",
        "ReadOnly",
        "1 h",
        "during the outage",
    )
    .await;
    slack_down(&app, Duration::from_secs(6));
    // Everything the submission needs is at hand (alice's profile from typing in
    // the form): it is stored at once, and its card waits in the outbox.
    assert!(matches!(alice.submit().await, Ok(SubmitOutcome::Closed)));
    let bob = app.sim.person("bob");
    eventually(
        AFTER_OUTAGE,
        "bob's card arrives after the outage",
        || async { count(&bob, "during the outage") == 1 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&bob, "during the outage"), 1, "one card");
    app.stop().await;
}

#[tokio::test]
async fn a_submission_that_would_wait_on_a_slow_slack_is_answered_in_time_and_stores_nothing() {
    let app = app_with(|_| {}).await;
    let frank = app.sim.person("frank");
    fill_request(&frank, "AWS production", "ReadOnly", "1 h", "for alice").await;
    frank
        .fill("For someone else", "alice")
        .await
        .expect("alice");
    // alice's profile is not cached, and Slack takes 5 s to give it.
    app.sim
        .faults()
        .latency(Some("users.info"), Duration::from_secs(5));
    // The simulator holds c1bot to Slack's 3 s: a later ack fails here.
    let outcome = frank.submit().await.expect("answered in time");
    let SubmitOutcome::Errors(errors) = outcome else {
        panic!("the modal stays open with a sentence: {outcome:?}");
    };
    let said: String = errors.values().cloned().collect();
    assert!(said.contains("nothing was submitted"), "{said}");
    assert!(audit_actions(&app)
        .await
        .iter()
        .all(|a| a != "request.submitted"));
    app.sim.faults().clear();
    assert!(matches!(frank.submit().await, Ok(SubmitOutcome::Closed)));
    let bob = app.sim.person("bob");
    dm_containing(&bob, "for alice").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&bob, "for alice"), 1, "one request");
    app.stop().await;
}
