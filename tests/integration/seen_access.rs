//! What people see is right once access is granted (issue 15, section 2): buttons
//! of messages whose moment has passed are retired, and a reminder that comes due
//! after the end it announces is skipped.

use std::time::Duration;

use crate::grants::{active_grant, advance, app_with, audit_actions};
use crate::helpers::eventually;
use crate::requests::{dm_containing, request, WAIT};

/// The example catalog with each (from, to) applied once (every `from` must occur).
fn example_catalog_with(edits: &[(&str, &str)]) -> c1bot::catalog::Catalog {
    let mut text = std::fs::read_to_string("catalog.example.toml").expect("example catalog");
    for (from, to) in edits {
        assert!(text.contains(from), "the example catalog has {from:?}");
        text = text.replacen(from, to, 1);
    }
    c1bot::catalog::Catalog::from_toml(c1bot::catalog::Source {
        name: "catalog.toml",
        text: &text,
    })
    .expect("edited catalog is valid")
}

#[tokio::test]
async fn after_im_done_the_earlier_im_done_and_extend_buttons_are_retired() {
    let app = app_with(|_| {}).await;
    active_grant(&app).await;
    advance(&app, Duration::from_secs(4 * 3600 - 10 * 60));
    let alice = app.sim.person("alice");
    let reminder = dm_containing(&alice, "ends").await;
    assert_eq!(reminder.buttons(), ["Extend", "I'm done"]);
    let active = dm_containing(&alice, "Your access is active").await;
    assert_eq!(active.buttons(), ["I'm done"]);

    alice.click("I'm done").await.expect("alice is done");
    dm_containing(&app.sim.person("carol"), "no longer needed").await;
    eventually(WAIT, "no I'm done or Extend button stays live", || async {
        alice.dms().iter().all(|m| m.buttons().is_empty())
    })
    .await;
    let retired: Vec<String> = alice
        .dms()
        .iter()
        .filter(|m| m.ts == reminder.ts || m.ts == active.ts)
        .map(|m| m.visible_text())
        .collect();
    assert_eq!(retired.len(), 2, "{retired:?}");
    assert!(
        retired.iter().all(|t| t.contains("No longer active")),
        "{retired:?}"
    );
    assert!(
        alice.click("I'm done").await.is_err(),
        "nothing is left to click"
    );
    app.stop().await;
}

#[tokio::test]
async fn after_downtime_the_ends_soon_reminder_is_skipped_and_the_active_message_retired() {
    let app = app_with(|_| {}).await;
    active_grant(&app).await;
    // c1bot was down across both the reminder (15 min before the end) and the end.
    advance(&app, Duration::from_secs(4 * 3600 + 60));
    let carol = app.sim.person("carol");
    dm_containing(&carol, "from <@U0ALICE001>: expired").await;
    let alice = app.sim.person("alice");
    eventually(WAIT, "the active message's I'm done is retired", || async {
        alice
            .dms()
            .iter()
            .any(|m| m.visible_text().contains("No longer active"))
    })
    .await;
    let texts: Vec<String> = alice.dms().iter().map(|m| m.visible_text()).collect();
    assert!(
        texts.iter().all(|t| !t.contains("Extend")),
        "no ends-soon reminder after the end: {texts:?}"
    );
    assert!(alice.dms().iter().all(|m| m.buttons().is_empty()));
    app.stop().await;
}

#[tokio::test]
async fn deactivated_approvers_and_assignees_are_skipped_and_the_owners_asked_at_once() {
    // erin is deactivated in Slack. The step names bob and erin; the provisioning
    // task names erin alone, so it goes to frank, who owns AWS production.
    let catalog = example_catalog_with(&[
        (
            "approvers = { users = [\"U0BOB00001\", \"U0FRANK001\"] }",
            "approvers = { users = [\"U0BOB00001\", \"U0ERIN0001\"] }",
        ),
        (
            "assignees = { users = [\"U0CAROL001\"] }",
            "assignees = { users = [\"U0ERIN0001\"] }",
        ),
    ]);
    let app = app_with(|c| c.catalog = catalog).await;
    request(
        &app,
        "alice",
        "AWS production",
        "ReadOnly",
        "1 h",
        "incident 4711",
    )
    .await;
    let bob = app.sim.person("bob");
    let card = dm_containing(&bob, "incident 4711").await;
    assert!(
        !card.visible_text().contains("U0ERIN0001"),
        "erin is not named as an approver: {}",
        card.visible_text()
    );
    bob.click("Approve").await.expect("bob approves");
    let frank = app.sim.person("frank");
    let task = dm_containing(&frank, "Grant *ReadOnly* on *AWS production*").await;
    assert_eq!(task.buttons(), ["Mark complete", "Can't complete"]);
    assert!(
        app.sim.person("erin").dms().is_empty(),
        "erin is sent nothing"
    );

    let actions = audit_actions(&app).await;
    for expected in [
        "approver.skipped",
        "assignee.skipped",
        "assignee.escalated_to_owners",
    ] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected}: {actions:?}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn revoking_standing_access_in_a_review_names_the_access_as_people_know_it() {
    let catalog =
        example_catalog_with(&[("# members = [\"U0DAVE0001\"]", "members = [\"U0DAVE0001\"]")]);
    let app = app_with(|c| c.catalog = catalog).await;
    let (bob, frank) = (app.sim.person("bob"), app.sim.person("frank"));
    assert!(matches!(
        crate::campaigns::create(&bob, "Q4").await,
        c1bot::simulator::SubmitOutcome::Closed
    ));
    let card = dm_containing(&bob, "Access review CMP-1").await;
    bob.click_in(&card.channel, &card.ts, "Start")
        .await
        .expect("start");
    // frank owns AWS production: he reviews dave's catalog membership.
    let page = dm_containing(&frank, "Does each person still need this access?").await;
    frank
        .click_in(&page.channel, &page.ts, "Revoke")
        .await
        .expect("frank revokes");
    let told = dm_containing(&bob, "listed as a member in the catalog").await;
    let text = told.visible_text();
    assert!(
        text.contains("should no longer have *ReadOnly* on *AWS production*"),
        "{text}"
    );
    assert!(!text.contains("aws-prod"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn a_review_item_whose_access_ended_during_the_review_is_closed_not_certified() {
    let app = app_with(|_| {}).await;
    crate::campaigns::alice_has_access(&app).await;
    let (alice, bob, frank) = (
        app.sim.person("alice"),
        app.sim.person("bob"),
        app.sim.person("frank"),
    );
    crate::campaigns::create(&bob, "Q4").await;
    let card = dm_containing(&bob, "Access review CMP-1").await;
    bob.click_in(&card.channel, &card.ts, "Start")
        .await
        .expect("start");
    let page = dm_containing(&frank, "Does each person still need this access?").await;

    // alice gives her access up while frank has not decided yet.
    alice.click("I'm done").await.expect("alice is done");
    dm_containing(&app.sim.person("carol"), "no longer needed").await;

    frank
        .click_in(&page.channel, &page.ts, "Certify")
        .await
        .expect("frank clicks Certify");
    crate::grants::told(&frank, "ended during the review").await;
    eventually(WAIT, "frank's page closes the item", || async {
        frank.dms().iter().any(|m| {
            m.ts == page.ts
                && m.visible_text()
                    .contains("Closed: the access ended during the review")
                && m.buttons().is_empty()
        })
    })
    .await;
    dm_containing(&bob, "1 of 1 reviewed").await;
    let actions = audit_actions(&app).await;
    assert!(
        actions.iter().any(|a| a == "campaign.access_ended"),
        "{actions:?}"
    );
    assert!(
        !actions.iter().any(|a| a == "campaign.certify"),
        "{actions:?}"
    );
    app.stop().await;
}
