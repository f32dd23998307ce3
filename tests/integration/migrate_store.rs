//! `c1bot migrate-store`: a sled data directory written by a real `c1bot run` (an
//! active grant with its expiry timer, a pending request, the audit log) is copied to
//! PostgreSQL, then c1bot runs on PostgreSQL: the audit log is byte for byte the same
//! and verifies, the grant expires when due, and request numbering carries on.

use std::time::Duration;

use c1bot::store::postgres::cluster;
use c1bot::store::Store;

use crate::child::setup;
use crate::crash::{active, REVOKE_TASK};
use crate::requests::{dm_containing, fill_request};

async fn export(store: &Store) -> String {
    let mut out = Vec::new();
    store.export_audit(&mut out).await.expect("export");
    String::from_utf8(out).expect("utf8")
}

#[tokio::test]
async fn a_sled_install_moves_to_postgres_with_everything_intact() {
    let Some(cluster) = cluster::for_test() else {
        return;
    };
    let url = cluster.database().await.expect("a test database");
    let setup = setup().await;
    let bot = setup.start(Duration::ZERO).await;
    active(&setup.sim).await;
    let alice = setup.sim.person("alice");
    fill_request(&alice, "AWS production", "ReadOnly", "1 h", "still pending").await;
    alice.submit().await.expect("submitted");
    dm_containing(&setup.sim.person("bob"), "still pending").await;
    bot.kill_9().await;

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .arg("migrate-store")
        .arg("--from")
        .arg(setup.data.path())
        .arg("--to")
        .arg(&url)
        .env_clear()
        .output()
        .expect("migrate-store runs");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(said.contains("chain verified"), "{said}");

    let (sled_audit, sled_timers) = {
        let sled = Store::open(setup.data.path()).expect("sled opens");
        let far = chrono::Utc::now() + chrono::TimeDelta::days(365);
        (
            export(&sled).await,
            sled.due_timers(far).await.expect("timers"),
        )
    };
    let pg = Store::connect(&c1bot::config::DatabaseUrl::parse(&url).expect("url"))
        .await
        .expect("connects");
    assert_eq!(
        export(&pg).await,
        sled_audit,
        "the audit log, byte for byte"
    );
    let far = chrono::Utc::now() + chrono::TimeDelta::days(365);
    assert_eq!(pg.due_timers(far).await.expect("timers"), sled_timers);
    assert!(!sled_timers.is_empty());
    let again = std::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .args(["migrate-store", "--from"])
        .arg(setup.data.path())
        .arg("--to")
        .arg(&url)
        .env_clear()
        .output()
        .expect("runs");
    assert!(!again.status.success(), "a database with data is refused");
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .arg("--config")
        .arg(&setup.config)
        .args(["audit", "verify"])
        .env_clear()
        .env("C1BOT_DATABASE_URL", &url)
        .output()
        .expect("audit verify runs");
    let said = String::from_utf8_lossy(&verify.stdout);
    assert!(
        verify.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&verify.stderr)
    );
    assert!(said.contains("audit log intact"), "on PostgreSQL: {said}");

    // c1bot on PostgreSQL, five hours later: the grant expires, numbering carries on.
    let bot = setup
        .start_with(
            Duration::from_secs(5 * 3600),
            &[("C1BOT_DATABASE_URL", url.as_str())],
        )
        .await;
    dm_containing(&setup.sim.person("carol"), REVOKE_TASK).await;
    fill_request(
        &alice,
        "AWS production",
        "ReadOnly",
        "1 h",
        "after the move",
    )
    .await;
    alice.submit().await.expect("submitted");
    dm_containing(&setup.sim.person("bob"), "after the move").await;
    let status = alice.slash("/c1", "status", "general").await;
    let text = status.response.map(|r| r.to_string()).unwrap_or_default();
    assert!(
        text.contains("REQ-1003"),
        "the new request is REQ-1003: {text}"
    );
    bot.kill_9().await;
    setup.sim.shutdown().await;
}
