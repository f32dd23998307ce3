//! Access reviews in App Home: an owner's campaigns with their progress, and a
//! reviewer's reviews still waiting on them.

use std::time::Duration;

use c1bot::simulator::message::blocks_visible_text;
use c1bot::simulator::{Person, SubmitOutcome};

/// What `person`'s App Home shows now, without reopening it.
pub fn home_now(person: &Person) -> String {
    person
        .home()
        .map(|view| blocks_visible_text(&view["blocks"]))
        .unwrap_or_default()
}

use crate::campaigns::{alice_has_access, create};
use crate::helpers::{eventually, spawn_app, start};
use crate::requests::{dm_containing, WAIT};

/// A name that would ping the channel and turn bold if it reached mrkdwn unescaped.
const NAME: &str = "Q4 <!channel> *bold*";
const NAME_SHOWN: &str = "Q4 &lt;!channel&gt; *bold*";

/// Opens `person`'s App Home until it shows `wanted`; returns its visible text.
/// Home is reopened every half second, because a view published before the change
/// being waited for was committed would otherwise be the last one for good.
async fn home_showing(person: &Person, wanted: &str) -> String {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        person.open_app_home().await;
        let reopen = tokio::time::Instant::now() + Duration::from_millis(500);
        while tokio::time::Instant::now() < reopen {
            let text = person
                .home()
                .map(|view| blocks_visible_text(&view["blocks"]))
                .unwrap_or_default();
            if text.contains(wanted) {
                return text;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{}'s App Home never showed {wanted:?}; it shows:\n{text}",
                person.id()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn an_owner_follows_a_review_and_a_reviewer_sees_what_is_left_in_app_home() {
    let app = spawn_app().await;
    alice_has_access(&app).await;
    let (bob, frank) = (app.sim.person("bob"), app.sim.person("frank"));
    home_showing(&bob, "_You own no access reviews._").await;

    assert!(matches!(create(&bob, NAME).await, SubmitOutcome::Closed));
    let home = home_showing(&bob, "*CMP-1*").await;
    assert!(
        home.contains(&format!(
            "*CMP-1*  {NAME_SHOWN}\nDraft  ·  0 of 0 reviewed  ·  due <!date^"
        )),
        "{home}"
    );
    assert!(!home.contains("<!channel>"), "the name is escaped: {home}");

    let card = dm_containing(&bob, "Access review CMP-1").await;
    bob.click_in(&card.channel, &card.ts, "Start")
        .await
        .expect("bob starts it");
    let page = dm_containing(&frank, "Does each person still need this access?").await;
    let home = home_showing(&bob, "Running  ·  0 of 1 reviewed").await;
    assert!(
        home.contains("_No access review is waiting for you._"),
        "bob reviews nothing: {home}"
    );

    // frank owns AWS production, so he reviews alice's access there.
    let home = home_showing(&frank, "1 item to review, due <!date^").await;
    assert!(home.contains(&format!("*CMP-1*  {NAME_SHOWN}")), "{home}");
    assert!(!home.contains("<!channel>"), "the name is escaped: {home}");
    assert!(
        home.contains("_You own no access reviews._"),
        "frank owns none: {home}"
    );

    frank
        .click_in(&page.channel, &page.ts, "Certify")
        .await
        .expect("frank certifies");
    // bob keeps his Home open: the certify republishes it, without his reopening it.
    eventually(WAIT, "bob's open App Home follows the review", || async {
        home_now(&bob).contains("Running  ·  1 of 1 reviewed")
    })
    .await;
    home_showing(&frank, "_No access review is waiting for you._").await;
    app.stop().await;
}

#[tokio::test]
async fn a_campaign_that_cannot_be_read_leaves_the_owners_other_campaigns_in_app_home() {
    let mut app = spawn_app().await;
    alice_has_access(&app).await;
    let bob = app.sim.person("bob");
    assert!(matches!(
        create(&bob, "Q1 review").await,
        SubmitOutcome::Closed
    ));
    assert!(matches!(
        create(&bob, "Q2 review").await,
        SubmitOutcome::Closed
    ));
    home_showing(&bob, "*CMP-2*").await;

    // Damage: CMP-2's stored record no longer decodes; its index rows stay.
    crate::helpers::stop_bot(&mut app).await;
    {
        let db = sled::open(&app.config.data_dir).expect("the stopped bot's data");
        let campaigns = db.open_tree("campaigns").expect("campaigns");
        assert!(
            campaigns.get("CMP-2").expect("read").is_some(),
            "CMP-2 is stored"
        );
        campaigns
            .insert("CMP-2", &b"{not a campaign"[..])
            .expect("planted");
        db.flush().expect("flushed");
    }
    let app = start(app).await;

    // The Home published before the restart still lists both: reopen until a new
    // one is published.
    eventually(
        WAIT,
        "bob's Home lists CMP-1 without the damaged CMP-2",
        || async {
            bob.open_app_home().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let home = home_now(&bob);
            home.contains("*CMP-1*  Q1 review") && !home.contains("CMP-2")
        },
    )
    .await;
    app.stop().await;
}
