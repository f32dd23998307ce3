//! Store backends side by side: commit throughput and latency, and the intake
//! journal's latency (what a journaled ack waits for), on sled (a directory on disk)
//! and on PostgreSQL (a local server with fsync on, over a Unix socket).
//!
//! Each commit is what creating a request writes: the record with two index entries
//! (one counted), a DM in the outbox, an audit entry and a timer. `cargo bench --bench
//! store_backends` (env: BENCH_COMMITS, default 3000; BENCH_CONCURRENCY, default 16).
//! PostgreSQL is skipped, with a line, when it is not installed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use c1bot::store::postgres::cluster::TestCluster;
use c1bot::store::{AuditEvent, Change, IndexKey, OutboxMessage, Record, Store, Table, TimerEntry};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Serialize, Deserialize)]
struct Req {
    requester: String,
    state: String,
    reason: String,
}

impl Record for Req {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }

    fn index(&self) -> Vec<IndexKey> {
        vec![
            IndexKey::lookup(format!("requester:{}", self.requester)),
            IndexKey::counted(format!("state:{}", self.state)),
        ]
    }
}

fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn create(n: usize) -> Change {
    let key = format!("REQ-{n}");
    let user = format!("U{:09}", n % 500);
    Change::new()
        .expect(Table::Requests, &key, None)
        .put(
            Table::Requests,
            &key,
            &Req {
                requester: user.clone(),
                state: "pending".into(),
                reason: "incident 4711: read the orders table".into(),
            },
        )
        .outbox(OutboxMessage::text(&user, "Your request was received."))
        .audit(AuditEvent {
            actor: user,
            action: "request.created".into(),
            subject: key.clone(),
            detail: json!({"resource": "aws-prod", "role": "ReadOnly"}),
        })
        .timer(
            chrono::Utc::now() + chrono::TimeDelta::hours(4),
            TimerEntry::new("reminder", &key),
        )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Runs `n` operations from `concurrency` tasks; returns (ops/s, sorted latencies).
async fn run<F, Fut>(n: usize, concurrency: usize, op: F) -> (f64, Vec<Duration>)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (op, next) = (op.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return latencies;
                }
                let at = Instant::now();
                op(i).await;
                latencies.push(at.elapsed());
            }
        });
    }
    let mut all = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        all.extend(done.expect("a bench task"));
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    all.sort();
    (rate, all)
}

fn show(what: &str, backend: &str, (rate, latencies): &(f64, Vec<Duration>)) {
    println!(
        "{backend:<10} {what:<26} {rate:>8.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms",
        percentile(latencies, 50.0).as_secs_f64() * 1000.0,
        percentile(latencies, 99.0).as_secs_f64() * 1000.0,
    );
}

async fn measure(backend: &str, store: Store, n: usize, concurrency: usize) {
    let s = store.clone();
    let one = run(n / 10, 1, move |i| {
        let s = s.clone();
        async move {
            s.commit(create(i)).await.expect("commit");
        }
    })
    .await;
    show("commit, one at a time", backend, &one);
    let s = store.clone();
    let base = n;
    let many = run(n, concurrency, move |i| {
        let s = s.clone();
        async move {
            s.commit(create(base + i)).await.expect("commit");
        }
    })
    .await;
    show(&format!("commit, {concurrency} at once"), backend, &many);
    let s = store.clone();
    let journal = run(n, concurrency, move |i| {
        let s = s.clone();
        async move {
            let keys = vec![format!("env:{i}")];
            s.journal(&keys, &json!({"envelope_id": i}), chrono::Utc::now())
                .await
                .expect("journal");
        }
    })
    .await;
    show(
        &format!("journal, {concurrency} at once"),
        backend,
        &journal,
    );
}

#[tokio::main]
async fn main() {
    let n = env_or("BENCH_COMMITS", 3000);
    let concurrency = env_or("BENCH_CONCURRENCY", 16);
    let dir = tempfile::tempdir().expect("temp dir");
    let sled = Store::open(dir.path()).expect("sled");
    measure("sled", sled, n, concurrency).await;
    match TestCluster::start_with(true) {
        Ok(cluster) => {
            let url = cluster.database().await.expect("database");
            let url = c1bot::config::DatabaseUrl::parse(&url).expect("url");
            let pg = Store::connect(&url).await.expect("connect");
            measure("postgres", pg, n, concurrency).await;
        }
        Err(why) => println!("postgres   skipped: {why}"),
    }
}
