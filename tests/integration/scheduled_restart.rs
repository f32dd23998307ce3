//! Scheduled access across `kill -9`: a real `c1bot run` process, killed after the
//! approval and again before the window, restarted on the same data directory with
//! its clock moved on. The start timer is durable: provisioning starts at the
//! window, not before, exactly once, and the access still ends at start + duration.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::child::setup;
use crate::crash::{count, GRANT_TASK};
use crate::helpers::eventually;
use crate::requests::{dm_containing, WAIT};
use crate::scheduled::{active_until, ask_from, later};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn killed_after_approval_the_window_still_holds_after_restart() {
    let setup = setup().await;
    let bot = setup.start(Duration::ZERO).await;
    let (alice, bob, carol, frank) = (
        setup.sim.person("alice"),
        setup.sim.person("bob"),
        setup.sim.person("carol"),
        setup.sim.person("frank"),
    );
    let now = DateTime::from_timestamp(Utc::now().timestamp(), 0).expect("a time");
    // A sentinel whose window opens an hour earlier: the dev sandbox, approved by policy.
    ask_from(
        &alice,
        "Dev sandbox",
        "ReadOnly",
        "tidy-up",
        later(now, HOUR),
    )
    .await;
    let start = later(now, 2 * HOUR);
    ask_from(
        &alice,
        "AWS production",
        "ReadOnly",
        "maintenance window",
        start,
    )
    .await;
    dm_containing(&bob, "maintenance window").await;
    bob.click("Approve").await.expect("bob approves");
    alice
        .wait_for_message(WAIT, |m| {
            let text = m.visible_text();
            text.contains("REQ-1002") && text.contains("Scheduled: your access is set up at")
        })
        .await
        .expect("alice is told her access is scheduled");
    bot.kill_9().await;

    // Back an hour later: the sentinel's window opened while c1bot was down; this
    // request's has not, and provisioning of it has not started.
    let bot = setup.start(HOUR + Duration::from_secs(60)).await;
    dm_containing(&frank, "Grant *ReadOnly* on *Dev sandbox*").await;
    assert_eq!(bot.gauge("c1bot_grants{state=\"provisioning\"}").await, 1.0);
    assert_eq!(count(&carol, GRANT_TASK), 0, "no task before the window");
    bot.kill_9().await;

    // Back after the window opened: the task comes once, and the access ends at
    // start + 4 h although it is granted later.
    let bot = setup.start(2 * HOUR + Duration::from_secs(60)).await;
    dm_containing(&carol, GRANT_TASK).await;
    eventually(WAIT, "both grants are provisioning", || async {
        bot.gauge("c1bot_grants{state=\"provisioning\"}").await == 2.0
    })
    .await;
    assert_eq!(count(&carol, GRANT_TASK), 1);
    carol.click("Mark complete").await.expect("carol completes");
    active_until(&alice, later(start, 4 * HOUR), "ends at start + 4 h").await;
    bot.kill_9().await;
}
