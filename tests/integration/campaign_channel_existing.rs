//! Attaching an existing channel in a large workspace, as its owner sees it: the
//! modal closes at once although finding the channel pages slowly through
//! `conversations.list`, and the owner is told by DM what came of it (attached, or
//! why not), with nothing attached when it cannot be.

use std::time::Duration;

use tokio::time::Instant;

use c1bot::simulator::SubmitOutcome;

use crate::campaign_channels::{add_channel, card, members, post_containing, started};
use crate::grants::audit_entries;
use crate::helpers::{spawn_app, TestApp};
use crate::requests::dm_containing;

const BOT: &str = "U0C1BOT001";

/// 1,000 more channels, each `conversations.list` page (200) taking 600 ms: finding
/// one listed last takes over 3 s, longer than Slack waits for an ack.
fn large_and_slow(app: &TestApp) -> String {
    let names = app.sim.add_channels("team", 1_000);
    app.sim
        .faults()
        .latency(Some("conversations.list"), Duration::from_millis(600));
    names.last().cloned().expect("channels were added")
}

/// When the newest ack (the submission's, just returned) reached Slack. Compared with
/// the lookup's last page rather than a wall-clock budget: a lookup before the ack
/// would have made every page's call before it.
fn acked_at(app: &TestApp) -> Instant {
    app.sim
        .acks_received()
        .last()
        .map(|a| a.at)
        .expect("the submission was acked")
}

fn last_list_call(app: &TestApp) -> Instant {
    app.sim
        .calls_to("conversations.list")
        .last()
        .map(|c| c.at)
        .expect("the lookup called conversations.list")
}

#[tokio::test]
async fn an_existing_channel_in_a_large_workspace_closes_the_modal_at_once_and_is_attached() {
    let app = spawn_app().await;
    let (bob, _) = started(&app).await;
    let last = large_and_slow(&app);

    let outcome = add_channel(&bob, "Use an existing channel", &format!("#{last}"), "").await;
    assert!(matches!(outcome, SubmitOutcome::Closed), "{outcome:?}");
    let acked = acked_at(&app);
    assert!(
        app.sim.person_errors().is_empty(),
        "{:?}",
        app.sim.person_errors()
    );

    let told = dm_containing(&bob, "is attached").await;
    assert!(
        told.visible_text().contains("Access review CMP-1"),
        "{}",
        told.visible_text()
    );
    assert!(
        members(&app, &last).contains(&BOT.to_owned()),
        "c1bot joined"
    );
    post_containing(&app, &last, "Access review CMP-1").await;
    assert!(
        card(&bob).visible_text().contains("<#"),
        "the card names it"
    );
    assert!(
        app.sim.calls_to("conversations.list").len() >= 5,
        "the lookup paged through the workspace"
    );
    assert!(
        acked < last_list_call(&app),
        "the modal closed before the lookup reached its last page"
    );
    let attached = audit_entries(&app)
        .await
        .into_iter()
        .find(|e| e["action"] == "campaign.channel_attached")
        .expect("audited");
    assert_eq!(attached["detail"]["created"], false);
    assert_eq!(attached["actor"], "U0BOB00001");
    app.stop().await;
}

#[tokio::test]
async fn a_channel_that_cannot_be_found_is_told_by_dm_and_nothing_is_attached() {
    let app = spawn_app().await;
    let (bob, _) = started(&app).await;
    large_and_slow(&app);

    // #incidents is private and c1bot is not in it: Slack does not list it.
    let outcome = add_channel(&bob, "Use an existing channel", "#incidents", "").await;
    assert!(matches!(outcome, SubmitOutcome::Closed), "{outcome:?}");
    let acked = acked_at(&app);

    let told = dm_containing(&bob, "cannot find a channel named #incidents").await;
    let text = told.visible_text();
    assert!(text.contains("Access review CMP-1"), "{text}");
    assert!(text.contains("add c1bot to it first"), "{text}");
    assert!(!members(&app, "incidents").contains(&BOT.to_owned()));
    assert!(
        acked < last_list_call(&app),
        "the modal closed before the lookup went through every page"
    );
    assert!(
        card(&bob).buttons().contains(&"Add channel".to_owned()),
        "nothing was attached: the card still offers Add channel"
    );
    assert!(audit_entries(&app)
        .await
        .iter()
        .all(|e| e["action"] != "campaign.channel_attached"));
    app.stop().await;
}
