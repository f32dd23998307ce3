//! c1bot on PostgreSQL, as real `c1bot run` processes against the simulator and one
//! database: one process serves a request end to end; with two, only the lease
//! holder serves, a `kill -9` of it hands over to the standby within 10 s (a pending
//! expiry still fires, a slash command works), and a leader paused past its lease
//! (`SIGSTOP`) with an acked click still to decide is fenced when it wakes
//! (`SIGCONT`): the new leader decides the click once, and the old one steps down.
//!
//! Skipped with one printed line when PostgreSQL is not installed, unless
//! `C1BOT_TEST_POSTGRES=required`.

use std::time::{Duration, Instant};

use c1bot::store::postgres::cluster;

use crate::child::{setup, Bot, Setup};
use crate::crash::{active, ask, count, GRANT_TASK, REVOKE_TASK};
use crate::helpers::eventually;
use crate::requests::{dm_containing, WAIT};

/// The audit entries of `action` in the database at `url`.
async fn audited(url: &str, action: &str) -> Vec<serde_json::Value> {
    let url = c1bot::config::DatabaseUrl::parse(url).expect("url");
    let store = c1bot::store::Store::connect(&url).await.expect("connects");
    let mut out = Vec::new();
    store.export_audit(&mut out).await.expect("export");
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["action"] == action)
        .collect()
}

/// A fresh database's URL, or `None` (skipped).
async fn database() -> Option<String> {
    let cluster = cluster::for_test()?;
    Some(cluster.database().await.expect("a test database"))
}

async fn serving(setup: &Setup, url: &str, offset: Duration) -> Bot {
    let bot = setup
        .start_with(offset, &[("C1BOT_DATABASE_URL", url)])
        .await;
    let (status, body) = bot.ready().await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("serving"), "{body}");
    assert_eq!(bot.gauge("c1bot_leader").await, 1.0);
    bot
}

async fn standing_by(setup: &Setup, url: &str, offset: Duration) -> Bot {
    let bot = setup
        .start_live(offset, &[("C1BOT_DATABASE_URL", url)])
        .await;
    eventually(WAIT, "the second instance stands by", || async {
        let (status, body) = bot.ready().await;
        status == 503 && body.starts_with("standby")
    })
    .await;
    assert_eq!(bot.gauge("c1bot_leader").await, 0.0);
    bot
}

#[tokio::test]
async fn a_request_is_served_end_to_end_on_postgres() {
    let Some(url) = database().await else { return };
    let setup = setup().await;
    let bot = serving(&setup, &url, Duration::ZERO).await;
    active(&setup.sim).await;
    assert_eq!(bot.gauge("c1bot_grants{state=\"active\"}").await, 1.0);
    bot.kill_9().await;
    // Everything is in the database: a new process (on an empty data directory) sees it.
    let bot = serving(&setup, &url, Duration::ZERO).await;
    assert_eq!(bot.gauge("c1bot_grants{state=\"active\"}").await, 1.0);
    bot.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn after_a_kill_9_of_the_leader_the_standby_serves_within_10_s_and_expiries_fire() {
    let Some(url) = database().await else { return };
    let setup = setup().await;
    let leader = serving(&setup, &url, Duration::ZERO).await;
    active(&setup.sim).await;
    // The standby's clock is five hours ahead: alice's 4-hour grant is overdue there,
    // but a standby runs no timers.
    let later = Duration::from_secs(5 * 3600);
    let standby = standing_by(&setup, &url, later).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let carol = setup.sim.person("carol");
    assert_eq!(count(&carol, REVOKE_TASK), 0, "the standby did nothing");

    let killed = Instant::now();
    leader.kill_9().await;
    eventually(Duration::from_secs(10), "the standby serves", || async {
        standby.ready().await.0 == 200
    })
    .await;
    eprintln!(
        "failover: kill -9 to the standby's /readyz 200 in {} ms",
        killed.elapsed().as_millis()
    );
    assert_eq!(standby.gauge("c1bot_leader").await, 1.0);
    dm_containing(&carol, REVOKE_TASK).await;
    assert_eq!(
        audited(&url, "grant.expired").await.len(),
        1,
        "expired once"
    );
    let alice = setup.sim.person("alice");
    let status = alice.slash("/c1", "status", "general").await;
    assert!(status.acked, "a slash command works after the takeover");
    standby.kill_9().await;
    setup.sim.shutdown().await;
}

#[tokio::test]
async fn a_leader_paused_past_its_lease_is_fenced_and_steps_down_and_its_approval_decides_once() {
    let Some(url) = database().await else { return };
    let setup = setup().await;
    // The first leader acks a click, then holds it for 3 s before deciding.
    let env = [
        ("C1BOT_DATABASE_URL", url.as_str()),
        ("C1BOT_FAULTS", "hold-after-ack=3"),
    ];
    let first = setup.start_with(Duration::ZERO, &env).await;
    assert_eq!(first.gauge("c1bot_leader").await, 1.0);
    let second = standing_by(&setup, &url, Duration::ZERO).await;
    ask(&setup.sim).await;
    let bob = setup.sim.person("bob");
    bob.click("Approve").await.expect("the first leader acks");
    first.signal("-STOP");
    eventually(
        Duration::from_secs(15),
        "the standby takes over",
        || async { second.ready().await.0 == 200 },
    )
    .await;
    // The new leader finds the journaled click and decides it.
    let carol = setup.sim.person("carol");
    dm_containing(&carol, GRANT_TASK).await;

    // The paused leader wakes with the click still to decide: its commit is refused
    // (fenced), and it stands by.
    first.signal("-CONT");
    eventually(WAIT, "the paused leader steps down", || async {
        let (status, body) = first.ready().await;
        status == 503 && body.starts_with("standby")
    })
    .await;
    assert_eq!(first.gauge("c1bot_leader").await, 0.0);
    assert_eq!(second.gauge("c1bot_leader").await, 1.0);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(count(&carol, GRANT_TASK), 1, "decided once");
    let approvals = audited(&url, "request.approve").await;
    assert_eq!(approvals.len(), 1, "approved once: {approvals:?}");
    first.kill_9().await;
    second.kill_9().await;
    setup.sim.shutdown().await;
}
