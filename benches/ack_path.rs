//! Ack-path benchmark: slash-command envelopes pushed through the simulator at a
//! sustained rate to a real `c1bot run` process.
//!
//! Reports envelopes/s, ack latency p50/p99/max as Slack sees it (from the envelope
//! frame leaving the simulator to the ack frame arriving back), and the bot's RSS at
//! idle and under load. The bot runs as its own process so RSS is its own.
//!
//! `cargo bench --bench ack_path` (env: BENCH_RATE envelopes/s, default 1000;
//! BENCH_SECONDS, default 10; BENCH_KIND `help` (default: `/c1 help`, answered in
//! the ack) or `journaled` (a message in each person's DM with c1bot: written to the
//! intake journal and flushed before its ack, like a deciding click). The bot keeps
//! its default 2 connections.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use c1bot::simulator::{SimOptions, Simulator, Workspace};

fn env_or(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib(child: &Child) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU time the process has used, from /proc/PID/stat (clock ticks of 10 ms).
fn cpu_time(child: &Child) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rate = env_or("BENCH_RATE", 1000).max(1);
    let seconds = env_or("BENCH_SECONDS", 10).max(1);
    let connections = 2;
    let journaled = std::env::var("BENCH_KIND").is_ok_and(|k| k == "journaled");

    let sim = Simulator::start(Workspace::demo(), SimOptions::default()).await?;
    let data = tempfile::tempdir()?;
    let child = Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .arg("run")
        .env_clear()
        .env("SLACK_APP_TOKEN", sim.app_token())
        .env("SLACK_BOT_TOKEN", sim.bot_token())
        .env("SLACK_API_URL", sim.api_url())
        .env("C1BOT_DATA_DIR", data.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let child = KillOnDrop(child);
    sim.wait_for_connections(2, Duration::from_secs(20)).await?;

    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = rss_kib(&child.0).unwrap_or(0);

    let people: Vec<_> = ["alice", "bob", "carol", "frank", "mallory"]
        .iter()
        .map(|name| sim.person(name))
        .collect();
    let total = rate * seconds;
    let acks_before = sim.acks_received().len();
    let cpu_before = cpu_time(&child.0).unwrap_or_default();
    let started = tokio::time::Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sends = tokio::task::JoinSet::new();
    let mut peak_rss = idle_rss;
    let mut next_sample = started + Duration::from_millis(250);
    for i in 0..total {
        ticker.tick().await;
        let person = people[(i as usize) % people.len()].clone();
        if journaled {
            sends.spawn(async move {
                let sent = person.send_dm("help").await;
                sent.ack(Duration::from_secs(3)).await.is_some()
            });
        } else {
            sends.spawn(async move { person.slash("/c1", "help", "general").await.acked });
        }
        if tokio::time::Instant::now() >= next_sample {
            peak_rss = peak_rss.max(rss_kib(&child.0).unwrap_or(0));
            next_sample += Duration::from_millis(250);
        }
    }
    let mut acked = 0u64;
    while let Some(done) = sends.join_next().await {
        if matches!(done, Ok(true)) {
            acked += 1;
        }
    }
    let elapsed = started.elapsed();
    let bot_cpu = cpu_time(&child.0)
        .unwrap_or_default()
        .saturating_sub(cpu_before);
    peak_rss = peak_rss.max(rss_kib(&child.0).unwrap_or(0));

    let mut latencies: Vec<Duration> = sim.acks_received()[acks_before..]
        .iter()
        .map(|a| a.latency)
        .collect();
    latencies.sort_unstable();
    let errors = sim.person_errors().len();

    let what = if journaled {
        "journaled DM messages"
    } else {
        "slash commands"
    };
    println!("ack_path: {total} {what} at {rate}/s target over {connections} connections");
    println!("  acked:            {acked} / {total} (person-visible errors: {errors})");
    println!(
        "  throughput:       {:.0} envelopes/s",
        acked as f64 / elapsed.as_secs_f64()
    );
    println!("  ack latency p50:  {}", ms(percentile(&latencies, 50.0)));
    println!("  ack latency p99:  {}", ms(percentile(&latencies, 99.0)));
    println!(
        "  ack latency max:  {}",
        ms(latencies.last().copied().unwrap_or_default())
    );
    println!(
        "  bot CPU:          {:.0}% of one core ({:.1} µs per envelope)",
        100.0 * bot_cpu.as_secs_f64() / elapsed.as_secs_f64(),
        bot_cpu.as_secs_f64() * 1e6 / total as f64
    );
    println!("  RSS idle:         {:.1} MiB", idle_rss as f64 / 1024.0);
    println!(
        "  RSS under load:   {:.1} MiB (peak sampled every 250 ms)",
        peak_rss as f64 / 1024.0
    );
    drop(child);
    sim.shutdown().await;
    Ok(())
}
