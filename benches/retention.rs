//! Retention benchmark: disk per closed request and per active grant as c1bot stores
//! them, and the cost of the retention pass that moves closed requests out of the hot
//! tables.
//!
//! Records are built by the workflow itself (approve → provision → expire → revoke
//! done; and denied requests) and written through the public store API, as c1bot
//! writes them. `cargo bench --bench retention` (env BENCH_CLOSED, default 200,000:
//! half ended grants, half denied requests; BENCH_ACTIVE, default 200,000).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use c1bot::app::retention;
use c1bot::config::RetentionConfig;
use c1bot::store::{Change, Store, Table};
use c1bot::workflow::grant::{self, GrantAction, TaskKind, Timing, Via};
use c1bot::workflow::request::{AccessDuration, AccessRequest, Decision, Quorum, State, Step};
use chrono::{DateTime, Utc};

use common::env_or;

const CAROL: &str = "U0CAROL001";

fn timing() -> Timing {
    Timing {
        remind_before_expiry: Duration::from_secs(15 * 60),
        revoke_overdue_after: Duration::from_secs(3600),
    }
}

fn asked(n: u64, at: DateTime<Utc>, approved: bool) -> AccessRequest {
    let person = format!("U0BG{:06}", n % 100_000);
    AccessRequest {
        id: format!("REQ-{n}"),
        requester: person.clone(),
        beneficiary: person,
        resource: "aws-prod".into(),
        entitlement: "readonly".into(),
        duration: AccessDuration::For(Duration::from_secs(3600)),
        justification: format!("benchmark request {n}: INC-{n}"),
        created_at: at,
        decide_by: at + chrono::Duration::hours(24),
        steps: vec![Step::new(
            "Team lead",
            ["U0BOB00001".to_owned()],
            Quorum::Any,
        )],
        state: if approved {
            State::Approved { auto: false }
        } else {
            State::Denied {
                by: "U0BOB00001".into(),
                reason: Some("not for this ticket".into()),
            }
        },
        decisions: vec![Decision {
            step: 0,
            by: "U0BOB00001".into(),
            approved,
            reason: (!approved).then(|| "not for this ticket".into()),
            at,
        }],
        grant: None,
        extends: None,
        fields: Default::default(),
        starts_at: None,
        emergency: None,
    }
}

fn manual() -> Via {
    Via::Manual {
        assignees: BTreeSet::from([CAROL.to_owned()]),
        after_failure: None,
    }
}

/// Active access, as after carol's *Mark complete*.
fn active(n: u64, at: DateTime<Utc>) -> anyhow::Result<AccessRequest> {
    let step = |r: &AccessRequest, action| {
        grant::apply(r, action, at, timing())
            .map(|t| t.request)
            .map_err(|e| anyhow::anyhow!("{e:?}"))
    };
    let started = step(&asked(n, at, true), GrantAction::Start { via: manual() })?;
    step(
        &started,
        GrantAction::Complete {
            kind: TaskKind::Grant,
            by: CAROL.into(),
        },
    )
}

/// Access that expired and was removed: the largest closed request.
fn ended(n: u64, at: DateTime<Utc>) -> anyhow::Result<AccessRequest> {
    let expired = at + chrono::Duration::hours(1);
    let step = |r: &AccessRequest, action| {
        grant::apply(r, action, expired, timing())
            .map(|t| t.request)
            .map_err(|e| anyhow::anyhow!("{e:?}"))
    };
    let expiring = step(&active(n, at)?, GrantAction::Expire { via: manual() })?;
    step(
        &expiring,
        GrantAction::Complete {
            kind: TaskKind::Revoke,
            by: CAROL.into(),
        },
    )
}

async fn write(store: &Store, requests: Vec<AccessRequest>) -> anyhow::Result<()> {
    for chunk in requests.chunks(5_000) {
        let changes = chunk
            .iter()
            .map(|r| Change::new().put(Table::Requests, r.id.clone(), r))
            .collect();
        for result in store.commit_all(changes).await {
            result?;
        }
    }
    store.flush().await?;
    Ok(())
}

/// Bytes on disk added by writing `requests` to a fresh store.
async fn disk_per_record(dir: &Path, requests: Vec<AccessRequest>) -> anyhow::Result<f64> {
    let _ = std::fs::remove_dir_all(dir);
    let count = requests.len() as f64;
    let store = Store::open(dir)?;
    store.flush().await?;
    let empty = common::dir_size(dir);
    write(&store, requests).await?;
    drop(store);
    Ok((common::dir_size(dir).saturating_sub(empty)) as f64 / count)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let closed = env_or("BENCH_CLOSED", 200_000) as u64;
    let active_n = env_or("BENCH_ACTIVE", 200_000) as u64;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-retention");
    let long_ago = Utc::now() - chrono::Duration::days(120);

    let grants = (0..active_n)
        .map(|n| active(n, Utc::now()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let per_grant = disk_per_record(&root.join("active"), grants).await?;
    let mut old = Vec::with_capacity(closed as usize);
    for n in 0..closed {
        old.push(if n % 2 == 0 {
            ended(n, long_ago)?
        } else {
            asked(n, long_ago, false)
        });
    }
    let sample_ended = serde_json::to_string(&old[0])?.len();
    let per_closed = disk_per_record(&root.join("closed"), old).await?;
    println!("disk per active grant: {per_grant:.0} bytes ({active_n} written)");
    println!(
        "disk per closed request: {per_closed:.0} bytes ({closed} written: half ended grants, half denied; an ended grant's domain JSON alone is {sample_ended} bytes)"
    );

    let store = Store::open(&root.join("closed"))?;
    let started = Instant::now();
    let pass = retention::pass(&store, Utc::now(), RetentionConfig::default()).await?;
    let took = started.elapsed();
    println!(
        "retention pass: {} archived in {:.1} s ({:.1} µs each), {} deferred",
        pass.archived,
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / pass.archived.max(1) as f64,
        pass.deferred
    );
    let again = Instant::now();
    let idle = retention::pass(&store, Utc::now(), RetentionConfig::default()).await?;
    println!(
        "a pass with nothing due: {:.2} ms ({} archived)",
        again.elapsed().as_secs_f64() * 1000.0,
        idle.archived
    );
    anyhow::ensure!(
        store.count(Table::Requests, "state:denied").await? == 0,
        "every denied request left the hot table"
    );
    drop(store);
    let _ = std::fs::remove_dir_all(&root);
    Ok(())
}
