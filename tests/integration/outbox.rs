//! Delivery that survives the worst moments: a `kill -9` after Slack accepted an
//! approval card but before c1bot recorded it, an unreadable row planted in the
//! outbox, and one person's conversation failing with thousands queued to it while
//! everyone else's cards still arrive.

use std::time::Duration;

use c1bot::simulator::Person;
use c1bot::store::{Change, OutboxMessage};

use crate::child::setup;
use crate::crash::count;
use crate::helpers::{eventually, spawn_app};
use crate::requests::{dm_containing, fill_request, WAIT};

const BOB: &str = "U0BOB00001";
const CAROL: &str = "U0CAROL001";
const REASON: &str = "incident 4711";

/// Every message in `person`'s DM about the request, with whether it still has buttons.
fn copies(person: &Person) -> Vec<(String, bool)> {
    person
        .dms()
        .into_iter()
        .filter(|m| m.visible_text().contains(REASON))
        .map(|m| (m.ts.clone(), !m.buttons().is_empty()))
        .collect()
}

#[tokio::test]
async fn killed_after_slack_took_the_card_bob_sees_one_card_and_none_stays_live_after_he_approves()
{
    let setup = setup().await;
    let sim = &setup.sim;
    let bot = setup.start(Duration::ZERO).await;
    // Slack posts bob's card, and c1bot never hears back: it dies waiting.
    sim.faults()
        .accept_and_hang("chat.postMessage", Some(BOB), 1);
    let (alice, bob) = (sim.person("alice"), sim.person("bob"));
    fill_request(&alice, "AWS production", "ReadOnly", "4 h", REASON).await;
    alice.submit().await.expect("submitted");
    dm_containing(&bob, REASON).await;
    bot.kill_9().await;

    sim.faults().clear();
    let bot = setup.start(Duration::ZERO).await;
    eventually(
        WAIT,
        "the outbox is delivered after the restart",
        || async { bot.gauge("c1bot_outbox_depth").await == 0.0 },
    )
    .await;
    assert_eq!(count(&bob, REASON), 1, "one card: {:?}", copies(&bob));
    assert!(
        !sim.calls_to("conversations.history").is_empty(),
        "c1bot looked in bob's DM before posting again"
    );

    bob.click("Approve").await.expect("bob approves");
    dm_containing(&alice, "Approved").await;
    eventually(WAIT, "bob's card is closed", || async {
        copies(&bob).iter().all(|(_, live)| !live)
    })
    .await;
    assert_eq!(copies(&bob).len(), 1, "{:?}", copies(&bob));
    bot.kill_9().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn unreadable_rows_planted_in_the_outbox_are_quarantined_and_everything_else_delivered() {
    let setup = setup().await;
    let sim = &setup.sim;
    let bot = setup.start(Duration::ZERO).await;
    let (alice, bob, carol) = (sim.person("alice"), sim.person("bob"), sim.person("carol"));
    fill_request(&alice, "AWS production", "ReadOnly", "4 h", REASON).await;
    alice.submit().await.expect("submitted");
    dm_containing(&bob, REASON).await;
    // Slack refuses every new message: the approval's messages wait in the outbox.
    sim.faults().http_error("chat.postMessage", 503, 100_000);
    bob.click("Approve").await.expect("bob approves");
    eventually(WAIT, "the approval is committed", || async {
        bot.gauge("c1bot_outbox_depth").await > 0.0
    })
    .await;
    bot.kill_9().await;

    {
        let db = sled::open(setup.data.path()).expect("the data directory opens");
        let outbox = db.open_tree("outbox").expect("the outbox tree");
        outbox
            .insert(0u64.to_be_bytes(), &b"garbage before"[..])
            .expect("planted before");
        outbox
            .insert(1_000_000u64.to_be_bytes(), &b"{\"v\":1,\"data\":{}}"[..])
            .expect("planted after");
        db.flush().expect("flushed");
    }

    sim.faults().clear();
    let bot = setup.start(Duration::ZERO).await;
    dm_containing(&carol, "Grant *ReadOnly* on *AWS production*").await;
    dm_containing(&alice, "Approved").await;
    eventually(WAIT, "the rows are counted", || async {
        bot.gauge("c1bot_quarantined_rows{table=\"outbox\"}").await == 2.0
    })
    .await;
    // Later commits are delivered too.
    carol.click("Mark complete").await.expect("carol completes");
    dm_containing(&alice, "Your access is active").await;
    eventually(WAIT, "the outbox empties", || async {
        bot.gauge("c1bot_outbox_depth").await == 0.0
    })
    .await;
    bot.kill_9().await;
    sim.shutdown().await;
}

#[tokio::test]
async fn a_failing_conversation_with_thousands_queued_does_not_delay_another_persons_card() {
    let app = spawn_app().await;
    let sim = app.sim.clone();
    let store = app.bot.as_ref().expect("running").store.clone();
    // carol's DM answers 503, and 2,000 tasks are queued to her.
    sim.faults()
        .http_error_to("chat.postMessage", CAROL, 503, 1_000_000);
    let mut change = Change::new();
    for i in 0..2_000 {
        change = change.outbox(OutboxMessage::text(CAROL, &format!("task {i}")));
    }
    store.commit(change).await.expect("queued");
    eventually(WAIT, "carol's conversation is failing", || async {
        sim.calls_to("chat.postMessage")
            .iter()
            .any(|c| c.http_status == 503)
    })
    .await;

    let (alice, bob) = (sim.person("alice"), sim.person("bob"));
    fill_request(&alice, "AWS production", "ReadOnly", "4 h", REASON).await;
    alice.submit().await.expect("submitted");
    dm_containing(&bob, REASON).await;
    assert!(sim.person("carol").dms().is_empty());
    assert_eq!(store.outbox_queued_to(CAROL), 2_000);
    app.stop().await;
}
