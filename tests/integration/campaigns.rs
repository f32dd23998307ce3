//! Access-review campaigns as their owners and reviewers use them.

use std::time::Duration;

use c1bot::simulator::{Person, SubmitOutcome};
use serde_json::Value;

use crate::grants::{approved_request, audit_entries, told};
use crate::helpers::{eventually, spawn_app, TestApp};
use crate::requests::{dm_containing, WAIT};

/// alice holds ReadOnly on AWS production (owner: frank), granted by carol.
pub async fn alice_has_access(app: &TestApp) {
    approved_request(app).await;
    let carol = app.sim.person("carol");
    dm_containing(&carol, "Grant *ReadOnly*").await;
    carol.click("Mark complete").await.expect("carol completes");
    dm_containing(&app.sim.person("alice"), "Your access is active").await;
}

/// The text of the modal's select option containing `text`.
pub fn option_containing(modal: &Value, text: &str) -> String {
    modal["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|b| b["element"]["options"].as_array())
        .flatten()
        .filter_map(|o| o["text"]["text"].as_str())
        .find(|t| t.contains(text))
        .unwrap_or_else(|| panic!("an option with {text:?} in {modal}"))
        .to_owned()
}

/// `/c1 campaign` by `owner`, filled in for AWS production, due in 7 days.
pub async fn create(owner: &Person, name: &str) -> SubmitOutcome {
    create_with(owner, name, "").await
}

/// [`create`] with these other owners (comma-separated names; empty for none).
pub async fn create_with(owner: &Person, name: &str, other_owners: &str) -> SubmitOutcome {
    owner.slash("/c1", "campaign", "general").await;
    owner
        .wait_for_modal(WAIT)
        .await
        .expect("the campaign form opens");
    owner.fill("Name", name).await.expect("name");
    owner
        .fill("Resources to review", "AWS production")
        .await
        .expect("resources");
    if !other_owners.is_empty() {
        owner
            .fill("Other owners", other_owners)
            .await
            .expect("owners");
    }
    owner.fill("Due", "In 7 days").await.expect("due");
    owner.submit().await.expect("submitted")
}

#[tokio::test]
async fn a_started_review_asks_the_owner_and_a_revoke_starts_deprovisioning() {
    let mut app = spawn_app().await;
    alice_has_access(&app).await;
    let (bob, frank, carol) = (
        app.sim.person("bob"),
        app.sim.person("frank"),
        app.sim.person("carol"),
    );
    assert!(matches!(
        create(&bob, "Q4 production <!channel>").await,
        SubmitOutcome::Closed
    ));
    let card = dm_containing(&bob, "Access review CMP-1").await;
    assert!(
        !card.visible_text().contains("<!channel>"),
        "the name is shown as text: {}",
        card.visible_text()
    );
    assert!(card.visible_text().contains("0 of 0 reviewed"));
    bob.click_in(&card.channel, &card.ts, "Start")
        .await
        .expect("bob starts it");

    // frank owns AWS production, so he reviews alice's access there.
    let page = dm_containing(&frank, "Does each person still need this access?").await;
    assert!(page.visible_text().contains("<@U0ALICE001>"));
    assert_eq!(page.buttons(), ["Certify", "Revoke", "Certify all"]);
    dm_containing(&bob, "0 of 1 reviewed").await;

    // A restart in the middle of the campaign: its state is in sled.
    app = crate::helpers::restart(app).await;

    frank
        .click_in(&page.channel, &page.ts, "Revoke")
        .await
        .expect("frank revokes");
    let task = dm_containing(&carol, "Revoke *ReadOnly* on *AWS production*").await;
    assert!(
        task.visible_text().contains("access review CMP-1"),
        "{}",
        task.visible_text()
    );
    dm_containing(&bob, "1 of 1 reviewed").await;
    eventually(WAIT, "frank's page shows his decision", || async {
        frank.dms().iter().any(|m| {
            m.ts == page.ts && m.visible_text().contains("Revoked by you") && m.buttons().is_empty()
        })
    })
    .await;
    let actions: Vec<String> = audit_entries(&app)
        .await
        .iter()
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect();
    for expected in [
        "campaign.created",
        "campaign.start",
        "campaign.revoke",
        "grant.revoke",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn certify_all_then_end_and_only_allowed_people_manage() {
    let app = spawn_app().await;
    alice_has_access(&app).await;
    let (alice, bob, frank) = (
        app.sim.person("alice"),
        app.sim.person("bob"),
        app.sim.person("frank"),
    );
    // alice is no workspace admin: the shipped policy lets only admins manage reviews.
    alice.slash("/c1", "campaign", "general").await;
    told(&alice, "You cannot manage access reviews").await;
    assert!(alice.modal().is_none());

    create(&bob, "Q4").await;
    let card = dm_containing(&bob, "Access review CMP-1").await;
    bob.click_in(&card.channel, &card.ts, "Start")
        .await
        .expect("start");
    let page = dm_containing(&frank, "Does each person still need this access?").await;
    // Slack asks before a click on Certify all goes through, saying how many.
    let asks = page.blocks.to_string();
    assert!(
        asks.contains("Certify everything left?")
            && asks.contains("This certifies 1 item, on every page"),
        "{asks}"
    );
    frank
        .click_in(&page.channel, &page.ts, "Certify all")
        .await
        .expect("certify all");
    dm_containing(&bob, "1 of 1 reviewed").await;
    bob.click_in(&card.channel, &card.ts, "End")
        .await
        .expect("end");
    dm_containing(
        &bob,
        "CMP-1 is completed: 1 of 1 reviewed (1 certified, 0 revoked).",
    )
    .await;
    eventually(
        WAIT,
        "bob's card reads Completed, without buttons",
        || async {
            bob.dms().iter().any(|m| {
                m.ts == card.ts && m.visible_text().contains("Completed") && m.buttons().is_empty()
            })
        },
    )
    .await;
    assert!(frank
        .dms()
        .iter()
        .any(|m| m.ts == page.ts && m.visible_text().contains("All reviewed")));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !app.sim
            .person("carol")
            .dms()
            .iter()
            .any(|m| m.visible_text().contains("Revoke *ReadOnly*")),
        "certified access is left alone"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_blank_name_is_answered_in_the_modal() {
    let app = spawn_app().await;
    let bob = app.sim.person("bob");
    bob.slash("/c1", "campaign", "general").await;
    bob.wait_for_modal(WAIT).await.expect("opens");
    bob.fill("Name", "  ").await.expect("name");
    bob.fill("Resources to review", "AWS production")
        .await
        .expect("resources");
    bob.fill("Due", "In 7 days").await.expect("due");
    let SubmitOutcome::Errors(errors) = bob.submit().await.expect("answered") else {
        panic!("expected errors");
    };
    assert_eq!(errors["name"], "Give the review a name.");
    assert!(audit_entries(&app)
        .await
        .iter()
        .all(|e| e["action"] != "campaign.created"));
    app.stop().await;
}

#[tokio::test]
async fn a_review_of_one_entitlement_by_a_user_group_goes_to_its_members() {
    let app = spawn_app().await;
    alice_has_access(&app).await;
    let bob = app.sim.person("bob");
    bob.slash("/c1", "campaign", "general").await;
    bob.wait_for_modal(WAIT).await.expect("opens");
    bob.fill("Name", "ReadOnly review").await.expect("name");
    bob.fill("Entitlements to review", "AWS production: ReadOnly")
        .await
        .expect("entitlements");
    // dba is carol and frank: carol comes first.
    bob.fill("Reviewer groups", "@dba (Database Admins)")
        .await
        .expect("groups");
    bob.fill("Due", "In 7 days").await.expect("due");
    assert!(matches!(
        bob.submit().await.expect("submitted"),
        SubmitOutcome::Closed
    ));
    let card = dm_containing(&bob, "Reviews access to ReadOnly on AWS production").await;
    bob.click_in(&card.channel, &card.ts, "Start")
        .await
        .expect("start");
    let page = dm_containing(
        &app.sim.person("carol"),
        "Does each person still need this access?",
    )
    .await;
    assert!(page.visible_text().contains("<@U0ALICE001>"));
    dm_containing(&bob, "0 of 1 reviewed").await;
    assert!(
        !app.sim.person("frank").dms().iter().any(|m| m
            .visible_text()
            .contains("Does each person still need this access?")),
        "one item, one reviewer"
    );
    let created = audit_entries(&app)
        .await
        .into_iter()
        .find(|e| e["action"] == "campaign.created")
        .expect("audited");
    assert_eq!(created["detail"]["reviewers"]["groups"][0], "S0DBADMIN1");
    app.stop().await;
}

#[tokio::test]
async fn nobody_is_given_their_own_access_to_review_unless_policy_allows_it() {
    let app = spawn_app().await;
    alice_has_access(&app).await;
    let bob = app.sim.person("bob");
    bob.slash("/c1", "campaign", "general").await;
    bob.wait_for_modal(WAIT).await.expect("opens");
    bob.fill("Name", "Self").await.expect("name");
    bob.fill("Resources to review", "AWS production")
        .await
        .expect("resources");
    bob.fill("Reviewers", "alice").await.expect("reviewers");
    bob.fill("Due", "In 7 days").await.expect("due");
    assert!(matches!(
        bob.submit().await.expect("submitted"),
        SubmitOutcome::Closed
    ));
    let card = dm_containing(&bob, "Access review CMP-1").await;
    bob.click_in(&card.channel, &card.ts, "Start")
        .await
        .expect("start");
    // alice is the only reviewer and the item is her own: nobody is asked.
    dm_containing(&bob, "nobody could be found to review item(s) 1").await;
    let card = dm_containing(&bob, "Reassign").await;
    bob.click_in(&card.channel, &card.ts, "Reassign")
        .await
        .expect("reassign");
    let modal = bob.wait_for_modal(WAIT).await.expect("opens");
    let option = option_containing(&modal, "(now nobody)");
    bob.fill("Access to review", &option).await.expect("item");
    bob.fill("New reviewer", "alice").await.expect("reviewer");
    let SubmitOutcome::Errors(errors) = bob.submit().await.expect("answered") else {
        panic!("self-review is refused");
    };
    assert!(
        errors["reviewer"].contains("policy does not let people review their own access"),
        "{errors:?}"
    );
    assert!(!app.sim.person("alice").dms().iter().any(|m| m
        .visible_text()
        .contains("Does each person still need this access?")));
    app.stop().await;
}

#[tokio::test]
async fn a_guest_chosen_as_reviewer_is_not_given_items_and_cannot_be_reassigned_any() {
    let app = spawn_app().await;
    alice_has_access(&app).await;
    let bob = app.sim.person("bob");
    bob.slash("/c1", "campaign", "general").await;
    bob.wait_for_modal(WAIT).await.expect("opens");
    bob.fill("Name", "Guests").await.expect("name");
    bob.fill("Resources to review", "AWS production")
        .await
        .expect("resources");
    // dave is a multi-channel guest: he may not even request access.
    bob.fill("Reviewers", "dave").await.expect("reviewers");
    bob.fill("Due", "In 7 days").await.expect("due");
    assert!(matches!(
        bob.submit().await.expect("submitted"),
        SubmitOutcome::Closed
    ));
    let card = dm_containing(&bob, "Access review CMP-1").await;
    bob.click_in(&card.channel, &card.ts, "Start")
        .await
        .expect("start");
    dm_containing(&bob, "nobody could be found to review item(s) 1").await;
    let card = dm_containing(&bob, "Reassign").await;
    bob.click_in(&card.channel, &card.ts, "Reassign")
        .await
        .expect("reassign");
    let modal = bob.wait_for_modal(WAIT).await.expect("opens");
    let option = option_containing(&modal, "(now nobody)");
    bob.fill("Access to review", &option).await.expect("item");
    bob.fill("New reviewer", "dave").await.expect("reviewer");
    let SubmitOutcome::Errors(errors) = bob.submit().await.expect("answered") else {
        panic!("a guest reviewer is refused");
    };
    assert!(
        errors["reviewer"].contains("Policy does not let that person review access")
            && errors["reviewer"].contains("guest accounts"),
        "{errors:?}"
    );
    assert!(
        app.sim.person("dave").dms().is_empty(),
        "dave is sent nothing"
    );
    app.stop().await;
}
