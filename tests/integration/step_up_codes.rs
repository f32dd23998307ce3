//! Step-up codes as an enrolled approver types them: wrong, replayed, too many, and
//! submissions that were never the approver's modal. Helpers in `super::step_up`.

use std::time::Duration;

use c1bot::simulator::SubmitOutcome;
use serde_json::Value;

use crate::grants::{advance, audit_entries_of, told};
use crate::helpers::eventually;
use crate::requests::{dm_containing, WAIT};
use crate::step_up::{
    alice_requests, approved, code, enrol_bob, field_error, spawn_step_up_app, type_code, BOB,
};

#[tokio::test]
async fn a_wrong_code_is_refused_and_audited_and_changes_nothing() {
    let app = spawn_step_up_app().await;
    let bob = alice_requests(&app, "needs step-up 4").await;
    let secret = enrol_bob(&app, &bob).await;
    advance(&app, Duration::from_secs(30));
    let right = code(&app, &secret, 0);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };

    let outcome = type_code(&bob, wrong).await;

    assert!(field_error(&outcome).contains("not right"), "{outcome:?}");
    assert!(!approved(&app).await);
    let failures = audit_entries_of(&app, "step-up.verify").await;
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["detail"]["result"], "wrong");
    assert_eq!(failures[0]["actor"], BOB);
    // The modal stays open: the right code still approves.
    let outcome = type_code(&bob, &right).await;
    assert!(matches!(outcome, SubmitOutcome::Closed), "{outcome:?}");
    dm_containing(&app.sim.person("alice"), "Approved").await;
    app.stop().await;
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let app = spawn_step_up_app().await;
    let bob = alice_requests(&app, "needs step-up 5").await;
    let secret = enrol_bob(&app, &bob).await;

    // The code that confirmed the enrolment is used up.
    let enrolment_code = code(&app, &secret, 0);
    let outcome = type_code(&bob, &enrolment_code).await;
    assert!(
        field_error(&outcome).contains("used already"),
        "{outcome:?}"
    );
    assert!(!approved(&app).await);

    advance(&app, Duration::from_secs(30));
    let fresh = code(&app, &secret, 0);
    assert!(matches!(
        type_code(&bob, &fresh).await,
        SubmitOutcome::Closed
    ));
    dm_containing(&app.sim.person("alice"), "Approved").await;

    // The code that approved one request does not approve another.
    let _ = alice_requests(&app, "needs step-up 6").await;
    bob.click("Approve").await.expect("clicked");
    eventually(WAIT, "the verification opens", || async {
        bob.modal()
            .is_some_and(|m| m["title"]["text"] == "Verify to approve")
    })
    .await;
    let outcome = type_code(&bob, &fresh).await;
    assert!(
        field_error(&outcome).contains("used already"),
        "{outcome:?}"
    );
    let results: Vec<Value> = audit_entries_of(&app, "step-up.verify")
        .await
        .into_iter()
        .map(|e| e["detail"]["result"].clone())
        .collect();
    assert_eq!(results, ["replayed", "ok", "replayed"]);
    let approvals = audit_entries_of(&app, "request.approve").await;
    assert_eq!(
        approvals.len(),
        1,
        "only REQ-1001 was approved: {approvals:?}"
    );
    assert_eq!(approvals[0]["subject"], "REQ-1001");
    let alice = app.sim.person("alice");
    assert!(
        alice
            .dms()
            .iter()
            .all(|m| !(m.visible_text().contains("REQ-1002")
                && m.visible_text().contains("Approved")))
    );
    app.stop().await;
}

#[tokio::test]
async fn too_many_wrong_codes_lock_the_approver_out() {
    let app = spawn_step_up_app().await;
    let bob = alice_requests(&app, "needs step-up 7").await;
    let secret = enrol_bob(&app, &bob).await;
    advance(&app, Duration::from_secs(30));
    let right = code(&app, &secret, 0);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };

    for attempt in 1..=4 {
        let error = field_error(&type_code(&bob, wrong).await);
        assert!(error.contains("not right"), "attempt {attempt}: {error}");
    }
    let fifth = field_error(&type_code(&bob, wrong).await);
    assert!(fifth.contains("locked"), "{fifth}");

    // Even the right code is refused now, and Approve opens nothing.
    let error = field_error(&type_code(&bob, &right).await);
    assert!(error.contains("locked"), "{error}");
    assert!(!approved(&app).await);
    bob.close_modal().await;
    bob.click("Approve").await.expect("clicked");
    told(&bob, "locked").await;
    assert!(bob.modal().is_none());
    assert_eq!(audit_entries_of(&app, "step-up.verify").await.len(), 5);
    assert_eq!(
        audit_entries_of(&app, "step-up.verify.refused").await.len(),
        2
    );

    // Fifteen minutes after the first failure, codes count again.
    advance(&app, Duration::from_secs(15 * 60));
    bob.click("Approve").await.expect("clicked");
    bob.wait_for_modal(WAIT)
        .await
        .expect("the verification opens again");
    assert!(matches!(
        type_code(&bob, &code(&app, &secret, 0)).await,
        SubmitOutcome::Closed
    ));
    dm_containing(&app.sim.person("alice"), "Approved").await;
    app.stop().await;
}

#[tokio::test]
async fn a_forged_view_submission_without_the_modals_state_is_refused() {
    let app = spawn_step_up_app().await;
    let bob = alice_requests(&app, "needs step-up 8").await;
    let secret = enrol_bob(&app, &bob).await;
    advance(&app, Duration::from_secs(30));
    let bobs_modal = bob.modal().expect("bob's verification is open");

    // Mallory copies bob's modal, challenge and all, with a code that is right for bob.
    let mallory = app.sim.person("mallory");
    let forged = mallory
        .submit_forged(bobs_modal.clone(), &[("Code", &code(&app, &secret, 0))])
        .await
        .expect("acked");
    let error = code_error(&forged);
    assert!(error.contains("not open"), "{forged:?}");

    // Bob's own client, with a made-up challenge in place of the modal's.
    let mut made_up = bobs_modal.clone();
    made_up["private_metadata"] = Value::from("00000000000000000000000000000000");
    let forged = bob
        .submit_forged(made_up, &[("Code", &code(&app, &secret, 0))])
        .await
        .expect("acked");
    let error = code_error(&forged);
    assert!(error.contains("not open"), "{forged:?}");

    // The modal's challenge, submitted from another view than the one it opened in.
    let mut elsewhere = bobs_modal.clone();
    elsewhere["id"] = Value::from("V0ELSEWHERE");
    let forged = bob
        .submit_forged(elsewhere, &[("Code", &code(&app, &secret, 0))])
        .await
        .expect("acked");
    let error = code_error(&forged);
    assert!(error.contains("not open"), "{forged:?}");

    assert!(
        !approved(&app).await,
        "a forged submission approved the request"
    );
    let refused = audit_entries_of(&app, "step-up.verify.refused").await;
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert_eq!(refused[0]["actor"], "U0MALLORY1");
    assert!(
        audit_entries_of(&app, "step-up.verify").await.is_empty(),
        "no attempt counted"
    );
    // Bob's real modal still works.
    assert!(matches!(
        type_code(&bob, &code(&app, &secret, 0)).await,
        SubmitOutcome::Closed
    ));
    dm_containing(&app.sim.person("alice"), "Approved").await;
    app.stop().await;
}

/// The error a step-up modal's ack shows under its code, or "" when none.
fn code_error(ack: &Option<Value>) -> &str {
    ack.as_ref()
        .and_then(|p| p["errors"]["code"].as_str())
        .unwrap_or_default()
}
