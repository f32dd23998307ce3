//! Expiries are prepared a few seconds before they are due and committed at their
//! due time: never before it, and never over something a person did in between.

use std::time::Duration;

use crate::grants::{active_grant, advance, app_with, audit_entries_of};
use crate::helpers::{eventually, TestApp};
use crate::requests::{dm_containing, WAIT};

/// The grant in `active_grant` lasts 4 h from carol's *Mark complete*.
const FOUR_HOURS: Duration = Duration::from_secs(4 * 3600);

async fn prepared_ahead(app: &TestApp) -> f64 {
    let metrics = &app.bot.as_ref().expect("running").metrics;
    metrics.value("c1bot_expiries_prepared_ahead", &[])
}

async fn expired_entries(app: &TestApp) -> Vec<serde_json::Value> {
    audit_entries_of(app, "grant.expired").await
}

fn time(entry: &serde_json::Value, field: &str) -> chrono::DateTime<chrono::Utc> {
    serde_json::from_value(entry["detail"][field].clone()).expect("a time in the detail")
}

#[tokio::test]
async fn an_expiry_prepared_ahead_commits_at_its_due_time_and_says_when() {
    let app = app_with(|_| {}).await;
    active_grant(&app).await;
    // Two seconds before the end: close enough to be prepared, not yet due.
    advance(&app, FOUR_HOURS - Duration::from_secs(2));
    eventually(WAIT, "the expiry is prepared ahead", || async {
        prepared_ahead(&app).await == 1.0
    })
    .await;

    let carol = app.sim.person("carol");
    let revoke = dm_containing(&carol, "from <@U0ALICE001>: expired").await;
    assert_eq!(revoke.buttons(), ["Mark complete", "Can't complete"]);
    let expired = expired_entries(&app).await;
    assert_eq!(expired.len(), 1, "{expired:?}");
    let (due, fired) = (time(&expired[0], "due"), time(&expired[0], "fired"));
    assert!(
        fired >= due,
        "committed at {fired}, before it was due at {due}"
    );
    assert_eq!(
        expired[0]["detail"]["late_ms"],
        (fired - due).num_milliseconds(),
        "lateness is measured to the commit, not to the preparation"
    );
    eventually(WAIT, "nothing waits prepared any more", || async {
        prepared_ahead(&app).await == 0.0
    })
    .await;
    app.stop().await;
}

#[tokio::test]
async fn im_done_just_before_a_prepared_expiry_wins_and_the_expiry_does_not_fire() {
    let app = app_with(|_| {}).await;
    active_grant(&app).await;
    advance(&app, FOUR_HOURS - Duration::from_secs(10 * 60));
    let alice = app.sim.person("alice");
    let reminder = dm_containing(&alice, "ends").await;
    assert_eq!(reminder.buttons(), ["Extend", "I'm done"]);
    advance(&app, Duration::from_secs(10 * 60 - 2));
    eventually(WAIT, "the expiry is prepared ahead", || async {
        prepared_ahead(&app).await == 1.0
    })
    .await;

    alice.click("I'm done").await.expect("alice is done");
    let carol = app.sim.person("carol");
    dm_containing(&carol, "no longer needed").await;
    // Past the due time, the prepared expiry found the request moved on.
    eventually(WAIT, "the prepared expiry is dropped", || async {
        prepared_ahead(&app).await == 0.0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        expired_entries(&app).await.is_empty(),
        "no expiry after I'm done"
    );
    let revoke_tasks = carol
        .dms()
        .iter()
        .filter(|m| m.visible_text().contains("from <@U0ALICE001>"))
        .count();
    assert_eq!(revoke_tasks, 1, "one revoke task: {:#?}", carol.dms());
    app.stop().await;
}

#[tokio::test]
async fn an_expiry_that_cannot_be_prepared_ahead_still_expires_at_its_due_time() {
    let app = app_with(|config| config.faults.prepare_ahead_failures = 1).await;
    active_grant(&app).await;
    advance(&app, FOUR_HOURS - Duration::from_secs(2));
    let metrics = &app.bot.as_ref().expect("running").metrics;
    eventually(WAIT, "preparing the expiry ahead failed", || async {
        metrics.value("c1bot_expiries_prepare_ahead_failed_total", &[]) == 1.0
    })
    .await;
    // Tried again at a later pass (ahead, or when due): never early, never dropped.
    assert!(expired_entries(&app).await.is_empty(), "not expired early");

    advance(&app, Duration::from_secs(2));
    let carol = app.sim.person("carol");
    dm_containing(&carol, "from <@U0ALICE001>: expired").await;
    let expired = expired_entries(&app).await;
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert!(time(&expired[0], "fired") >= time(&expired[0], "due"));
    app.stop().await;
}
