//! SIGTERM during a burst: every envelope c1bot received is acked, and it exits 0.

use std::time::Duration;

use c1bot::simulator::{SimOptions, Simulator, Workspace};

#[tokio::test]
async fn sigterm_during_a_burst_acks_everything_received_and_exits_zero() {
    let sim = Simulator::start(Workspace::demo(), SimOptions::default())
        .await
        .expect("simulator");
    let data = tempfile::tempdir().expect("temp dir");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .arg("run")
        .env_clear()
        .env("SLACK_APP_TOKEN", sim.app_token())
        .env("SLACK_BOT_TOKEN", sim.bot_token())
        .env("SLACK_API_URL", sim.api_url())
        .env("C1BOT_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .expect("c1bot starts");
    sim.wait_for_connections(2, Duration::from_secs(20))
        .await
        .expect("connected");

    let mut burst = tokio::task::JoinSet::new();
    for i in 0..300u32 {
        let person = sim.person(["alice", "bob", "carol"][i as usize % 3]);
        burst.spawn(async move { person.slash("/c1", "help", "general").await.acked });
        if i == 150 {
            let pid = child.id().expect("running").to_string();
            let killed = tokio::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .await
                .expect("kill runs");
            assert!(killed.success());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("c1bot exits within a bounded time")
        .expect("exit status");
    assert!(
        status.success(),
        "c1bot must exit 0 on SIGTERM, got {status}"
    );
    let mut acked = 0;
    while let Some(done) = burst.join_next().await {
        acked += usize::from(done.expect("task"));
    }
    // Envelopes Slack could not deliver at all (every link already closed) fail for
    // the person in any case; everything c1bot received must have been acked.
    let lost: Vec<_> = sim
        .person_errors()
        .into_iter()
        .filter(|e| !e.message.contains("no open Socket Mode connection"))
        .collect();
    assert!(lost.is_empty(), "received but never acked: {lost:?}");
    assert!(
        acked >= 150,
        "the envelopes before SIGTERM were answered ({acked})"
    );
    sim.shutdown().await;
}
