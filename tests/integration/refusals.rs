//! A refused click on a button that only opens a modal (*Extend*, a review's *Add
//! channel* and *Reassign*) is answered where the person clicked, through the
//! click's `response_url`, like every other refusal: `chat.postEphemeral` is refused
//! by Slack wherever the person is not a member (a DM that is not theirs, a channel
//! they read without joining), and they would never learn why nothing opened.

use std::time::Duration;

use crate::grants::{active_grant, advance, app_with, told};
use crate::helpers::{eventually, TestApp};
use crate::requests::{dm_containing, WAIT};

fn no_ephemeral_was_tried(app: &TestApp) {
    assert!(
        app.sim.calls_to("chat.postEphemeral").is_empty(),
        "answered through the click's response_url, not chat.postEphemeral"
    );
}

#[tokio::test]
async fn a_forged_extend_is_told_why_nothing_opened_through_the_response_url() {
    let app = app_with(|_| {}).await;
    active_grant(&app).await;
    advance(&app, Duration::from_secs(4 * 3600 - 10 * 60));
    let alice = app.sim.person("alice");
    let reminder = dm_containing(&alice, "ends").await;
    assert_eq!(reminder.buttons(), ["Extend", "I'm done"]);
    alice
        .click_with_value("Extend", "REQ-9999")
        .await
        .expect("alice clicks");
    told(&alice, "There is no request REQ-9999.").await;
    no_ephemeral_was_tried(&app);
    assert!(alice
        .wait_for_modal(Duration::from_millis(200))
        .await
        .is_err());
    app.stop().await;
}

#[tokio::test]
async fn forged_add_channel_and_reassign_clicks_are_told_through_the_response_url() {
    let app = app_with(|_| {}).await;
    crate::campaigns::alice_has_access(&app).await;
    let bob = app.sim.person("bob");
    crate::campaigns::create(&bob, "Q4").await;
    let card = dm_containing(&bob, "Access review CMP-1").await;
    bob.click_in(&card.channel, &card.ts, "Start")
        .await
        .expect("start");
    for button in ["Add channel", "Reassign"] {
        eventually(WAIT, &format!("the card offers {button}"), || async {
            crate::campaign_channels::card_now(&bob)
                .is_some_and(|c| c.buttons().iter().any(|b| b == button))
        })
        .await;
        bob.click_with_value(button, "CMP-9")
            .await
            .unwrap_or_else(|e| panic!("bob clicks {button}: {e}"));
    }
    eventually(WAIT, "bob is told twice", || async {
        bob.ephemerals()
            .iter()
            .filter(|m| {
                m.visible_text()
                    .contains("There is no access review CMP-9.")
            })
            .count()
            == 2
    })
    .await;
    no_ephemeral_was_tried(&app);
    app.stop().await;
}
