//! A campaign's Slack channel as its owners use it: created or joined from the
//! owner's card, everyone invited (failures reported per person), a status message
//! kept up to date, reminders, Deactivate / Remove / re-add, and silence after
//! the campaign is completed.

use std::time::Duration;

use c1bot::simulator::{Message, Person, SubmitOutcome};

use crate::campaigns::{alice_has_access, create, create_with, option_containing};
use crate::grants::{advance, audit_entries};
use crate::helpers::{eventually, spawn_app, TestApp};
use crate::requests::{dm_containing, WAIT};

const ALICE: &str = "U0ALICE001";
const BOB: &str = "U0BOB00001";
const CAROL: &str = "U0CAROL001";
const FRANK: &str = "U0FRANK001";

/// bob's card for CMP-1 as it is now, once it has arrived.
fn card_now(bob: &Person) -> Option<Message> {
    bob.dms()
        .into_iter()
        .find(|m| m.visible_text().contains("Access review CMP-1"))
}

/// bob's card for CMP-1 (it has arrived).
fn card(bob: &Person) -> Message {
    card_now(bob).expect("bob has the card")
}

/// Clicks `button` on bob's card.
async fn on_card(bob: &Person, button: &str) {
    eventually(WAIT, &format!("the card offers {button}"), || async {
        card_now(bob).is_some_and(|card| card.buttons().iter().any(|b| b == button))
    })
    .await;
    let card = card(bob);
    bob.click_in(&card.channel, &card.ts, button)
        .await
        .unwrap_or_else(|e| panic!("bob clicks {button}: {e}"));
}

/// Opens the channel form from the card and fills it in; what the submission got.
async fn add_channel(bob: &Person, kind: &str, name: &str, description: &str) -> SubmitOutcome {
    on_card(bob, "Add channel").await;
    bob.wait_for_modal(WAIT)
        .await
        .expect("the channel form opens");
    fill_channel(bob, kind, name, description).await
}

async fn fill_channel(bob: &Person, kind: &str, name: &str, description: &str) -> SubmitOutcome {
    bob.fill("Channel", kind).await.expect("kind");
    bob.fill("Channel name", name).await.expect("name");
    bob.fill("Description", description)
        .await
        .expect("description");
    bob.submit().await.expect("submitted")
}

fn members(app: &TestApp, channel: &str) -> Vec<String> {
    app.sim
        .workspace()
        .channel(channel)
        .map(|c| c.members.iter().cloned().collect())
        .unwrap_or_default()
}

/// The bot's messages in `channel`, oldest first.
fn posts(app: &TestApp, channel: &str) -> Vec<Message> {
    app.sim.messages_in(channel)
}

async fn post_containing(app: &TestApp, channel: &str, text: &str) -> Message {
    let mut found = None;
    eventually(WAIT, &format!("#{channel} shows {text:?}"), || {
        let hit = posts(app, channel)
            .into_iter()
            .find(|m| m.visible_text().contains(text));
        let ok = hit.is_some();
        found = hit;
        async move { ok }
    })
    .await;
    found.expect("found")
}

/// A started CMP-1 (bob owns it, frank reviews alice's grant).
async fn started(app: &TestApp) -> (Person, Person) {
    alice_has_access(app).await;
    let (bob, frank) = (app.sim.person("bob"), app.sim.person("frank"));
    assert!(matches!(
        create(&bob, "Q4 <!channel>").await,
        SubmitOutcome::Closed
    ));
    dm_containing(&bob, "Access review CMP-1").await;
    (bob, frank)
}

async fn start(bob: &Person, frank: &Person) -> Message {
    on_card(bob, "Start").await;
    dm_containing(frank, "Does each person still need this access?").await
}

#[tokio::test]
async fn a_new_channel_gets_its_description_everyone_is_invited_and_a_status_message() {
    let app = spawn_app().await;
    let (bob, frank) = started(&app).await;
    let description = "Q4 review of production access. <!here> stays text.";
    assert!(matches!(
        add_channel(
            &bob,
            "Create a new channel",
            "access-review-q4",
            description
        )
        .await,
        SubmitOutcome::Closed
    ));
    let status = post_containing(&app, "access-review-q4", "Access review CMP-1").await;
    {
        let ws = app.sim.workspace();
        let channel = ws.channel("access-review-q4").expect("created");
        assert_eq!(channel.purpose, description);
        assert!(!channel.is_private);
    }
    assert!(
        status.visible_text().contains("Not started yet"),
        "{}",
        status.visible_text()
    );
    assert!(
        !status.visible_text().contains("<!channel>"),
        "the name is text: {}",
        status.visible_text()
    );
    eventually(WAIT, "bob (owner) is invited", || async {
        members(&app, "access-review-q4").contains(&BOB.to_owned())
    })
    .await;
    assert!(
        card(&bob).visible_text().contains("<#"),
        "the card names the channel"
    );

    let page = start(&bob, &frank).await;
    eventually(WAIT, "frank (reviewer) is invited on start", || async {
        members(&app, "access-review-q4").contains(&FRANK.to_owned())
    })
    .await;
    post_containing(&app, "access-review-q4", "0 of 1 reviewed").await;
    frank
        .click_in(&page.channel, &page.ts, "Certify")
        .await
        .expect("frank certifies");
    let updated = post_containing(&app, "access-review-q4", "1 of 1 reviewed").await;
    assert_eq!(
        updated.ts, status.ts,
        "the status message is edited in place"
    );
    assert_eq!(posts(&app, "access-review-q4").len(), 1);
    assert!(!members(&app, "access-review-q4").contains(&ALICE.to_owned()));
    let attached = audit_entries(&app)
        .await
        .into_iter()
        .find(|e| e["action"] == "campaign.channel_attached")
        .expect("audited");
    assert_eq!(attached["detail"]["created"], true);
    app.stop().await;
}

#[tokio::test]
async fn an_existing_channel_is_joined_and_people_who_cannot_be_invited_are_reported() {
    let app = spawn_app().await;
    let (bob, frank) = started(&app).await;
    // #incidents is private and c1bot is not in it: it cannot be seen or joined.
    let SubmitOutcome::Errors(errors) =
        add_channel(&bob, "Use an existing channel", "#incidents", "").await
    else {
        panic!("a channel c1bot cannot see is refused in the modal");
    };
    assert!(
        errors["channel_name"].contains("cannot find a channel named #incidents"),
        "{errors:?}"
    );
    assert!(errors["channel_name"].contains("add c1bot to it first"));
    let SubmitOutcome::Errors(errors) =
        fill_channel(&bob, "Use an existing channel", "security", "A purpose").await
    else {
        panic!("a description for an existing channel is refused");
    };
    assert!(errors["channel_description"].contains("only on a channel it creates"));
    assert!(!members(&app, "security").contains(&"U0C1BOT001".to_owned()));

    assert!(matches!(
        fill_channel(&bob, "Use an existing channel", "#security", "").await,
        SubmitOutcome::Closed
    ));
    eventually(WAIT, "c1bot joined #security", || async {
        members(&app, "security").contains(&"U0C1BOT001".to_owned())
    })
    .await;
    post_containing(&app, "security", "Access review CMP-1").await;
    // bob and frank are already members of #security: that is success, not news.
    start(&bob, &frank).await;
    post_containing(&app, "security", "0 of 1 reviewed").await;
    eventually(WAIT, "both invitations were answered", || async {
        app.sim.calls_to("conversations.invite").len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let noise: Vec<String> = bob
        .dms()
        .iter()
        .map(|m| m.visible_text())
        .filter(|t| t.contains("could not invite"))
        .collect();
    assert!(
        noise.is_empty(),
        "already being in the channel is not reported: {noise:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_guest_owner_who_cannot_be_invited_is_reported_and_the_rest_are_invited() {
    let app = spawn_app().await;
    alice_has_access(&app).await;
    let bob = app.sim.person("bob");
    // grace is a single-channel guest, carol a member.
    assert!(matches!(
        create_with(&bob, "Q4", "grace, carol").await,
        SubmitOutcome::Closed
    ));
    assert!(matches!(
        add_channel(&bob, "Create a new channel", "review-q4", "").await,
        SubmitOutcome::Closed
    ));
    dm_containing(&bob, "could not invite <@U0GRACE001> to <#").await;
    let told = dm_containing(&app.sim.person("carol"), "could not invite <@U0GRACE001>").await;
    assert!(
        told.visible_text().contains("single-channel guest"),
        "{}",
        told.visible_text()
    );
    eventually(WAIT, "bob and carol are invited", || async {
        let m = members(&app, "review-q4");
        m.contains(&BOB.to_owned()) && m.contains(&CAROL.to_owned())
    })
    .await;
    assert!(!members(&app, "review-q4").contains(&"U0GRACE001".to_owned()));
    // No description was given, so none was set.
    assert!(app.sim.calls_to("conversations.setPurpose").is_empty());
    app.stop().await;
}

#[tokio::test]
async fn every_invalid_channel_name_is_answered_in_the_modal_and_nothing_is_created() {
    let app = spawn_app().await;
    let (bob, _) = started(&app).await;
    let channels_before = app.sim.workspace().channels.len();
    on_card(&bob, "Add channel").await;
    bob.wait_for_modal(WAIT).await.expect("opens");
    let long = "a".repeat(81);
    let cases: [(&str, &str, &str); 5] = [
        ("access review", "channel_name", "Channel names can't contain spaces; try access-review."),
        ("Access-Review", "channel_name", "Channel names can't contain capital letters; try access-review."),
        (
            "review!q4",
            "channel_name",
            "Channel names can only contain lowercase letters, numbers, hyphens and underscores, not \"!\"; try reviewq4.",
        ),
        (&long, "channel_name", "Channel names can be at most 80 characters; this one has 81."),
        (
            "general",
            "channel_name",
            "A channel named #general already exists; pick another name, or enter it as an existing channel.",
        ),
    ];
    for (name, field, expected) in cases {
        let SubmitOutcome::Errors(errors) =
            fill_channel(&bob, "Create a new channel", name, "").await
        else {
            panic!("{name:?} should be refused");
        };
        assert_eq!(
            errors.get(field).map(String::as_str),
            Some(expected),
            "{name:?}"
        );
    }
    let SubmitOutcome::Errors(errors) =
        fill_channel(&bob, "Create a new channel", "review-q4", &"x".repeat(251)).await
    else {
        panic!("a long description is refused");
    };
    assert_eq!(
        errors["channel_description"],
        "The description can be at most 250 characters; this one has 251."
    );
    assert_eq!(app.sim.workspace().channels.len(), channels_before);
    // Only "general" reached Slack (to learn it is taken); nothing was attached.
    assert_eq!(app.sim.calls_to("conversations.create").len(), 1);
    assert!(card(&bob).buttons().contains(&"Add channel".to_owned()));
    assert!(audit_entries(&app)
        .await
        .iter()
        .all(|e| e["action"] != "campaign.channel_attached"));
    app.stop().await;
}

#[tokio::test]
async fn a_reviewer_assigned_late_is_invited_and_gets_the_item() {
    let app = spawn_app().await;
    let (bob, frank) = started(&app).await;
    add_channel(&bob, "Create a new channel", "review-q4", "").await;
    let franks_page = start(&bob, &frank).await;
    eventually(WAIT, "frank is invited", || async {
        members(&app, "review-q4").contains(&FRANK.to_owned())
    })
    .await;
    assert!(!members(&app, "review-q4").contains(&CAROL.to_owned()));

    on_card(&bob, "Reassign").await;
    let modal = bob
        .wait_for_modal(WAIT)
        .await
        .expect("the reassign form opens");
    let option = option_containing(&modal, "AWS production");
    bob.fill("Access to review", &option).await.expect("item");
    bob.fill("New reviewer", "carol").await.expect("reviewer");
    assert!(matches!(
        bob.submit().await.expect("submitted"),
        SubmitOutcome::Closed
    ));

    let carol = app.sim.person("carol");
    let page = dm_containing(&carol, "Does each person still need this access?").await;
    assert!(page.visible_text().contains("<@U0ALICE001>"));
    eventually(WAIT, "carol, assigned late, is invited", || async {
        members(&app, "review-q4").contains(&CAROL.to_owned())
    })
    .await;
    eventually(WAIT, "frank's page no longer offers the item", || async {
        frank
            .dms()
            .iter()
            .any(|m| m.ts == franks_page.ts && m.buttons().is_empty())
    })
    .await;
    assert!(
        frank
            .click_in(&franks_page.channel, &franks_page.ts, "Certify")
            .await
            .is_err(),
        "the button is gone"
    );
    carol
        .click_in(&page.channel, &page.ts, "Certify")
        .await
        .expect("carol certifies");
    post_containing(&app, "review-q4", "1 of 1 reviewed").await;
    app.stop().await;
}

#[tokio::test]
async fn deactivate_stops_posting_and_remove_lets_another_channel_be_added() {
    let app = spawn_app().await;
    let (bob, frank) = started(&app).await;
    add_channel(&bob, "Create a new channel", "review-one", "").await;
    let page = start(&bob, &frank).await;
    let first = post_containing(&app, "review-one", "0 of 1 reviewed").await;

    on_card(&bob, "Deactivate channel").await;
    eventually(WAIT, "the card offers Activate", || async {
        card(&bob).buttons().iter().any(|b| b == "Activate channel")
    })
    .await;
    assert!(card(&bob).visible_text().contains("deactivated"));
    post_containing(
        &app,
        "review-one",
        "updates paused: an owner deactivated this channel",
    )
    .await;
    frank
        .click_in(&page.channel, &page.ts, "Certify")
        .await
        .expect("frank certifies");
    dm_containing(&bob, "1 of 1 reviewed").await;
    // Everything after the certify is settled: bob's card shows it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now = posts(&app, "review-one");
    assert_eq!(now.len(), 1);
    assert!(
        now[0].visible_text().contains("0 of 1 reviewed"),
        "a deactivated channel is not updated: {}",
        now[0].visible_text()
    );
    assert!(
        members(&app, "review-one").contains(&"U0C1BOT001".to_owned()),
        "c1bot stays in the channel"
    );

    on_card(&bob, "Remove channel").await;
    post_containing(
        &app,
        "review-one",
        "updates stopped: this channel was removed",
    )
    .await;
    assert!(matches!(
        add_channel(&bob, "Create a new channel", "review-two", "").await,
        SubmitOutcome::Closed
    ));
    let second = post_containing(&app, "review-two", "1 of 1 reviewed").await;
    assert_ne!(second.channel, first.channel);
    eventually(WAIT, "owners and reviewers are invited again", || async {
        let m = members(&app, "review-two");
        m.contains(&BOB.to_owned()) && m.contains(&FRANK.to_owned())
    })
    .await;
    assert_eq!(
        posts(&app, "review-one").len(),
        1,
        "the old channel is left alone"
    );
    app.stop().await;
}

#[tokio::test]
async fn reminders_come_before_the_due_date_and_after_completed_nothing_is_posted() {
    let mut app = spawn_app().await;
    let (bob, frank) = started(&app).await;
    add_channel(&bob, "Create a new channel", "review-q4", "").await;
    start(&bob, &frank).await;
    post_containing(&app, "review-q4", "0 of 1 reviewed").await;

    // The reminder timers are in sled: a restart keeps them.
    app = crate::helpers::restart(app).await;

    // Halfway to the due date (7 days), the first reminder.
    advance(&app, Duration::from_secs(84 * 3600 + 60));
    let reminder = dm_containing(&frank, "Reminder: 1 item is waiting for your review").await;
    assert!(reminder.visible_text().contains("CMP-1"));
    post_containing(&app, "review-q4", "Still to review: <@U0FRANK001>").await;
    post_containing(&app, "review-q4", "*Reminders sent*\n1").await;
    assert!(audit_entries(&app)
        .await
        .iter()
        .any(|e| e["action"] == "campaign.remind"));

    on_card(&bob, "End").await;
    post_containing(&app, "review-q4", "Completed").await;
    eventually(WAIT, "the card has no buttons left", || async {
        card(&bob).buttons().is_empty()
    })
    .await;
    let settled = posts(&app, "review-q4");
    let updates = app.sim.calls_to("chat.update").len();

    // The second reminder's time (a day before the due date) passes: nothing is sent.
    advance(&app, Duration::from_secs(3 * 24 * 3600));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        posts(&app, "review-q4"),
        settled,
        "silence after completion"
    );
    assert_eq!(
        frank
            .dms()
            .iter()
            .filter(|m| m.visible_text().contains("Reminder:"))
            .count(),
        1
    );
    let status = settled
        .iter()
        .find(|m| m.visible_text().contains("Completed"))
        .expect("status");
    assert!(status.visible_text().contains("0 of 1 reviewed"));
    assert_eq!(app.sim.calls_to("chat.update").len(), updates);
    {
        let ws = app.sim.workspace();
        assert!(!ws.channel("review-q4").expect("there").is_archived);
    }
    app.stop().await;
}
