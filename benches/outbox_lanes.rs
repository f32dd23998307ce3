//! Outbox lanes benchmark (issue 13): BENCH_QUEUED tasks (default 10,000) queued to
//! one assignee (carol, whose DM Slack lets c1bot post to about once a second)
//! while other people's approval cards keep arriving, through a real `c1bot run`
//! process with the example catalog and the shipped policies.
//!
//! The queue is committed through the public store API before c1bot starts, as
//! grant tasks would be (each an outbox post to carol with a Mark complete button).
//! Then alice submits BENCH_SUBMITS requests (default 60), one every 1.1 s (bob's and
//! frank's DMs are paced at one message a second too, and this measures queueing
//! behind carol, not pacing of their own). Each request's card goes to bob and frank.
//!
//! Reports card latency p50/p99/max to the simulator receiving the card's
//! `chat.postMessage`: from the commit (alice's modal closed; the request and its
//! cards are committed and flushed before it closes, so a card that arrives before
//! the close counts as 0), and from the moment she submitted (which adds the
//! submission's own handling and fsync: an upper bound). Also how many of carol's
//! tasks went out meanwhile, start-up with the queue, RSS.
//!
//! `cargo bench --bench outbox_lanes` (env BENCH_QUEUED, BENCH_SUBMITS).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use c1bot::simulator::{SimOptions, Simulator, SubmitOutcome, Workspace};
use c1bot::store::{Change, OutboxMessage, Store};
use common::{env_or, fill, rss_mib, summary, KillOnDrop};
use serde_json::json;
use tokio::time::Instant;

const CAROL: &str = "U0CAROL001";
const APPROVERS: [&str; 2] = ["U0BOB00001", "U0FRANK001"];

/// `n` task cards to carol, committed in batches as the workflow would queue them.
async fn queue_tasks(data: &std::path::Path, n: usize) -> anyhow::Result<()> {
    let store = Store::open(data)?;
    let card = json!({
        "text": "Grant ReadOnly on AWS production",
        "blocks": [{"type": "actions", "elements": [{"type": "button", "action_id": "task_done",
            "text": {"type": "plain_text", "text": "Mark complete"}, "value": "REQ-1"}]}],
    });
    for batch in 0..n.div_ceil(500) {
        let mut change = Change::new();
        for i in batch * 500..((batch + 1) * 500).min(n) {
            let key = format!("REQ-{}/task-grant/{CAROL}", 100_000 + i);
            change = change.outbox(OutboxMessage::post(CAROL, &card, key));
        }
        store.commit(change).await?;
    }
    Ok(())
}

/// When the simulator received the card about `why` for `approver`.
async fn card_at(sim: &Simulator, approver: &str, why: &str) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = sim
            .calls_to("chat.postMessage")
            .into_iter()
            .find(|c| c.args["channel"] == approver && c.args.to_string().contains(why));
        if let Some(call) = found {
            return Ok(call.at);
        }
        anyhow::ensure!(Instant::now() < deadline, "{approver}'s card never came");
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let queued = env_or("BENCH_QUEUED", 10_000);
    let submits = env_or("BENCH_SUBMITS", 60);
    let root = env!("CARGO_MANIFEST_DIR");

    let sim = Simulator::start(Workspace::demo(), SimOptions::default()).await?;
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    queue_tasks(&data, queued).await?;
    let config = dir.path().join("c1bot.toml");
    std::fs::write(
        &config,
        format!(
            "catalog_file = \"{root}/catalog.example.toml\"\npolicies_dir = \"{root}/policies\"\nblocks_dir = \"{root}/blocks\"\n"
        ),
    )?;
    let spawned = Instant::now();
    let child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_c1bot"))
            .args(["run", "--config"])
            .arg(&config)
            .env_clear()
            .env("SLACK_APP_TOKEN", sim.app_token())
            .env("SLACK_BOT_TOKEN", sim.bot_token())
            .env("SLACK_API_URL", sim.api_url())
            .env("C1BOT_DATA_DIR", &data)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?,
    );
    sim.wait_for_connections(2, Duration::from_secs(60)).await?;
    let startup = spawned.elapsed();
    let carol_before = sim.person("carol").dms().len();

    let alice = sim.person("alice");
    let mut latency = Vec::new();
    let mut from_commit = Vec::new();
    let started = Instant::now();
    for i in 0..submits {
        let why = format!("bench lane {i}");
        fill(&alice, &why).await?;
        let sent = Instant::now();
        anyhow::ensure!(
            matches!(alice.submit().await?, SubmitOutcome::Closed),
            "submission refused"
        );
        // The modal closed: the request and its cards are committed (and flushed).
        let committed = Instant::now();
        for approver in APPROVERS {
            let at = card_at(&sim, approver, &why).await?;
            latency.push(at.duration_since(sent));
            from_commit.push(at.saturating_duration_since(committed));
        }
        tokio::time::sleep(Duration::from_millis(1100).saturating_sub(sent.elapsed())).await;
    }
    let elapsed = started.elapsed();
    if std::env::var("BENCH_VERBOSE").is_ok() {
        let ms: Vec<u128> = latency.iter().map(Duration::as_millis).collect();
        println!("  every card (ms, bob/frank per request): {ms:?}");
    }
    let carol_sent = sim.person("carol").dms().len();
    let rss = rss_mib(child.0.id());

    println!(
        "outbox_lanes: {queued} tasks queued to carol, {submits} requests carded to bob and frank"
    );
    println!(
        "  start-up with the queue:      {:.2} s (spawn -> Socket Mode connected)",
        startup.as_secs_f64()
    );
    println!("  commit -> approver card:      {}", summary(from_commit));
    println!("  submission -> approver card:  {}", summary(latency));
    println!(
        "  carol's tasks delivered:      {} during the {:.0} s run ({} before it), {} still queued",
        carol_sent - carol_before,
        elapsed.as_secs_f64(),
        carol_before,
        queued - carol_sent
    );
    println!("  RSS with the queue:           {rss:.1} MiB");
    println!(
        "  person-visible errors:        {}",
        sim.person_errors().len()
    );
    drop(child);
    sim.shutdown().await;
    Ok(())
}
