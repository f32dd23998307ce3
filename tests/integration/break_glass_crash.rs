//! Break-glass with a real `c1bot run` process killed with `kill -9` right after
//! each ack: the confirmation (decided before its ack) took the access once and
//! everyone is told once; a *Looks right* (journaled before its ack) is recorded
//! once after the restart.

use std::time::Duration;

use c1bot::simulator::SubmitOutcome;

use crate::child::setup;
use crate::crash::count;
use crate::helpers::eventually;
use crate::requests::{dm_containing, fill_request, WAIT};

const HOLD: &[(&str, &str)] = &[("C1BOT_FAULTS", "hold-after-ack=600")];
const REVIEW: &str = "Emergency access to review";

#[tokio::test]
async fn an_emergency_confirmed_then_killed_is_taken_once_and_its_review_survives_a_kill_too() {
    let setup = setup().await;
    let bot = setup.start(Duration::ZERO).await;
    let alice = setup.sim.person("alice");
    fill_request(&alice, "AWS production", "Admin", "4 h", "database down").await;
    eventually(WAIT, "the Emergency choice appears", || async {
        alice
            .modal()
            .is_some_and(|m| m.to_string().contains("\"emergency\""))
    })
    .await;
    alice
        .fill("Emergency", "Break glass: grant it now without approval")
        .await
        .expect("ticked");
    assert!(matches!(
        alice.submit().await.expect("the confirm step"),
        SubmitOutcome::Updated(_)
    ));
    assert!(matches!(
        alice.submit().await.expect("granted"),
        SubmitOutcome::Closed
    ));
    bot.kill_9().await;

    let bot = setup.start_with(Duration::ZERO, HOLD).await;
    let (bob, carol) = (setup.sim.person("bob"), setup.sim.person("carol"));
    dm_containing(&alice, "Emergency access granted").await;
    dm_containing(&bob, REVIEW).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&bob, REVIEW), 1, "one review task");
    assert_eq!(count(&alice, "Emergency access granted"), 1);

    // Looks right, acked and journaled, then killed before it is decided.
    bob.click("Looks right").await.expect("acked");
    bot.kill_9().await;
    assert_eq!(
        bob.dms()
            .iter()
            .filter(|m| m.buttons().contains(&"Looks right".to_owned()))
            .count(),
        1,
        "nothing was decided before the kill"
    );
    let bot = setup.start(Duration::ZERO).await;
    eventually(
        WAIT,
        "every reviewer's task closes after the restart",
        || async {
            [&bob, &carol].iter().all(|p| {
                p.dms()
                    .iter()
                    .any(|m| m.visible_text().contains("Reviewed: found it right"))
                    && !p
                        .dms()
                        .iter()
                        .any(|m| m.buttons().contains(&"Looks right".to_owned()))
            })
        },
    )
    .await;
    assert_eq!(bot.gauge("c1bot_intake_pending").await, 0.0);
    bot.kill_9().await;
    setup.sim.shutdown().await;
}
