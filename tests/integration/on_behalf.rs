//! Requests for someone else: the modal's "For someone else" picker and a one-line
//! `for @user`, allowed by policy's `request_on_behalf` (the shipped policy: write
//! access to the resource's space, which admins and the resource's owners have).

use std::time::Duration;

use c1bot::simulator::SubmitOutcome;

use crate::grants::{audit_entries, told};
use crate::helpers::{eventually, spawn_app};
use crate::requests::{dm_containing, fill_request, WAIT};

#[tokio::test]
async fn an_admin_asks_for_a_colleague_who_is_told_and_can_cancel() {
    let app = spawn_app().await;
    let (bob, alice, frank) = (
        app.sim.person("bob"),
        app.sim.person("alice"),
        app.sim.person("frank"),
    );
    fill_request(
        &bob,
        "AWS production",
        "ReadOnly",
        "1 h",
        "alice joins on-call",
    )
    .await;
    bob.fill("For someone else", "alice")
        .await
        .expect("bob picks alice");
    assert!(matches!(
        bob.submit().await.expect("submitted"),
        SubmitOutcome::Closed
    ));

    // bob asked, so only frank of the step's approvers (bob, frank) is asked.
    let card = dm_containing(&frank, "alice joins on-call").await;
    let text = card.visible_text();
    assert!(
        text.contains("<@U0ALICE001> (asked by <@U0BOB00001>)"),
        "the approver sees who it is for and who asked: {text}"
    );
    assert!(
        bob.dms().iter().all(|m| m.buttons() != ["Approve", "Deny"]),
        "the requester is never asked to approve"
    );
    let own = dm_containing(&bob, "REQ-1001 submitted").await;
    assert!(own.visible_text().contains("*For*\n<@U0ALICE001>"));

    let yours = dm_containing(&alice, "Access requested for you").await;
    assert!(
        yours.visible_text().contains("<@U0BOB00001> asked for"),
        "{}",
        yours.visible_text()
    );
    let submitted = audit_entries(&app)
        .await
        .into_iter()
        .find(|e| e["action"] == "request.submitted")
        .expect("audited");
    assert_eq!(submitted["actor"], "U0BOB00001");
    assert_eq!(submitted["detail"]["beneficiary"], "U0ALICE001");
    assert_eq!(submitted["detail"]["on_behalf"], true);
    assert_eq!(submitted["detail"]["via"], "modal");

    // alice did not expect it: she cancels from her own copy.
    alice
        .click_in(&yours.channel, &yours.ts, "Cancel request")
        .await
        .expect("alice cancels");
    eventually(WAIT, "frank's card says cancelled", || async {
        frank.dms().iter().any(|m| {
            let text = m.visible_text();
            text.contains("Cancelled") && m.buttons().is_empty()
        })
    })
    .await;
    dm_containing(&bob, "Cancelled").await;
    let cancelled = audit_entries(&app)
        .await
        .into_iter()
        .find(|e| e["action"] == "request.cancel")
        .expect("the cancellation is audited");
    assert_eq!(cancelled["actor"], "U0ALICE001");
    app.stop().await;
}

#[tokio::test]
async fn approved_access_for_someone_else_is_granted_to_them() {
    let app = spawn_app().await;
    let (bob, frank, carol) = (
        app.sim.person("bob"),
        app.sim.person("frank"),
        app.sim.person("carol"),
    );
    fill_request(&bob, "AWS production", "ReadOnly", "1 h", "pairing").await;
    bob.fill("For someone else", "alice").await.expect("picked");
    bob.submit().await.expect("submitted");
    dm_containing(&frank, "pairing").await;
    frank.click("Approve").await.expect("frank approves");
    let task = dm_containing(&carol, "Grant").await;
    assert!(
        task.visible_text().contains("to <@U0ALICE001>"),
        "access goes to alice, not to bob: {}",
        task.visible_text()
    );
    app.stop().await;
}

#[tokio::test]
async fn self_approval_rules_apply_to_both_people() {
    let app = spawn_app().await;
    // bob asks for frank; the step's approvers are exactly bob and frank.
    let bob = app.sim.person("bob");
    fill_request(&bob, "AWS production", "ReadOnly", "1 h", "for frank").await;
    bob.fill("For someone else", "frank").await.expect("picked");
    let SubmitOutcome::Errors(errors) = bob.submit().await.expect("answered") else {
        panic!("neither the requester nor the beneficiary may approve");
    };
    assert!(
        errors["entitlement"].contains("Nobody else can approve"),
        "{errors:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.sim.calls_to("chat.postMessage").is_empty());
    app.stop().await;
}

#[tokio::test]
async fn someone_policy_does_not_allow_is_answered_on_the_picker() {
    let app = spawn_app().await;
    // alice is neither an admin nor an owner of AWS production.
    let alice = app.sim.person("alice");
    fill_request(&alice, "AWS production", "ReadOnly", "1 h", "for carol").await;
    alice
        .fill("For someone else", "carol")
        .await
        .expect("picked");
    let SubmitOutcome::Errors(errors) = alice.submit().await.expect("answered") else {
        panic!("expected the picker to be refused");
    };
    assert_eq!(
        errors["on_behalf"],
        "You cannot request access to AWS production for someone else: no policy allows this."
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.sim.calls_to("chat.postMessage").is_empty());
    assert!(audit_entries(&app)
        .await
        .iter()
        .all(|e| e["action"] != "request.submitted"));
    app.stop().await;
}

#[tokio::test]
async fn a_deactivated_account_or_a_guest_cannot_be_given_access() {
    let app = spawn_app().await;
    let bob = app.sim.person("bob");
    fill_request(&bob, "AWS production", "ReadOnly", "1 h", "for erin").await;
    bob.fill("For someone else", "erin").await.expect("picked");
    let SubmitOutcome::Errors(errors) = bob.submit().await.expect("answered") else {
        panic!("erin is deactivated");
    };
    assert!(errors["on_behalf"].contains("active account"), "{errors:?}");
    // Policy decides the access itself for the beneficiary: dave is a guest.
    bob.fill("For someone else", "dave").await.expect("picked");
    let SubmitOutcome::Errors(errors) = bob.submit().await.expect("answered") else {
        panic!("dave is a guest");
    };
    assert!(
        errors["entitlement"].contains("cannot be requested for that person: guest"),
        "{errors:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_one_line_request_for_a_mentioned_person() {
    let app = spawn_app().await;
    let (bob, alice) = (app.sim.person("bob"), app.sim.person("alice"));
    bob.slash(
        "/c1",
        "request aws-prod readonly 1h for @alice incident 4711",
        "general",
    )
    .await;
    told(&bob, "Submitted").await;
    dm_containing(&alice, "Access requested for you").await;
    let submitted = audit_entries(&app)
        .await
        .into_iter()
        .find(|e| e["action"] == "request.submitted")
        .expect("audited");
    assert_eq!(submitted["detail"]["beneficiary"], "U0ALICE001");
    assert_eq!(submitted["detail"]["via"], "one_line");
    assert_eq!(submitted["detail"]["justification"], "incident 4711");

    // Typed as plain text (not picked from Slack's list), the name is nobody: the
    // form opens rather than asking for the sender instead.
    let mut options = crate::helpers::fast_sim_options();
    options.escape_slash_text = false;
    let unescaped = crate::helpers::spawn_app_with(options).await;
    let bob = unescaped.sim.person("bob");
    bob.slash(
        "/c1",
        "request aws-prod readonly 1h for @alice incident",
        "general",
    )
    .await;
    let modal = bob.wait_for_modal(WAIT).await.expect("the form opens");
    assert!(modal.to_string().contains("I can't tell who"), "{modal}");
    unescaped.stop().await;
    app.stop().await;
}
