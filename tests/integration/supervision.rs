//! Loops that die or meet damaged rows: the timer loop restarts after a panic while
//! `/readyz` says so; an undecodable timer is quarantined and the rest still fire; a
//! timer of an unknown kind is kept and tried again.

use std::time::Duration;

use crate::child::setup;
use crate::crash::{active, approve, count, GRANT_TASK};
use crate::helpers::eventually;
use crate::requests::{dm_containing, WAIT};

#[tokio::test]
async fn a_panicking_timer_loop_is_restarted_and_readyz_reports_it_meanwhile() {
    let setup = setup().await;
    let bot = setup
        .start_live(Duration::ZERO, &[("C1BOT_FAULTS", "timer-loop-panic=3")])
        .await;
    eventually(WAIT, "/readyz names the dead timer loop", || async {
        let (status, body) = bot.ready().await;
        status == 503 && body.contains("timer loop died")
    })
    .await;
    // Three panics, backoff 1 + 2 + 4 s: then the loop runs and beats.
    eventually(
        Duration::from_secs(20),
        "ready again after the restarts",
        || async { bot.ready().await.0 == 200 },
    )
    .await;
    assert_eq!(
        bot.gauge("c1bot_loop_restarts_total{loop=\"timer\"}").await,
        3.0
    );
    assert_eq!(bot.gauge("c1bot_loop_up{loop=\"timer\"}").await, 1.0);
    // And it does its work: an approved request's timers and messages still flow.
    approve(&setup.sim).await;
    dm_containing(&setup.sim.person("carol"), GRANT_TASK).await;
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn an_undecodable_timer_is_quarantined_and_every_other_timer_still_fires() {
    let setup = setup().await;
    let bot = setup.start(Duration::ZERO).await;
    active(&setup.sim).await;
    let carol = setup.sim.person("carol");
    bot.kill_9().await;

    // Damage: a row in the timer index that is not a timer, due before the expiry.
    {
        let db = sled::open(setup.data.path()).expect("the stopped bot's data");
        let timers = db.open_tree("timers").expect("timers");
        let mut key = 1_000u64.to_be_bytes().to_vec();
        key.extend_from_slice(b"REQ-9999\0grant-expire");
        timers.insert(key, &b"{not a timer"[..]).expect("planted");
        db.flush().expect("flushed");
    }
    // Five hours on: the expiry fires despite the damaged row before it.
    let bot = setup.start(Duration::from_secs(5 * 3600)).await;
    eventually(WAIT, "the expiry's revoke task", || async {
        count(&carol, "from <@U0ALICE001>: expired") == 1
    })
    .await;
    eventually(WAIT, "the row is counted as quarantined", || async {
        bot.gauge("c1bot_quarantined_rows{table=\"timers\"}").await == 1.0
    })
    .await;
    assert_eq!(bot.ready().await.0, 200, "a damaged row is not a dead loop");
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

/// A timer of a kind this release does not know (a newer release sharing the
/// database wrote it) is kept, moved forward and counted, never dropped.
#[tokio::test]
async fn a_timer_of_an_unknown_kind_is_kept_and_tried_again() {
    let app = crate::grants::app_with(|_| {}).await;
    let bot = app.bot.as_ref().expect("running");
    let now = bot.clock.now();
    let timer = c1bot::store::TimerEntry::new("from-a-newer-release", "REQ-1");
    bot.store
        .commit(c1bot::store::Change::new().timer(now, timer))
        .await
        .expect("scheduled");
    eventually(WAIT, "the failure is counted", || async {
        bot.metrics
            .render()
            .await
            .contains("c1bot_timer_failures_total{kind=\"from-a-newer-release\"} 1")
    })
    .await;
    let later = bot
        .store
        .due_timers_limit(now + chrono::Duration::hours(1), 10)
        .await
        .expect("read the timers");
    assert!(
        later
            .timers
            .iter()
            .any(|(at, e)| e.kind == "from-a-newer-release" && e.failures == 1 && *at > now),
        "{:?}",
        later.timers
    );
    app.stop().await;
}
