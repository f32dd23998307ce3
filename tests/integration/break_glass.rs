//! Break-glass (emergency) access as people use it: the request modal's
//! *Emergency* choice and its confirm step, access granted without approvers,
//! everyone told, the post-incident review (*Looks right* / *Revoke now*) and its
//! reminders, escalating an open request, and refusals where policy does not allow
//! it. The example policy allows it for Admin on AWS production (capped at 1 h by
//! the catalog); bob and the secops group (bob, carol) review it, frank owns the
//! resource, carol provisions it.

use std::time::Duration;

use c1bot::simulator::{Person, SubmitOutcome};

use crate::grants::{advance, app_with, audit_entries_of};
use crate::helpers::{eventually, TestApp};
use crate::requests::{dm_containing, fill_request, WAIT};

const SECURITY: &str = "C0SECURITY";
const TICK: &str = "Break glass: grant it now without approval";

async fn app() -> TestApp {
    app_with(|c| c.break_glass.channel = Some(SECURITY.to_owned())).await
}

/// alice fills AWS production / Admin / 4 h and ticks *Emergency*.
async fn ask_in_an_emergency(alice: &Person) {
    fill_request(
        alice,
        "AWS production",
        "Admin",
        "4 h",
        "database down, incident 99",
    )
    .await;
    eventually(WAIT, "the Emergency choice appears", || async {
        alice
            .modal()
            .is_some_and(|m| m.to_string().contains("\"emergency\""))
    })
    .await;
    alice.fill("Emergency", TICK).await.expect("ticked");
}

/// Submits the confirm step and waits for alice to be told.
async fn grant_now(alice: &Person) {
    let outcome = alice.submit().await.expect("confirmed");
    assert!(matches!(outcome, SubmitOutcome::Closed), "{outcome:?}");
    dm_containing(alice, "Emergency access granted").await;
}

fn texts(person: &Person) -> Vec<String> {
    person.dms().iter().map(|m| m.visible_text()).collect()
}

#[tokio::test]
async fn an_emergency_is_confirmed_granted_at_once_told_to_everyone_and_revoked_by_its_review() {
    let app = app().await;
    let alice = app.sim.person("alice");
    ask_in_an_emergency(&alice).await;

    // The first submission only shows what will happen.
    let SubmitOutcome::Updated(confirm) = alice.submit().await.expect("answered") else {
        panic!("the confirm step replaces the form");
    };
    let shown = confirm.to_string();
    for expected in [
        "without approval",
        "1 h",
        "<@U0BOB00001>",
        "<@U0CAROL001>",
        "<@U0FRANK001>",
        "<#C0SECURITY>",
    ] {
        assert!(
            shown.contains(expected),
            "the confirmation says {expected:?}: {shown}"
        );
    }
    assert!(
        audit_entries_of(&app, "request.break_glass")
            .await
            .is_empty(),
        "nothing yet"
    );
    assert!(app.sim.person("bob").dms().is_empty());

    grant_now(&alice).await;
    let (bob, carol, frank) = (
        app.sim.person("bob"),
        app.sim.person("carol"),
        app.sim.person("frank"),
    );
    let task = dm_containing(&bob, "Emergency access to review").await;
    assert_eq!(task.buttons(), ["Looks right", "Revoke now"]);
    assert!(task.visible_text().contains("database down, incident 99"));
    dm_containing(&carol, "Emergency access to review").await;
    dm_containing(&frank, "Emergency access (break-glass)").await;
    eventually(WAIT, "the security channel is told", || async {
        app.sim
            .messages_in(SECURITY)
            .iter()
            .any(|m| m.visible_text().contains("Emergency access (break-glass)"))
    })
    .await;
    let taken = audit_entries_of(&app, "request.break_glass").await;
    assert_eq!(taken.len(), 1);
    assert_eq!(taken[0]["detail"]["break_glass"], true);
    assert_eq!(
        taken[0]["detail"]["duration"], "1 h",
        "capped by the catalog"
    );

    // Provisioning started at once: carol grants it.
    dm_containing(&carol, "Mark complete").await;
    carol.click("Mark complete").await.expect("carol grants");
    dm_containing(&alice, "Your access is active").await;

    // bob's review: Revoke now, with a reason.
    bob.click("Revoke now").await.expect("bob opens the reason");
    bob.wait_for_modal(WAIT).await.expect("the reason modal");
    bob.fill("Reason", "not an incident").await.expect("typed");
    assert!(matches!(
        bob.submit().await.expect("answered"),
        SubmitOutcome::Closed
    ));
    eventually(WAIT, "every reviewer's task closes", || async {
        [&bob, &carol].iter().all(|p| {
            p.dms()
                .iter()
                .any(|m| m.visible_text().contains("Reviewed: revoked it"))
                && !p
                    .dms()
                    .iter()
                    .any(|m| m.buttons().contains(&"Looks right".to_owned()))
        })
    })
    .await;
    let reviewed = audit_entries_of(&app, "break_glass.reviewed").await;
    assert_eq!(reviewed[0]["detail"]["verdict"], "revoke");
    assert_eq!(reviewed[0]["actor"], "U0BOB00001");
    // The access is removed: carol's deprovisioning task, then alice is told.
    eventually(WAIT, "carol gets the removal task", || async {
        carol
            .dms()
            .iter()
            .any(|m| m.buttons().contains(&"Mark complete".to_owned()))
    })
    .await;
    carol
        .click("Mark complete")
        .await
        .expect("carol removes it");
    dm_containing(&alice, "Access removed").await;
    app.stop().await;
}

#[tokio::test]
async fn the_review_is_answered_once_and_chased_until_then() {
    let app = app().await;
    let alice = app.sim.person("alice");
    ask_in_an_emergency(&alice).await;
    alice.submit().await.expect("confirm step");
    grant_now(&alice).await;
    let (bob, carol) = (app.sim.person("bob"), app.sim.person("carol"));
    let task = dm_containing(&bob, "Emergency access to review").await;

    assert_eq!(task.buttons(), ["Looks right", "Revoke now"]);

    // bob takes emergency access too (REQ-1002, reviewed by carol alone); his
    // *Looks right* on alice's task forged to name his own request is refused.
    ask_in_an_emergency(&bob).await;
    bob.submit().await.expect("confirm step");
    grant_now(&bob).await;
    bob.click_with_value("Looks right", "REQ-1002")
        .await
        .expect("the forged click is acked");
    crate::grants::told(&bob, "Only the reviewers of REQ-1002").await;
    assert!(audit_entries_of(&app, "break_glass.reviewed")
        .await
        .is_empty());

    advance(&app, Duration::from_secs(4 * 3600 + 1));
    dm_containing(&bob, "still waits for a review").await;
    dm_containing(&carol, "still waits for a review").await;

    bob.click("Looks right").await.expect("bob reviews");
    eventually(WAIT, "the tasks close", || async {
        carol
            .dms()
            .iter()
            .any(|m| m.visible_text().contains("Reviewed: found it right"))
    })
    .await;
    let reminders = |p: &Person| {
        texts(p)
            .iter()
            .filter(|t| t.contains("still waits"))
            .count()
    };
    let before = reminders(&carol);
    advance(&app, Duration::from_secs(4 * 3600 + 1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(reminders(&carol), before, "no reminder once answered");
    assert_eq!(
        audit_entries_of(&app, "break_glass.reviewed").await.len(),
        1
    );
    // The access stays.
    assert!(audit_entries_of(&app, "grant.revoke").await.is_empty());
    app.stop().await;
}

#[tokio::test]
async fn an_open_request_is_escalated_by_its_requester_and_nobody_else() {
    let app = app().await;
    let alice = app.sim.person("alice");
    fill_request(&alice, "AWS production", "Admin", "2 h", "rollout stuck").await;
    alice.submit().await.expect("submitted");
    let bob = app.sim.person("bob");
    dm_containing(&bob, "rollout stuck").await;

    // Someone else cannot escalate it.
    let dave = app.sim.person("dave");
    let refused = dave
        .slash("/c1", "break-glass REQ-1001 mine now", "general")
        .await;
    assert!(
        refused.response_text.contains("Only <@U0ALICE001>"),
        "{}",
        refused.response_text
    );

    alice
        .slash(
            "/c1",
            "break-glass REQ-1001 the rollout broke checkout",
            "general",
        )
        .await;
    let confirm = alice.wait_for_modal(WAIT).await.expect("the confirm step");
    assert!(confirm.to_string().contains("without approval"));
    grant_now(&alice).await;
    // The approvers' card no longer asks them to decide.
    eventually(WAIT, "bob's card closes", || async {
        bob.dms()
            .iter()
            .any(|m| m.visible_text().contains("Taken as emergency access"))
    })
    .await;
    dm_containing(&bob, "Emergency access to review").await;
    let taken = audit_entries_of(&app, "request.break_glass").await;
    assert_eq!(taken[0]["detail"]["escalated"], true);
    assert_eq!(taken[0]["detail"]["reason"], "the rollout broke checkout");
    // Taken once: escalating it again is answered at once.
    let again = alice
        .slash("/c1", "break-glass REQ-1001 again", "general")
        .await;
    assert!(
        again.response_text.contains("is approved already"),
        "{}",
        again.response_text
    );
    assert_eq!(audit_entries_of(&app, "request.break_glass").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn where_policy_does_not_allow_it_there_is_no_emergency_and_the_command_says_so() {
    let app = app().await;
    let alice = app.sim.person("alice");
    fill_request(&alice, "AWS production", "ReadOnly", "1 h", "curious").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !alice
            .modal()
            .is_some_and(|m| m.to_string().contains("\"emergency\"")),
        "no Emergency choice for ReadOnly"
    );
    alice.close_modal().await;

    alice
        .slash("/c1", "break-glass aws-prod readonly 1h curious", "general")
        .await;
    let modal = alice.wait_for_modal(WAIT).await.expect("the form opens");
    assert!(
        modal
            .to_string()
            .contains("Emergency access is not offered for this access"),
        "{modal}"
    );
    // Asked normally from there, it waits for approval like any request.
    assert!(matches!(
        alice.submit().await.expect("answered"),
        SubmitOutcome::Closed
    ));
    dm_containing(&app.sim.person("bob"), "curious").await;
    assert!(audit_entries_of(&app, "request.break_glass")
        .await
        .is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_one_line_command_opens_the_form_with_emergency_ticked() {
    let app = app().await;
    let alice = app.sim.person("alice");
    alice
        .slash(
            "/c1",
            "break-glass aws-prod admin 1h database down",
            "general",
        )
        .await;
    let modal = alice.wait_for_modal(WAIT).await.expect("the form opens");
    let emergency = modal["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["block_id"] == "emergency")
        .cloned()
        .unwrap_or_else(|| panic!("the Emergency choice is offered: {modal}"));
    assert_eq!(
        emergency["element"]["initial_options"][0]["text"]["text"],
        TICK
    );
    // Submitted as it is, it goes to the confirm step, not to the approvers.
    let outcome = alice.submit().await.expect("answered");
    let SubmitOutcome::Updated(confirm) = outcome else {
        panic!("the confirm step, not {outcome:?}");
    };
    assert!(confirm.to_string().contains("without approval"));
    assert!(audit_entries_of(&app, "request.break_glass")
        .await
        .is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_confirmation_is_used_once() {
    let app = app().await;
    let alice = app.sim.person("alice");
    ask_in_an_emergency(&alice).await;
    let SubmitOutcome::Updated(confirm) = alice.submit().await.expect("answered") else {
        panic!("the confirm step");
    };
    grant_now(&alice).await;
    // The same confirmation submitted again (a replayed payload) takes nothing more.
    let replayed = alice
        .submit_forged(confirm, &[("Emergency reason", "again")])
        .await
        .expect("answered")
        .unwrap_or_default();
    assert!(
        replayed["errors"]["reason"]
            .as_str()
            .is_some_and(|e| e.contains("no longer valid")),
        "{replayed}"
    );
    assert_eq!(audit_entries_of(&app, "request.break_glass").await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn an_emergency_cannot_be_scheduled_for_later() {
    let app = app().await;
    let alice = app.sim.person("alice");
    ask_in_an_emergency(&alice).await;
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    alice
        .fill("Starts", &tomorrow.timestamp().to_string())
        .await
        .expect("picked");
    let SubmitOutcome::Errors(errors) = alice.submit().await.expect("answered") else {
        panic!("refused in the form");
    };
    assert!(
        errors
            .get("starts_at")
            .is_some_and(|e| e.contains("Emergency access starts now")),
        "{errors:?}"
    );
    assert!(audit_entries_of(&app, "request.break_glass")
        .await
        .is_empty());
    app.stop().await;
}
