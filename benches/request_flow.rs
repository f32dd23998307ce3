//! Request-flow benchmark: a real `c1bot run` process with the example catalog and
//! the shipped policies, driven by simulated people.
//!
//! Reports: slash command → `views.open` (p50/p99/max), submission → the approver's
//! DM (p50/p99/max), and durable submissions per second with concurrent requesters
//! (each submission is committed and flushed before its modal closes).
//!
//! `cargo bench --bench request_flow` (env BENCH_OPENS, default 200; BENCH_SUBMITS,
//! default 30; BENCH_CONCURRENT, default 60).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use c1bot::simulator::{SimOptions, Simulator, SubmitOutcome, Workspace};
use common::{env_or, fill, summary, KillOnDrop};
use tokio::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opens = env_or("BENCH_OPENS", 200);
    let submits = env_or("BENCH_SUBMITS", 30);
    let concurrent = env_or("BENCH_CONCURRENT", 60);
    let root = env!("CARGO_MANIFEST_DIR");

    let sim = Simulator::start(Workspace::demo(), SimOptions::default()).await?;
    let data = tempfile::tempdir()?;
    let config = data.path().join("c1bot.toml");
    std::fs::write(
        &config,
        format!(
            "catalog_file = \"{root}/catalog.example.toml\"\npolicies_dir = \"{root}/policies\"\nblocks_dir = \"{root}/blocks\"\n"
        ),
    )?;
    let child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_c1bot"))
            .args(["run", "--config"])
            .arg(&config)
            .env_clear()
            .env("SLACK_APP_TOKEN", sim.app_token())
            .env("SLACK_BOT_TOKEN", sim.bot_token())
            .env("SLACK_API_URL", sim.api_url())
            .env("C1BOT_DATA_DIR", data.path().join("data"))
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?,
    );
    sim.wait_for_connections(2, Duration::from_secs(20)).await?;

    // 1. Slash command → views.open, as Slack's trigger window sees it.
    let alice = sim.person("alice");
    let mut open_latency = Vec::new();
    for _ in 0..opens {
        let sent = Instant::now();
        let outcome = alice.slash("/c1", "request", "general").await;
        anyhow::ensure!(outcome.acked, "slash command not acked");
        let trigger = outcome.trigger_id.clone();
        let deadline = Instant::now() + Duration::from_secs(3);
        let opened = loop {
            let found = sim
                .calls_to("views.open")
                .into_iter()
                .find(|c| c.args["trigger_id"] == trigger.as_str());
            if let Some(call) = found {
                break call.at;
            }
            anyhow::ensure!(Instant::now() < deadline, "views.open never came");
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        open_latency.push(opened.duration_since(sent));
        alice.close_modal().await;
    }

    // 2. Submission → the approver's DM, one at a time (bob's DM channel is paced at
    //    about one message a second by c1bot, as Slack requires, so we go slower).
    let mut dm_latency = Vec::new();
    for i in 0..submits {
        let why = format!("bench dm {i}");
        fill(&alice, &why).await?;
        let sent = Instant::now();
        anyhow::ensure!(
            matches!(alice.submit().await?, SubmitOutcome::Closed),
            "submission refused"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let delivered = loop {
            let found = sim
                .calls_to("chat.postMessage")
                .into_iter()
                .find(|c| c.args["channel"] == "U0BOB00001" && c.args.to_string().contains(&why));
            if let Some(call) = found {
                break call.at;
            }
            anyhow::ensure!(Instant::now() < deadline, "the approver's DM never came");
            tokio::time::sleep(Duration::from_micros(500)).await;
        };
        dm_latency.push(delivered.duration_since(sent));
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }

    // 3. Durable submissions per second: several people submit at once; each
    //    submission is committed and flushed before its modal closes.
    let people = ["alice", "mallory", "carol"];
    let mut ready = Vec::new();
    for i in 0..concurrent {
        let person = sim.person(people[i % people.len()]);
        ready.push(person);
    }
    let mut submit_latency = Vec::new();
    let mut submit_wall = Duration::ZERO;
    for chunk in ready.chunks(people.len()) {
        for (i, person) in chunk.iter().enumerate() {
            fill(person, &format!("bench burst {i}")).await?;
        }
        let batch = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for person in chunk {
            let person = person.clone();
            tasks.spawn(async move {
                let t0 = Instant::now();
                let outcome = person.submit().await;
                (t0.elapsed(), matches!(outcome, Ok(SubmitOutcome::Closed)))
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (latency, ok) = done?;
            anyhow::ensure!(ok, "a concurrent submission failed");
            submit_latency.push(latency);
        }
        submit_wall += batch.elapsed();
    }
    let errors = sim.person_errors().len();

    println!("request_flow (c1bot run with catalog.example.toml and the shipped policies)");
    println!(
        "  slash command -> views.open:       {}",
        summary(open_latency)
    );
    println!(
        "  submission -> approver's DM:       {}",
        summary(dm_latency)
    );
    let submitted = submit_latency.len();
    println!(
        "  submission ack (durable commit):   {}",
        summary(submit_latency)
    );
    println!(
        "  durable submissions/s:             {:.0} ({} submissions, {} at a time, over {:.2} s of submitting)",
        submitted as f64 / submit_wall.as_secs_f64().max(1e-9),
        submitted,
        people.len(),
        submit_wall.as_secs_f64()
    );
    println!("  person-visible errors:             {errors}");
    drop(child);
    sim.shutdown().await;
    Ok(())
}
