//! `kill -9` right after the ack of each kind of envelope, then a restart: the action
//! takes effect exactly once and everyone is told as they would have been.
//!
//! Journaled envelopes (clicks that decide, a one-line request, a DM message) run
//! with `C1BOT_FAULTS=hold-after-ack=600`, so the process has acked and decided
//! nothing when it is killed: only the journal can bring the action back. Modal
//! submissions are decided before their ack, so the kill comes right after it.

use std::time::Duration;

use c1bot::simulator::{Person, SubmitOutcome};

use crate::child::{setup, Bot, Setup};
use crate::crash::{active, approve, ask, count, GRANT_TASK};
use crate::helpers::eventually;
use crate::requests::{dm_containing, fill_request, WAIT};

const HOLD: &[(&str, &str)] = &[("C1BOT_FAULTS", "hold-after-ack=600")];

/// Kills `bot` and starts it again, holding journaled envelopes after their ack.
async fn held(setup: &Setup, bot: Bot) -> Bot {
    bot.kill_9().await;
    setup.start_with(Duration::ZERO, HOLD).await
}

/// Kills `bot` (right after an ack) and starts it again as in production.
async fn revived(setup: &Setup, bot: Bot) -> Bot {
    bot.kill_9().await;
    setup.start(Duration::ZERO).await
}

/// Waits a moment for anything sent twice, then counts.
async fn settled_count(person: &Person, text: &str) -> usize {
    tokio::time::sleep(Duration::from_millis(500)).await;
    count(person, text)
}

#[tokio::test]
async fn an_approve_acked_then_killed_is_decided_once_after_restart() {
    let setup = setup().await;
    let bot = setup.start_with(Duration::ZERO, HOLD).await;
    ask(&setup.sim).await;
    let bob = setup.sim.person("bob");
    bob.click("Approve").await.expect("acked");
    bot.kill_9().await;
    assert!(
        bob.dms()
            .iter()
            .any(|m| m.buttons().contains(&"Approve".to_owned())),
        "nothing was decided before the kill"
    );
    let bot = setup.start(Duration::ZERO).await;
    let (alice, carol) = (setup.sim.person("alice"), setup.sim.person("carol"));
    dm_containing(&carol, GRANT_TASK).await;
    dm_containing(&alice, "Approved").await;
    assert_eq!(settled_count(&carol, GRANT_TASK).await, 1, "one task");
    assert!(
        !bob.dms()
            .iter()
            .any(|m| m.buttons().contains(&"Approve".to_owned())),
        "bob's card no longer offers Approve"
    );
    assert_eq!(bot.gauge("c1bot_intake_pending").await, 0.0);
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn a_cancel_acked_then_killed_closes_the_request_once() {
    let setup = setup().await;
    let bot = setup.start_with(Duration::ZERO, HOLD).await;
    ask(&setup.sim).await;
    let alice = setup.sim.person("alice");
    eventually(WAIT, "alice's copy of her request", || async {
        alice
            .dms()
            .iter()
            .any(|m| m.buttons().contains(&"Cancel request".to_owned()))
    })
    .await;
    alice.click("Cancel request").await.expect("acked");
    let bot = revived(&setup, bot).await;
    let bob = setup.sim.person("bob");
    eventually(WAIT, "bob's card says it was cancelled", || async {
        bob.dms()
            .iter()
            .any(|m| m.visible_text().contains("Cancelled") && m.buttons().is_empty())
    })
    .await;
    assert_eq!(bot.gauge("c1bot_requests{state=\"cancelled\"}").await, 1.0);
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn mark_complete_and_im_done_acked_then_killed_take_effect_once() {
    let setup = setup().await;
    let bot = setup.start(Duration::ZERO).await;
    approve(&setup.sim).await;
    let (alice, carol) = (setup.sim.person("alice"), setup.sim.person("carol"));
    dm_containing(&carol, GRANT_TASK).await;
    let bot = held(&setup, bot).await;
    carol.click("Mark complete").await.expect("acked");
    let bot = revived(&setup, bot).await;
    dm_containing(&alice, "Your access is active").await;
    assert_eq!(settled_count(&alice, "Your access is active").await, 1);

    let bot = held(&setup, bot).await;
    alice.click("I'm done").await.expect("acked");
    let bot = revived(&setup, bot).await;
    dm_containing(&carol, "no longer needed").await;
    assert_eq!(
        settled_count(&carol, "no longer needed").await,
        1,
        "one revoke task"
    );
    assert_eq!(
        bot.gauge("c1bot_grants{state=\"deprovisioning\"}").await,
        1.0
    );
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn a_one_line_request_acked_then_killed_is_submitted_once_and_told() {
    let setup = setup().await;
    let bot = setup.start_with(Duration::ZERO, HOLD).await;
    let alice = setup.sim.person("alice");
    let outcome = alice
        .slash(
            "/c1",
            "request aws-prod readonly 2h incident 4711",
            "general",
        )
        .await;
    assert!(outcome.acked);
    let bot = revived(&setup, bot).await;
    let bob = setup.sim.person("bob");
    dm_containing(&bob, "incident 4711").await;
    assert_eq!(settled_count(&bob, "incident 4711").await, 1, "one card");
    eventually(WAIT, "alice is told it was submitted", || async {
        alice
            .ephemerals()
            .iter()
            .any(|m| m.visible_text().contains("Submitted"))
    })
    .await;
    assert_eq!(bot.gauge("c1bot_requests{state=\"pending\"}").await, 1.0);
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn a_dm_message_acked_then_killed_is_answered_once() {
    let setup = setup().await;
    let bot = setup.start_with(Duration::ZERO, HOLD).await;
    let alice = setup.sim.person("alice");
    let sent = alice
        .send_dm("request aws-prod readonly for 2h because incident 4711")
        .await;
    assert!(sent.ack(WAIT).await.is_some(), "acked");
    let bot = revived(&setup, bot).await;
    // alice's own message says "incident 4711" too: wait for the bot's summary.
    alice
        .wait_for_message(WAIT, |m| {
            m.visible_text().contains("incident 4711") && m.buttons().contains(&"Submit".into())
        })
        .await
        .expect("a summary with Submit");
    assert_eq!(
        settled_count(&alice, "incident 4711").await,
        1,
        "one summary"
    );
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn submissions_decided_before_their_ack_survive_a_kill_right_after_it() {
    let setup = setup().await;
    let bot = setup.start(Duration::ZERO).await;
    let alice = setup.sim.person("alice");
    fill_request(&alice, "AWS production", "ReadOnly", "4 h", "incident 4711").await;
    assert!(matches!(alice.submit().await, Ok(SubmitOutcome::Closed)));
    let bot = revived(&setup, bot).await;
    let bob = setup.sim.person("bob");
    dm_containing(&bob, "incident 4711").await;
    assert_eq!(settled_count(&bob, "incident 4711").await, 1, "one card");

    // Deny with a reason: a modal submission, decided before its ack.
    bob.click("Deny").await.expect("deny opens its modal");
    bob.wait_for_modal(WAIT).await.expect("the reason modal");
    bob.fill("Reason", "not during the freeze")
        .await
        .expect("reason");
    assert!(matches!(bob.submit().await, Ok(SubmitOutcome::Closed)));
    let bot = revived(&setup, bot).await;
    dm_containing(&alice, "not during the freeze").await;
    // Her request's card (edited to the decision) and one decision message.
    assert_eq!(settled_count(&alice, "").await, 2, "nothing posted twice");
    assert_eq!(bot.gauge("c1bot_requests{state=\"denied\"}").await, 1.0);
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn cant_complete_and_extend_submitted_then_killed_take_effect_once() {
    let setup = setup().await;
    let bot = setup.start(Duration::ZERO).await;
    approve(&setup.sim).await;
    let (alice, carol) = (setup.sim.person("alice"), setup.sim.person("carol"));
    dm_containing(&carol, GRANT_TASK).await;
    carol
        .click("Can't complete")
        .await
        .expect("opens its modal");
    carol.wait_for_modal(WAIT).await.expect("the reason modal");
    carol
        .fill("Reason", "no such account")
        .await
        .expect("reason");
    assert!(matches!(carol.submit().await, Ok(SubmitOutcome::Closed)));
    let bot = revived(&setup, bot).await;
    dm_containing(&alice, "no such account").await;
    assert_eq!(settled_count(&alice, "no such account").await, 1);

    // A second request, granted, nearly over: Extend, submitted then killed.
    ask(&setup.sim).await;
    let bob = setup.sim.person("bob");
    eventually(WAIT, "bob's second card", || async {
        count(&bob, "incident 4711") == 2
    })
    .await;
    setup
        .sim
        .person("bob")
        .click("Approve")
        .await
        .expect("approves");
    eventually(WAIT, "the second grant task", || async {
        count(&carol, GRANT_TASK) == 2
    })
    .await;
    carol.click("Mark complete").await.expect("carol completes");
    dm_containing(&alice, "Your access is active").await;
    let bot = revived_later(&setup, bot, Duration::from_secs(4 * 3600 - 10 * 60)).await;
    dm_containing(&alice, "Your *ReadOnly* on *AWS production* ends").await;
    alice.click("Extend").await.expect("opens its modal");
    alice.wait_for_modal(WAIT).await.expect("the extend modal");
    alice.fill("Extra time", "2 h").await.expect("duration");
    alice
        .fill("Justification", "incident still open")
        .await
        .expect("why");
    assert!(matches!(alice.submit().await, Ok(SubmitOutcome::Closed)));
    let bot = revived_later(&setup, bot, Duration::from_secs(4 * 3600 - 10 * 60)).await;
    dm_containing(&bob, "incident still open").await;
    assert_eq!(
        settled_count(&bob, "incident still open").await,
        1,
        "one extension card"
    );
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

/// Like [`revived`], with the clock `offset` ahead.
async fn revived_later(setup: &Setup, bot: Bot, offset: Duration) -> Bot {
    bot.kill_9().await;
    setup.start(offset).await
}

#[tokio::test]
async fn a_campaign_revoke_acked_then_killed_is_recorded_once() {
    let setup = setup().await;
    let bot = setup.start(Duration::ZERO).await;
    active(&setup.sim).await;
    let (bob, carol, frank) = (
        setup.sim.person("bob"),
        setup.sim.person("carol"),
        setup.sim.person("frank"),
    );
    crate::campaigns::create(&bob, "Q4 production").await;
    let card = dm_containing(&bob, "Access review CMP-1").await;
    bob.click_in(&card.channel, &card.ts, "Start")
        .await
        .expect("bob starts it");
    let page = dm_containing(&frank, "Does each person still need this access?").await;

    let bot = held(&setup, bot).await;
    frank
        .click_in(&page.channel, &page.ts, "Revoke")
        .await
        .expect("acked");
    let bot = revived(&setup, bot).await;
    let revoke = "Revoke *ReadOnly* on *AWS production*";
    dm_containing(&carol, revoke).await;
    dm_containing(&bob, "1 of 1 reviewed").await;
    assert_eq!(settled_count(&carol, revoke).await, 1, "one revoke task");
    assert_eq!(
        bot.gauge("c1bot_grants{state=\"deprovisioning\"}").await,
        1.0
    );
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn an_existing_channel_acked_then_killed_is_attached_once_after_restart() {
    let setup = setup().await;
    let bot = setup.start_with(Duration::ZERO, HOLD).await;
    let bob = setup.sim.person("bob");
    assert!(matches!(
        crate::campaigns::create(&bob, "Q4").await,
        SubmitOutcome::Closed
    ));
    dm_containing(&bob, "Access review CMP-1").await;
    // The modal closes once the submission is journaled; nothing is looked up yet.
    assert!(matches!(
        crate::campaign_channels::add_channel(&bob, "Use an existing channel", "#security", "")
            .await,
        SubmitOutcome::Closed
    ));
    let joined = |sim: &c1bot::simulator::Simulator| {
        sim.workspace()
            .channel("security")
            .is_some_and(|c| c.members.contains("U0C1BOT001"))
    };
    assert!(!joined(&setup.sim), "held after the ack");
    let bot = revived(&setup, bot).await;
    dm_containing(&bob, "is attached").await;
    assert!(joined(&setup.sim));
    assert_eq!(settled_count(&bob, "is attached").await, 1, "told once");
    assert_eq!(
        setup
            .sim
            .messages_in("security")
            .iter()
            .filter(|m| m.visible_text().contains("Access review CMP-1"))
            .count(),
        1,
        "one status message"
    );
    bot.kill_9().await;
    setup.sim.shutdown().await;
}
