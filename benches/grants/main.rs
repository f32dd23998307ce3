//! Grants benchmark: a real `c1bot run` process over a data directory holding
//! BENCH_GRANTS active grants (default 1,000,000), of which BENCH_BURST (default
//! 10,000) expire in the same second.
//!
//! Reports: start-up (spawn → Socket Mode connected), RSS (idle, and peak during the
//! burst), person-facing reads with the whole store in place (a `/metrics` scrape,
//! `/c1 status` and App Home for bob, who holds ten of the grants; the background's
//! grants belong to 100,000 other people, ten each), and expiry lateness p50/p99/max for the burst, for the manual-task path
//! and for a webhook provisioner:
//! - *decided*: from the due time to the moment c1bot started deprovisioning (the
//!   `grant.expired` audit entry's `late_ms`);
//! - *at Slack* (manual): due time → the deprovisioning task reached Slack (the
//!   simulator's message ts);
//! - *at the webhook*: due time → the revoke POST reached the receiver.
//!
//! Each burst grant's "access active" DM is in the simulator and recorded where c1bot
//! records it, so the expiry's `chat.update` of it is a real call (as in production)
//! and not 10,000 give-ups written to the store while the burst commits.
//!
//! The store is written as `fixture` says: a sled data directory cached under
//! `target/`, or with `BENCH_STORE=postgres` a throwaway PostgreSQL server (fsync on)
//! that c1bot reaches through `C1BOT_DATABASE_URL`.
//!
//! `cargo bench --bench grants` (env BENCH_GRANTS, BENCH_BURST, BENCH_STORE; BENCH_ONLY
//! `manual`, `webhook` or `group`: the manual task sent to a Slack user group whose
//! `usergroups.users.list` answers only after 3 s, to show expiry never waits on it).

#[path = "../common/mod.rs"]
mod common;
mod fixture;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::routing::post;
use c1bot::config::DatabaseUrl;
use c1bot::simulator::{SimOptions, Simulator, Workspace};
use c1bot::store::Store;
use chrono::{DateTime, Utc};
use common::{env_or, rss_mib, KillOnDrop};
use fixture::{PgBackground, BOB};

const SECRET: &str = "bench-secret";

fn summary(mut ms: Vec<i64>) -> String {
    if ms.is_empty() {
        return "no samples".into();
    }
    ms.sort_unstable();
    let at = |p: f64| ms[(((p / 100.0) * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    format!(
        "p50 {} ms  p99 {} ms  max {} ms  (n={})",
        at(50.0),
        at(99.0),
        ms[ms.len() - 1],
        ms.len()
    )
}

/// A revoke the webhook received: request id and when.
type Received = (String, DateTime<Utc>);

#[derive(Clone, Default)]
struct Hook {
    revokes: Arc<Mutex<Vec<Received>>>,
}

async fn hook_server() -> anyhow::Result<(String, Hook)> {
    let hook = Hook::default();
    let state = hook.clone();
    let app = axum::Router::new().route(
        "/iam",
        post(move |body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                let json: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if json["operation"] == "revoke" {
                    let id = json["request_id"].as_str().unwrap_or_default().to_owned();
                    state.revokes.lock().expect("lock").push((id, Utc::now()));
                }
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}/iam"), hook))
}

/// Person-facing reads while the store holds every grant, in microseconds.
#[derive(Default)]
struct Reads {
    metrics_us: Vec<i64>,
    status_us: Vec<i64>,
    home_us: Vec<i64>,
}

fn summary_us(mut us: Vec<i64>) -> String {
    if us.is_empty() {
        return "no samples".into();
    }
    us.sort_unstable();
    let at = |p: f64| us[(((p / 100.0) * us.len() as f64).ceil() as usize).clamp(1, us.len()) - 1];
    let ms = |v: i64| v as f64 / 1000.0;
    format!(
        "p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (n={})",
        ms(at(50.0)),
        ms(at(99.0)),
        ms(us[us.len() - 1]),
        us.len()
    )
}

/// The text of one `/metrics` scrape.
async fn scrape(client: &reqwest::Client, health: &str) -> anyhow::Result<String> {
    Ok(client
        .get(format!("{health}/metrics"))
        .send()
        .await?
        .text()
        .await?)
}

/// How many grants `/metrics` counts in `state` (none listed: 0).
async fn grants_in(client: &reqwest::Client, health: &str, state: &str) -> anyhow::Result<u64> {
    let body = scrape(client, health).await?;
    let series = format!("c1bot_grants{{state=\"{state}\"}} ");
    Ok(body
        .lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .and_then(|n| n.trim().parse::<f64>().ok())
        .map_or(0, |n| n as u64))
}

/// A `/metrics` scrape, bob's `/c1 status` (slash command → ack, which carries the
/// answer) and bob's App Home (opened → `views.publish` received), one at a time.
async fn reads(sim: &Simulator, health: &str) -> anyhow::Result<Reads> {
    let mut out = Reads::default();
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let started = Instant::now();
        let body = scrape(&client, health).await?;
        out.metrics_us.push(started.elapsed().as_micros() as i64);
        anyhow::ensure!(
            body.contains("c1bot_requests"),
            "metrics answered: {body:.200}"
        );
    }
    let bob = sim.person("bob");
    for _ in 0..200 {
        let started = Instant::now();
        let status = bob.slash("/c1", "status", "general").await;
        out.status_us.push(started.elapsed().as_micros() as i64);
        anyhow::ensure!(status.acked, "status acked");
    }
    // When each of bob's Homes reached Slack: the simulator stamps a call as it
    // arrives. Waiting is woken by the simulator's changes (no polling loop taking
    // the CPU the Home is rendered with).
    let published = |sim: &Simulator| -> Vec<Instant> {
        sim.calls_to("views.publish")
            .iter()
            .filter(|c| c.args["user_id"] == BOB)
            .map(|c| c.at.into_std())
            .collect()
    };
    for _ in 0..50 {
        let before = published(sim).len();
        let started = Instant::now();
        bob.open_app_home().await;
        sim.wait_for(Duration::from_secs(10), |sim| published(sim).len() > before)
            .await
            .context("bob's Home was not published")?;
        let at = published(sim)[before];
        out.home_us
            .push(at.duration_since(started).as_micros() as i64);
    }
    Ok(out)
}

struct Run {
    reads: Option<Reads>,
    /// bob's `/c1 status`, command → ack, while the burst commits.
    during_us: Vec<i64>,
    startup: Duration,
    idle_rss: f64,
    peak_rss: f64,
    decided_ms: Vec<i64>,
    delivered_ms: Vec<i64>,
    drained: Duration,
}

/// Who removes the access in a run.
#[derive(Clone, Copy, PartialEq)]
enum Via2 {
    Manual,
    Group,
    Webhook,
}

/// Where a run's store is: a sled data directory copied from the cached background,
/// or a fresh copy of the seeded PostgreSQL database.
enum Target<'a> {
    Sled(&'a Path),
    Postgres(String),
}

impl Target<'_> {
    async fn open(&self, data: &Path) -> anyhow::Result<Store> {
        Ok(match self {
            Target::Sled(_) => Store::open(data)?,
            Target::Postgres(url) => {
                Store::connect(&DatabaseUrl::parse(url).map_err(anyhow::Error::msg)?).await?
            }
        })
    }
}

async fn run(
    label: &str,
    target: Target<'_>,
    work: &Path,
    burst: u64,
    via: Via2,
    webhook: Option<(&str, &Hook)>,
) -> anyhow::Result<Run> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work)?;
    let data = work.join("data");
    if let Target::Sled(base) = &target {
        fixture::copy_dir(&base.join("data"), &data)?;
    }
    // The burst: `burst` grants expiring in the same second, 30 s from now (copying
    // the store, start-up and the reads before it take about 20 s at 1,000,000).
    let due = {
        let at = Utc::now() + chrono::Duration::seconds(30);
        at - chrono::Duration::nanoseconds(at.timestamp_subsec_nanos() as i64)
    };
    let sim = Simulator::start(Workspace::demo(), SimOptions::default()).await?;
    {
        let store = target.open(&data).await?;
        fixture::seed(
            &store,
            1_000,
            burst,
            Utc::now(),
            |_| due,
            |_| "U0ALICE001".to_owned(),
        )
        .await?;
        fixture::record_active_messages(&store, &sim, 1_000, burst, "U0ALICE001").await?;
        store.flush().await?;
    }
    let mut catalog = std::fs::read_to_string(root.join("catalog.example.toml"))?;
    if let Some((url, _)) = webhook {
        catalog = catalog.replacen(
            "kind = \"manual\"                          # a task to the assignees, who grant by hand",
            &format!("kind = \"webhook\"\nurl = \"{url}\"\nsecret_env = \"BENCH_HOOK_SECRET\"\ntimeout = \"5s\"\nretries = 1"),
            1,
        );
    }
    if via == Via2::Group {
        catalog = catalog.replacen(
            "assignees = { users = [\"U0CAROL001\"] }   # carol",
            "assignees = { groups = [\"S0SECOPS01\"] }",
            1,
        );
    }
    std::fs::write(work.join("catalog.toml"), catalog)?;
    std::fs::write(
        work.join("c1bot.toml"),
        format!(
            "catalog_file = \"catalog.toml\"\npolicies_dir = {:?}\nblocks_dir = {:?}\n",
            root.join("policies"),
            root.join("blocks")
        ),
    )?;

    if via == Via2::Group {
        sim.faults()
            .latency(Some("usergroups.users.list"), Duration::from_secs(3));
    }
    let health_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let health = format!("http://127.0.0.1:{health_port}");
    let spawned = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_c1bot"))
        .arg("--config")
        .arg(work.join("c1bot.toml"))
        .arg("run")
        .env_clear()
        .env("SLACK_APP_TOKEN", sim.app_token())
        .env("SLACK_BOT_TOKEN", sim.bot_token())
        .env("SLACK_API_URL", sim.api_url())
        .env("C1BOT_DATA_DIR", &data)
        .envs(match &target {
            Target::Postgres(url) => vec![("C1BOT_DATABASE_URL", url.clone())],
            Target::Sled(_) => Vec::new(),
        })
        .env("BENCH_HOOK_SECRET", SECRET)
        .env("C1BOT_HEALTH_LISTEN", format!("127.0.0.1:{health_port}"))
        .env(
            "RUST_LOG",
            std::env::var("BENCH_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let child = KillOnDrop(child);
    let pid = child.0.id();
    sim.wait_for_connections(2, Duration::from_secs(60)).await?;
    let startup = spawned.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle_rss = rss_mib(pid);
    println!(
        "[{label}] connected {:.0} ms after spawn; idle RSS {idle_rss:.1} MiB",
        startup.as_secs_f64() * 1000.0
    );
    let reads = if via == Via2::Manual {
        Some(reads(&sim, &health).await?)
    } else {
        None
    };

    // Done when every expiry is decided (manual: the task is committed; Slack then
    // paces DMs to one person at about one a second) or, with the webhook, when every
    // revoke call's result is recorded. Read from `/metrics` (counters kept by the
    // store), as an operator's dashboard would: exporting the growing audit log every
    // 250 ms cost c1bot CPU the burst competes for.
    let client = reqwest::Client::new();
    let active_before = grants_in(&client, &health, "active").await?;
    // Expiries are prepared 3 s ahead: the reads must be over by then, or they
    // measure the burst's preparation and the count above misses some expiries.
    anyhow::ensure!(
        Utc::now() + chrono::Duration::seconds(4) < due,
        "[{label}] the reads ran into the burst (due {due}); start it later"
    );
    let mut peak_rss = idle_rss;
    let deadline = Instant::now() + Duration::from_secs(900);
    let done = std::sync::atomic::AtomicBool::new(false);
    let drain = async {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            peak_rss = peak_rss.max(rss_mib(pid));
            if Utc::now() < due {
                continue;
            }
            let active = grants_in(&client, &health, "active").await?;
            let removing = grants_in(&client, &health, "deprovisioning").await?;
            let finished = active_before.saturating_sub(active);
            if finished >= burst && (webhook.is_none() || removing == 0) {
                return Ok::<_, anyhow::Error>((Utc::now() - due).to_std().unwrap_or_default());
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "[{label}] only {finished} of {burst} done after 900 s"
            );
        }
    };
    // Meanwhile (manual runs), bob asks for his status every 20 ms from the due
    // second on: what a person's ack costs while the burst commits.
    let bob = sim.person("bob");
    let during = async {
        let mut us = Vec::new();
        while via == Via2::Manual && !done.load(std::sync::atomic::Ordering::Acquire) {
            if Utc::now() >= due {
                let started = Instant::now();
                let status = bob.slash("/c1", "status", "general").await;
                us.push(started.elapsed().as_micros() as i64);
                anyhow::ensure!(status.acked, "status acked during the burst");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(us)
    };
    // However the drain ends (an error too), bob stops asking.
    let drain = async {
        let drained = drain.await;
        done.store(true, std::sync::atomic::Ordering::Release);
        drained
    };
    let (drained, during_us) = tokio::join!(drain, during);
    let (drained, during_us) = (drained?, during_us?);
    // Let the last commits settle, then stop c1bot the way an operator does.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    for _ in 0..300 {
        if std::fs::metadata(format!("/proc/{pid}")).is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(child);

    let delivered_ms: Vec<i64> = match webhook {
        Some((_, hook)) => hook
            .revokes
            .lock()
            .expect("lock")
            .iter()
            .map(|(_, at)| (*at - due).num_milliseconds())
            .collect(),
        None => Vec::new(),
    };
    let store = target.open(&data).await?;
    let mut out = Vec::new();
    store.export_audit(&mut out).await?;
    drop(store);
    let decided_ms: Vec<i64> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["action"] == "grant.expired")
        .filter_map(|e| e["detail"]["late_ms"].as_i64())
        .collect();
    sim.shutdown().await;
    Ok(Run {
        during_us,
        reads,
        startup,
        idle_rss,
        peak_rss,
        decided_ms,
        delivered_ms,
        drained,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total = env_or("BENCH_GRANTS", 1_000_000) as u64;
    let burst = env_or("BENCH_BURST", 10_000) as u64;
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let on_postgres = std::env::var("BENCH_STORE").is_ok_and(|s| s == "postgres");
    let background = total.saturating_sub(burst);
    let (base, mut pg) = if on_postgres {
        (None, Some(PgBackground::seed(background).await?))
    } else {
        (
            Some(fixture::sled_background(&target, background).await?),
            None,
        )
    };
    println!(
        "{total} active grants ({background} in the background, {burst} expiring in the same second), on {}",
        if on_postgres { "PostgreSQL" } else { "sled" }
    );
    let mut store_for_run = async || -> anyhow::Result<Target<'_>> {
        Ok(match (&base, &mut pg) {
            (_, Some(pg)) => Target::Postgres(pg.copy().await?),
            (Some(base), None) => Target::Sled(base),
            (None, None) => anyhow::bail!("no background"),
        })
    };

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only == name;
    let work = target.join("bench-grants-run");
    let mut results = Vec::new();
    if wanted("manual") {
        results.push((
            "manual task",
            run(
                "manual",
                store_for_run().await?,
                &work,
                burst,
                Via2::Manual,
                None,
            )
            .await?,
        ));
    }
    if wanted("group") {
        results.push((
            "manual task to a user group (usergroups.users.list takes 3 s)",
            run(
                "group",
                store_for_run().await?,
                &work,
                burst,
                Via2::Group,
                None,
            )
            .await?,
        ));
    }
    if wanted("webhook") {
        let (url, hook) = hook_server().await?;
        results.push((
            "webhook",
            run(
                "webhook",
                store_for_run().await?,
                &work,
                burst,
                Via2::Webhook,
                Some((&url, &hook)),
            )
            .await?,
        ));
    }
    let _ = std::fs::remove_dir_all(target.join("bench-grants-run"));

    for (label, r) in &results {
        println!("\n== {label} ==");
        println!(
            "start-up (spawn → connected): {:.0} ms",
            r.startup.as_secs_f64() * 1000.0
        );
        println!(
            "RSS: idle {:.1} MiB, peak during the burst {:.1} MiB",
            r.idle_rss, r.peak_rss
        );
        if let Some(reads) = &r.reads {
            println!("/metrics scrape: {}", summary_us(reads.metrics_us.clone()));
            println!(
                "bob's /c1 status (command → ack with the answer): {}",
                summary_us(reads.status_us.clone())
            );
            println!(
                "bob's App Home (opened → views.publish): {}",
                summary_us(reads.home_us.clone())
            );
        }
        if !r.during_us.is_empty() {
            println!(
                "bob's /c1 status during the burst (command → ack): {}",
                summary_us(r.during_us.clone())
            );
        }
        println!(
            "lateness, deprovisioning started (task committed / run leased): {}",
            summary(r.decided_ms.clone())
        );
        if !r.delivered_ms.is_empty() {
            println!(
                "lateness, revoke POST received by the webhook: {}",
                summary(r.delivered_ms.clone())
            );
        }
        println!(
            "whole burst recorded {:.1} s after the due second",
            r.drained.as_secs_f64()
        );
    }
    Ok(())
}
