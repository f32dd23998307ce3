//! `/c1 request <resource> <entitlement> <duration> <reason…>` as people type it.

use std::time::Duration;

use crate::grants::told;
use crate::helpers::{eventually, spawn_app};
use crate::requests::{dm_containing, WAIT};

#[tokio::test]
async fn a_complete_line_submits_at_once() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    let outcome = alice
        .slash(
            "/c1",
            "request AWS-PROD readonly 2h incident 4711 <!channel>",
            "general",
        )
        .await;
    assert!(outcome.acked);
    let card = dm_containing(&app.sim.person("bob"), "incident 4711").await;
    let text = card.visible_text();
    // Slack markup typed in the line never reaches mrkdwn as markup: it pings nobody.
    assert!(
        text.contains("2 h") && !text.contains("<!channel>"),
        "{text}"
    );
    assert_eq!(card.buttons(), ["Approve", "Deny"]);
    told(&alice, "Submitted").await;
    assert!(alice.modal().is_none(), "no modal for a complete line");
    let submitted = crate::grants::audit_entries(&app)
        .await
        .into_iter()
        .find(|e| e["action"] == "request.submitted")
        .expect("audited");
    assert_eq!(submitted["detail"]["via"], "one_line");
    app.stop().await;
}

#[tokio::test]
async fn a_bad_duration_opens_the_modal_prefilled_with_the_problem_shown() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    alice
        .slash(
            "/c1",
            "request aws-prod readonly 12h incident 4711",
            "general",
        )
        .await;
    let modal = alice.wait_for_modal(WAIT).await.expect("the modal opens");
    let shown = modal.to_string();
    assert!(shown.contains("at most 8"), "the problem is shown: {shown}");
    let values = &modal["state"]["values"];
    assert_eq!(
        values["resource"]["resource_select"]["selected_option"]["value"],
        "aws-prod"
    );
    assert_eq!(
        values["entitlement"]["entitlement_select"]["selected_option"]["value"],
        "readonly"
    );
    assert_eq!(
        values["justification"]["justification_input"]["value"],
        "incident 4711"
    );
    alice
        .fill("Duration", "4 h")
        .await
        .expect("alice fixes the duration");
    alice.submit().await.expect("submitted");
    let card = dm_containing(&app.sim.person("bob"), "incident 4711").await;
    assert!(card.visible_text().contains("4 h"));
    app.stop().await;
}

#[tokio::test]
async fn a_line_policy_denies_is_answered_and_nothing_is_stored() {
    let app = spawn_app().await;
    // dave is a guest: the shipped policy denies guests everything.
    let dave = app.sim.person("dave");
    dave.slash("/c1", "request aws-prod readonly 1h need it", "general")
        .await;
    told(&dave, "Nothing was submitted").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        app.sim.person("bob").dms().is_empty(),
        "no approver was asked"
    );
    eventually(WAIT, "dave was told why", || async {
        dave.ephemerals()
            .iter()
            .any(|m| m.visible_text().contains("guest"))
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_resource_opens_the_modal_with_candidates_never_a_guess() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    alice
        .slash("/c1", "request aws-prd readonly 1h x", "general")
        .await;
    let modal = alice.wait_for_modal(WAIT).await.expect("the modal opens");
    let shown = modal.to_string();
    assert!(
        shown.contains("aws-prod"),
        "the closest resource is offered: {shown}"
    );
    assert!(
        modal["state"]["values"]["resource"].is_null(),
        "nothing was chosen for alice"
    );
    app.stop().await;
}
