//! Grants benchmark: a real `c1bot run` process over a data directory holding
//! BENCH_GRANTS active grants (default 1,000,000), of which BENCH_BURST (default
//! 10,000) expire in the same second.
//!
//! Reports: start-up (spawn → Socket Mode connected), RSS (idle, and peak during the
//! burst), person-facing reads with the whole store in place (a `/metrics` scrape,
//! `/c1 status` and App Home for bob, who holds five of the grants; the background's
//! grants belong to 100,000 other people, ten each), and expiry lateness p50/p99/max for the burst, for the manual-task path
//! and for a webhook provisioner:
//! - *decided*: from the due time to the moment c1bot started deprovisioning (the
//!   `grant.expired` audit entry's `late_ms`);
//! - *at Slack* (manual): due time → the deprovisioning task reached Slack (the
//!   simulator's message ts);
//! - *at the webhook*: due time → the revoke POST reached the receiver.
//!
//! The fixture is written through the public store API with records built by the
//! workflow itself (approve, start, complete), exactly what c1bot writes, and cached
//! under `target/bench-grants-<N>` (seeding 1,000,000 takes minutes).
//!
//! `cargo bench --bench grants` (env BENCH_GRANTS, BENCH_BURST; BENCH_ONLY `manual`,
//! `webhook` or `group`: the manual task sent to a Slack user group whose
//! `usergroups.users.list` answers only after 3 s, to show expiry never waits on it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use c1bot::simulator::{SimOptions, Simulator, Workspace};
use c1bot::store::{Change, Store, Table, TimerEntry};
use c1bot::workflow::grant::{self, GrantAction, TaskKind, Timing, Via};
use c1bot::workflow::request::{AccessDuration, AccessRequest, Decision, Quorum, State, Step};
use chrono::{DateTime, Utc};

const CAROL: &str = "U0CAROL001";
/// The reader: holds five of the store's grants.
const BOB: &str = "U0BOB00001";
const SECRET: &str = "bench-secret";

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

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

fn timing() -> Timing {
    Timing {
        remind_before_expiry: Duration::from_secs(15 * 60),
        revoke_overdue_after: Duration::from_secs(3600),
    }
}

/// An active grant of ReadOnly on AWS production for a person, until `until`, as
/// the workflow writes it (approved by bob, granted by carol at `from`).
fn active_grant(
    n: u64,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    person: &str,
) -> anyhow::Result<AccessRequest> {
    let duration = (until - from).to_std()?;
    let request = AccessRequest {
        id: format!("REQ-{n}"),
        requester: person.into(),
        beneficiary: person.into(),
        resource: "aws-prod".into(),
        entitlement: "readonly".into(),
        duration: AccessDuration::For(duration),
        justification: format!("benchmark grant {n}"),
        created_at: from,
        decide_by: from + chrono::Duration::hours(24),
        steps: vec![Step::new(
            "Team lead",
            ["U0BOB00001".to_owned()],
            Quorum::Any,
        )],
        state: State::Approved { auto: false },
        decisions: vec![Decision {
            step: 0,
            by: "U0BOB00001".into(),
            approved: true,
            reason: None,
            at: from,
        }],
        grant: None,
        extends: None,
    };
    let via = Via::Manual {
        assignees: BTreeSet::from([CAROL.to_owned()]),
        after_failure: None,
    };
    let started = grant::apply(&request, GrantAction::Start { via }, from, timing())
        .map_err(|r| anyhow::anyhow!("{r:?}"))?;
    let active = grant::apply(
        &started.request,
        GrantAction::Complete {
            kind: TaskKind::Grant,
            by: CAROL.into(),
        },
        from,
        timing(),
    )
    .map_err(|r| anyhow::anyhow!("{r:?}"))?;
    Ok(active.request)
}

/// The record and its timers, as c1bot schedules them when access becomes active
/// (no reminder for access shorter than the reminder's lead).
fn change_for(request: &AccessRequest, from: DateTime<Utc>, until: DateTime<Utc>) -> Change {
    let change = Change::new()
        .put(Table::Requests, request.id.clone(), request)
        .timer(until, TimerEntry::new("grant-expire", request.id.clone()));
    let remind = until - chrono::Duration::minutes(15);
    if remind > from {
        change.timer(remind, TimerEntry::new("grant-remind", request.id.clone()))
    } else {
        change
    }
}

/// Writes grants `first..first+count` for `person(n)`, expiring as `until(n)` says,
/// in group commits.
async fn seed(
    store: &Store,
    first: u64,
    count: u64,
    from: DateTime<Utc>,
    until: impl Fn(u64) -> DateTime<Utc>,
    person: impl Fn(u64) -> String,
) -> anyhow::Result<()> {
    const BATCH: u64 = 5_000;
    let mut n = first;
    while n < first + count {
        let end = (n + BATCH).min(first + count);
        let mut changes = Vec::with_capacity((end - n) as usize);
        for i in n..end {
            let at = until(i);
            changes.push(change_for(
                &active_grant(i, from, at, &person(i))?,
                from,
                at,
            ));
        }
        for result in store.commit_all(changes).await {
            result?;
        }
        n = end;
    }
    Ok(())
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status()?;
    anyhow::ensure!(status.success(), "cp -a failed");
    Ok(())
}

/// The background: `n` active grants expiring over the next 30 days (none during
/// the run), ten per person (100,000 people at 1,000,000), and bob's five, cached
/// across runs (the name carries the stored-record version it was written at).
async fn background(root: &Path, n: u64) -> anyhow::Result<PathBuf> {
    let dir = root.join(format!("bench-grants-v2-{n}"));
    if !dir.join("seeded").exists() {
        seed_background(&dir, n).await?;
        std::fs::write(dir.join("seeded"), b"")?;
    }
    if dir.join("indexed").exists() {
        return Ok(dir);
    }
    // As a store c1bot has already started on: its index is at today's version, so
    // the benchmark's start-up is a restart, not a first upgrade (which re-indexes
    // every request once; measured separately below).
    let store = Store::open(&dir.join("data"))?;
    let started = Instant::now();
    store
        .reindex::<AccessRequest>(Table::Requests, c1bot::app::request_index::INDEX_VERSION)
        .await?;
    println!(
        "index checked once after seeding (what a first start after an upgrade does): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(store);
    std::fs::write(dir.join("indexed"), b"")?;
    Ok(dir)
}

async fn seed_background(dir: &Path, n: u64) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    let started = Instant::now();
    let store = Store::open(&dir.join("data"))?;
    let now = Utc::now();
    let spread = 30 * 24 * 3600;
    seed(
        &store,
        100_000_000,
        n,
        now,
        |i| now + chrono::Duration::days(1) + chrono::Duration::seconds((i as i64 * 7919) % spread),
        |i| format!("U0BG{:06}", i % 100_000),
    )
    .await?;
    seed(
        &store,
        900_000_000,
        5,
        now,
        |_| now + chrono::Duration::days(2),
        |_| BOB.to_owned(),
    )
    .await?;
    store.flush().await?;
    drop(store);
    println!(
        "seeded {n} active grants in {:.1} s ({:.0} MiB on disk)",
        started.elapsed().as_secs_f64(),
        dir_size(&dir.join("data")) as f64 / 1048576.0
    );
    Ok(())
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

/// A `/metrics` scrape, bob's `/c1 status` (slash command → ack, which carries the
/// answer) and bob's App Home (opened → `views.publish` received), one at a time.
async fn reads(sim: &Simulator, health: &str) -> anyhow::Result<Reads> {
    let mut out = Reads::default();
    let client = reqwest::Client::new();
    for _ in 0..200 {
        let started = Instant::now();
        let body = client
            .get(format!("{health}/metrics"))
            .send()
            .await?
            .text()
            .await?;
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
    let published = || {
        sim.calls_to("views.publish")
            .iter()
            .filter(|c| c.args["user_id"] == BOB)
            .count()
    };
    for _ in 0..50 {
        let before = published();
        let started = Instant::now();
        bob.open_app_home().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        while published() == before {
            anyhow::ensure!(Instant::now() < deadline, "bob's Home was not published");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        out.home_us.push(started.elapsed().as_micros() as i64);
    }
    Ok(out)
}

struct Run {
    reads: Option<Reads>,
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

async fn run(
    label: &str,
    base: &Path,
    work: &Path,
    burst: u64,
    via: Via2,
    webhook: Option<(&str, &Hook)>,
) -> anyhow::Result<Run> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work)?;
    let data = work.join("data");
    copy_dir(&base.join("data"), &data)?;
    // The burst: `burst` grants expiring in the same second, 20 s from now.
    let due = {
        let at = Utc::now() + chrono::Duration::seconds(20);
        at - chrono::Duration::nanoseconds(at.timestamp_subsec_nanos() as i64)
    };
    {
        let store = Store::open(&data)?;
        seed(
            &store,
            1_000,
            burst,
            Utc::now(),
            |_| due,
            |_| "U0ALICE001".to_owned(),
        )
        .await?;
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

    let sim = Simulator::start(Workspace::demo(), SimOptions::default()).await?;
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
    // revoke call's result is recorded. Read through the admin socket, as an operator
    // would while c1bot runs.
    let finished_action = if webhook.is_some() {
        "provisioner.revoke"
    } else {
        "grant.expired"
    };
    let mut peak_rss = idle_rss;
    let deadline = Instant::now() + Duration::from_secs(300);
    let drained;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak_rss = peak_rss.max(rss_mib(pid));
        if Utc::now() < due {
            continue;
        }
        let lines = c1bot::app::admin::audit_export(&data)
            .await
            .unwrap_or_default();
        let finished = String::from_utf8_lossy(&lines)
            .lines()
            .filter(|l| l.contains(finished_action))
            .count() as u64;
        if finished >= burst {
            drained = (Utc::now() - due).to_std().unwrap_or_default();
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "[{label}] only {finished} of {burst} done after 300 s"
        );
    }
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
    let store = Store::open(&data)?;
    let mut out = Vec::new();
    store.export_audit(&mut out).await?;
    let decided_ms: Vec<i64> = String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["action"] == "grant.expired")
        .filter_map(|e| e["detail"]["late_ms"].as_i64())
        .collect();
    sim.shutdown().await;
    Ok(Run {
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
    let base = background(&target, total.saturating_sub(burst)).await?;
    println!(
        "{total} active grants ({} in the background, {burst} expiring in the same second)",
        total.saturating_sub(burst)
    );

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only == name;
    let work = target.join("bench-grants-run");
    let mut results = Vec::new();
    if wanted("manual") {
        results.push((
            "manual task",
            run("manual", &base, &work, burst, Via2::Manual, None).await?,
        ));
    }
    if wanted("group") {
        results.push((
            "manual task to a user group (usergroups.users.list takes 3 s)",
            run("group", &base, &work, burst, Via2::Group, None).await?,
        ));
    }
    if wanted("webhook") {
        let (url, hook) = hook_server().await?;
        results.push((
            "webhook",
            run(
                "webhook",
                &base,
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
