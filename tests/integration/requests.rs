//! Access requests end to end, as people do them: `/c1 request`, the modal, the
//! approvers' DMs and buttons, and what everyone sees afterwards.

use std::time::Duration;

use c1bot::simulator::{Person, SubmitOutcome};

use crate::helpers::{eventually, spawn_app, TestApp};

pub const WAIT: Duration = Duration::from_secs(10);

/// Opens the request modal and fills it like a person: pick the resource, wait for
/// its entitlements to appear, choose, type the reason.
pub async fn fill_request(
    person: &Person,
    resource: &str,
    entitlement: &str,
    duration: &str,
    why: &str,
) {
    let outcome = person.slash("/c1", "request", "general").await;
    assert!(outcome.acked, "the slash command failed");
    person
        .wait_for_modal(WAIT)
        .await
        .expect("the request modal opens");
    person
        .fill("Resource", resource)
        .await
        .expect("resource offered");
    eventually(
        WAIT,
        "the entitlements of the chosen resource appear",
        || async {
            person
                .modal()
                .is_some_and(|m| m.to_string().contains(&format!("\"{entitlement}\"")))
        },
    )
    .await;
    person
        .fill("Entitlement", entitlement)
        .await
        .expect("entitlement offered");
    eventually(
        WAIT,
        "the durations follow the chosen entitlement",
        || async { preselected(person, "duration").is_some() },
    )
    .await;
    person
        .fill("Duration", duration)
        .await
        .expect("duration offered");
    person
        .fill("Justification", why)
        .await
        .expect("justification typed");
}

/// The text of the option preselected in the open modal's input `block_id`.
pub fn preselected(person: &Person, block_id: &str) -> Option<String> {
    let modal = person.modal()?;
    let block = modal["blocks"]
        .as_array()?
        .iter()
        .find(|b| b["block_id"] == block_id)?;
    block["element"]["initial_option"]["text"]["text"]
        .as_str()
        .map(str::to_owned)
}

/// The texts of the options offered in the open modal's input `block_id`.
pub fn offered(person: &Person, block_id: &str) -> Vec<String> {
    let Some(modal) = person.modal() else {
        return Vec::new();
    };
    modal["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["block_id"] == block_id)
        .flat_map(|b| {
            b["element"]["options"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|o| o["text"]["text"].as_str().map(str::to_owned))
        .collect()
}

pub async fn request(
    app: &TestApp,
    who: &str,
    resource: &str,
    entitlement: &str,
    duration: &str,
    why: &str,
) -> SubmitOutcome {
    let person = app.sim.person(who);
    fill_request(&person, resource, entitlement, duration, why).await;
    person.submit().await.expect("submitted")
}

pub async fn dm_containing(person: &Person, text: &str) -> c1bot::simulator::Message {
    let wanted = text.to_owned();
    person
        .wait_for_message(WAIT, move |m| m.visible_text().contains(&wanted))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{} never saw {text:?}; DMs: {:#?}",
                person.id(),
                person
                    .dms()
                    .iter()
                    .map(|m| m.visible_text())
                    .collect::<Vec<_>>()
            )
        })
}

#[tokio::test]
async fn a_request_approved_by_the_approver_tells_the_requester_and_starts_provisioning() {
    let app = spawn_app().await;

    let outcome = request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "4 h",
        "incident 4711",
    )
    .await;
    assert!(matches!(outcome, SubmitOutcome::Closed), "{outcome:?}");

    let alice = app.sim.person("alice");
    let submitted = dm_containing(&alice, "REQ-1001").await;
    assert!(
        submitted.buttons().iter().all(|b| b != "Approve"),
        "the requester must see no Approve button"
    );
    let bob = app.sim.person("bob");
    let card = dm_containing(&bob, "incident 4711").await;
    assert_eq!(card.buttons(), ["Approve", "Deny"]);
    assert!(card.visible_text().contains("AWS production") && card.visible_text().contains("4 h"));

    bob.click("Approve").await.expect("bob approves");

    dm_containing(&alice, "Approved").await;
    eventually(
        WAIT,
        "bob's card shows the decision without buttons",
        || async {
            bob.dms()
                .iter()
                .any(|m| m.visible_text().contains("Approved") && m.buttons().is_empty())
        },
    )
    .await;
    let task = dm_containing(&app.sim.person("carol"), "REQ-1001").await;
    assert!(
        task.visible_text().contains("ReadOnly"),
        "{}",
        task.visible_text()
    );
    assert!(
        app.sim.person_errors().is_empty(),
        "{:?}",
        app.sim.person_errors()
    );
    app.stop().await;
}

#[tokio::test]
async fn a_denial_with_a_reason_reaches_the_requester() {
    let app = spawn_app().await;
    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "need logs",
    )
    .await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, "need logs").await;

    bob.click("Deny")
        .await
        .expect("deny opens the reason modal");
    bob.wait_for_modal(WAIT).await.expect("reason modal");
    bob.fill("Reason", "use the read replica instead")
        .await
        .expect("reason typed");
    assert!(matches!(
        bob.submit().await.expect("submitted"),
        SubmitOutcome::Closed
    ));

    let told = dm_containing(&app.sim.person("alice"), "Denied").await;
    assert!(
        told.visible_text().contains("use the read replica instead"),
        "{}",
        told.visible_text()
    );
    app.stop().await;
}

#[tokio::test]
async fn invalid_submissions_are_answered_in_the_modal_and_store_nothing() {
    let app = spawn_app().await;
    let alice = app.sim.person("alice");
    // 8 h is offered for ReadOnly; the person then switches to Admin (at most 4 h),
    // and what they chose stays in the form, as in Slack.
    fill_request(&alice, "AWS production", "ReadOnly", "8 h", "   ").await;
    alice
        .fill("Entitlement", "Admin")
        .await
        .expect("Admin offered");
    eventually(WAIT, "the durations follow Admin", || async {
        !offered(&alice, "duration").contains(&"8 h".to_owned())
    })
    .await;

    let SubmitOutcome::Errors(errors) = alice.submit().await.expect("answered") else {
        panic!("expected errors in the modal");
    };

    assert_eq!(errors["duration"], "The longest you can have Admin is 4 h.");
    assert!(errors["justification"].contains("why"), "{errors:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        app.sim.person("bob").dms().is_empty(),
        "nothing may be sent for an invalid request"
    );
    assert!(app.sim.calls_to("chat.postMessage").is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_requester_cannot_approve_and_a_stranger_cannot_either() {
    let app = spawn_app().await;
    request(&app, "alice", "AWS production", "ReadOnly", "1 h", "audit").await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, "audit").await;
    let alice = app.sim.person("alice");
    dm_containing(&alice, "REQ-1001").await;
    assert!(
        alice.click("Approve").await.is_err(),
        "the requester has no Approve button to click"
    );

    // Mallory forges a click on bob's card with her own identity.
    let mallory = app.sim.person("mallory");
    let forged = bob.dms().last().cloned().expect("bob's card");
    let outcome = mallory
        .click_in(&forged.channel, &forged.ts, "Approve")
        .await;
    if outcome.is_ok() {
        eventually(WAIT, "mallory is told she cannot decide", || async {
            mallory
                .ephemerals()
                .iter()
                .any(|m| m.visible_text().contains("not an approver"))
        })
        .await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        alice
            .dms()
            .iter()
            .all(|m| !m.visible_text().contains("Approved")),
        "a forged click approved the request"
    );
    assert_eq!(
        bob.dms().last().map(|m| m.buttons()),
        Some(vec!["Approve".to_owned(), "Deny".to_owned()])
    );
    app.stop().await;
}

#[tokio::test]
async fn two_approvers_clicking_at_once_give_one_decision() {
    let app = spawn_app().await;
    request(&app, "alice", "AWS production", "ReadOnly", "1 h", "race").await;
    let (bob, frank) = (app.sim.person("bob"), app.sim.person("frank"));
    dm_containing(&bob, "race").await;
    dm_containing(&frank, "race").await;

    let (first, second) = tokio::join!(bob.click("Approve"), frank.click("Approve"));
    assert!(first.is_ok() && second.is_ok(), "both saw live buttons");

    let alice = app.sim.person("alice");
    dm_containing(&alice, "Approved").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outcomes = app
        .sim
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.args["channel"] == "U0ALICE001" && c.args.to_string().contains("Approved"))
        .count();
    assert_eq!(outcomes, 1, "exactly one outcome message to the requester");
    let late = [&bob, &frank].into_iter().find(|p| {
        p.ephemerals()
            .iter()
            .any(|m| m.visible_text().contains("already approved by"))
    });
    assert!(
        late.is_some(),
        "the later click is told who already decided"
    );
    eventually(WAIT, "both cards lose their buttons", || async {
        bob.dms()
            .iter()
            .chain(frank.dms().iter())
            .all(|m| m.buttons().is_empty())
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_two_step_chain_with_a_channel_quorum_of_two() {
    let app = spawn_app().await;
    request(
        &app,
        "alice",
        "AWS production",
        "Admin",
        "1 h",
        "rotate keys",
    )
    .await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, "rotate keys").await;
    bob.click("Approve").await.expect("step 1");

    // Step 2 is posted once in #security; secops (bob, carol) must both approve.
    let carol = app.sim.person("carol");
    eventually(WAIT, "the security step is posted in #security", || async {
        app.sim
            .messages_in("C0SECURITY")
            .iter()
            .any(|m| m.buttons() == ["Approve", "Deny"])
    })
    .await;
    let post = app
        .sim
        .messages_in("C0SECURITY")
        .into_iter()
        .find(|m| !m.buttons().is_empty())
        .expect("post");
    carol
        .click_in(&post.channel, &post.ts, "Approve")
        .await
        .expect("carol approves");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        app.sim
            .person("alice")
            .dms()
            .iter()
            .all(|m| !m.visible_text().contains("Approved ")),
        "one of two is not a quorum"
    );
    bob.click_in(&post.channel, &post.ts, "Approve")
        .await
        .expect("bob approves step 2");

    dm_containing(&app.sim.person("alice"), "Approved").await;
    app.stop().await;
}

#[tokio::test]
async fn auto_approval_by_policy_skips_approvers() {
    let app = spawn_app().await;
    let outcome = request(
        &app,
        "alice",
        "Dev sandbox",
        "ReadOnly",
        "1 h",
        "try a thing",
    )
    .await;
    assert!(matches!(outcome, SubmitOutcome::Closed), "{outcome:?}");
    dm_containing(&app.sim.person("alice"), "Approved automatically").await;
    app.stop().await;
}

#[tokio::test]
async fn a_guest_is_refused_by_policy_with_the_policys_reason() {
    let app = spawn_app().await;
    let dave = app.sim.person("dave");
    let outcome = dave.slash("/c1", "request", "general").await;
    assert!(outcome.acked);
    dave.wait_for_modal(WAIT).await.expect("modal");
    // Policy offers a guest nothing to request.
    assert!(
        dave.fill("Resource", "AWS production").await.is_err(),
        "a guest must not be offered production"
    );
    app.stop().await;
}

#[tokio::test]
async fn hostile_justification_is_rendered_harmlessly() {
    let app = spawn_app().await;
    let hostile = format!(
        "<!channel> <@U0MALLORY1> \"}}] <https://evil.example|click> שלום 🎉 {}",
        "x".repeat(2900)
    );
    request(&app, "alice", "AWS production", "ReadOnly", "1 h", &hostile).await;
    let card = dm_containing(&app.sim.person("bob"), "שלום").await;
    let raw = card.blocks.to_string();
    assert!(
        !raw.contains("<!channel>")
            && !raw.contains("<@U0MALLORY1>")
            && !raw.contains("<https://evil"),
        "{raw}"
    );
    assert!(raw.contains("&lt;!channel&gt;"));
    app.stop().await;
}

#[tokio::test]
async fn status_lists_the_open_request() {
    let app = spawn_app().await;
    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "status check",
    )
    .await;
    dm_containing(&app.sim.person("bob"), "status check").await;
    let status = app
        .sim
        .person("alice")
        .slash("/c1", "status", "general")
        .await;
    assert!(status.acked);
    let text = status.response.map(|r| r.to_string()).unwrap_or_default();
    assert!(
        text.contains("REQ-1001") && text.contains("waiting for Team lead"),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_restart_in_the_middle_of_an_approval_continues() {
    let mut app = spawn_app().await;
    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "restart me",
    )
    .await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, "restart me").await;

    app.bot
        .take()
        .expect("running")
        .stop()
        .await
        .expect("stops");
    let app = crate::helpers::start(app).await;
    bob.click("Approve")
        .await
        .expect("the card from before the restart still works");

    dm_containing(&app.sim.person("alice"), "Approved").await;
    app.stop().await;
}

#[tokio::test]
async fn redelivered_envelopes_make_one_request_and_one_decision() {
    let mut options = crate::helpers::fast_sim_options();
    options.redeliver_everything = true;
    let app = crate::helpers::spawn_app_with(options).await;

    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "twice delivered",
    )
    .await;
    let bob = app.sim.person("bob");
    dm_containing(&bob, "twice delivered").await;
    bob.click("Approve").await.expect("approved");
    dm_containing(&app.sim.person("alice"), "Approved").await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let cards_to_bob = app
        .sim
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.args["channel"] == "U0BOB00001")
        .count();
    assert_eq!(cards_to_bob, 1, "one request, one card for bob");
    assert!(app
        .sim
        .calls_to("chat.postMessage")
        .iter()
        .all(|c| !c.args.to_string().contains("REQ-1002")));
    assert!(
        app.sim.person_errors().is_empty(),
        "{:?}",
        app.sim.person_errors()
    );
    app.stop().await;
}
