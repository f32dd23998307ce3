//! The grants benchmark's store: a background of active grants written through the
//! public store API with records built by the workflow itself (approve, start,
//! complete), exactly what c1bot writes; in a sled data directory (cached under
//! `target/`, seeding 1,000,000 takes minutes) or in a throwaway PostgreSQL server
//! (seeded once per benchmark into a template database, copied for each run).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use c1bot::simulator::Simulator;
use c1bot::store::postgres::cluster::TestCluster;
use c1bot::store::{Change, SlackRef, Store, Table, TimerEntry};
use c1bot::workflow::grant::{self, GrantAction, TaskKind, Timing, Via};
use c1bot::workflow::request::{AccessDuration, AccessRequest, Decision, Quorum, State, Step};
use chrono::{DateTime, Utc};

pub const CAROL: &str = "U0CAROL001";
/// The reader: holds [`BOBS`] of the store's grants.
pub const BOB: &str = "U0BOB00001";
/// How many grants bob holds.
pub const BOBS: u64 = 10;

pub fn timing() -> Timing {
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
        fields: Default::default(),
        starts_at: None,
        emergency: None,
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
pub async fn seed(
    store: &Store,
    first: u64,
    count: u64,
    from: DateTime<Utc>,
    until: impl Fn(u64) -> DateTime<Utc>,
    person: impl Fn(u64) -> String,
) -> anyhow::Result<()> {
    const BATCH: u64 = 2_000;
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
        // PostgreSQL commits each change in a transaction of its own, a statement
        // per row (a few hundred grants a second here): the fixture's grants go in
        // 250 to a transaction, eight transactions at once.
        if store.postgres().is_some() {
            let mut merged = Vec::new();
            let mut changes = changes.into_iter().peekable();
            while changes.peek().is_some() {
                merged.push(changes.by_ref().take(250).fold(Change::new(), Change::and));
            }
            let writers = merged.into_iter().map(|change| store.commit(change));
            for done in futures_util::future::join_all(writers).await {
                done?;
            }
        } else {
            changes_committed(store, changes).await?;
        }
        n = end;
    }
    Ok(())
}

async fn changes_committed(store: &Store, changes: Vec<Change>) -> anyhow::Result<()> {
    for result in store.commit_all(changes).await {
        result?;
    }
    Ok(())
}

pub fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    let status = Command::new("cp").arg("-a").arg(from).arg(to).status()?;
    anyhow::ensure!(status.success(), "cp -a failed");
    Ok(())
}

/// The background in a sled data directory: `n` active grants expiring over the
/// next 30 days (none during the run), ten per person (100,000 people at 1,000,000),
/// and bob's ten, cached across runs (the name carries the stored-record version it
/// was written at (4: sled data directory format 3, timers placed by request), and bob's count).
pub async fn sled_background(root: &Path, n: u64) -> anyhow::Result<PathBuf> {
    let dir = root.join(format!("bench-grants-v4-bob{BOBS}-{n}"));
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
        .reindex::<AccessRequest>(
            Table::Requests,
            c1bot::app::shared::request_index::INDEX_VERSION,
        )
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
    seed_everyone(&store, n).await?;
    store.flush().await?;
    drop(store);
    println!(
        "seeded {n} active grants in {:.1} s ({:.0} MiB on disk)",
        started.elapsed().as_secs_f64(),
        super::common::dir_size(&dir.join("data")) as f64 / 1048576.0
    );
    Ok(())
}

/// The background's grants and bob's, written into `store`.
async fn seed_everyone(store: &Store, n: u64) -> anyhow::Result<()> {
    let now = Utc::now();
    let spread = 30 * 24 * 3600;
    seed(
        store,
        100_000_000,
        n,
        now,
        |i| now + chrono::Duration::days(1) + chrono::Duration::seconds((i as i64 * 7919) % spread),
        |i| format!("U0BG{:06}", i % 100_000),
    )
    .await?;
    seed(
        store,
        900_000_000,
        BOBS,
        now,
        |_| now + chrono::Duration::days(2),
        |_| BOB.to_owned(),
    )
    .await?;
    Ok(())
}

/// The background in a PostgreSQL database on a throwaway server (fsync on), seeded
/// once into a template that each run copies (`CREATE DATABASE … TEMPLATE`).
pub struct PgBackground {
    cluster: TestCluster,
    next: u32,
}

impl PgBackground {
    pub async fn seed(n: u64) -> anyhow::Result<PgBackground> {
        let cluster = TestCluster::start_with(true).map_err(anyhow::Error::msg)?;
        let template = PgBackground { cluster, next: 0 };
        template
            .execute("postgres", "CREATE DATABASE seeded")
            .await?;
        let started = Instant::now();
        let store = Store::connect(
            &c1bot::config::DatabaseUrl::parse(&template.cluster.url("seeded"))
                .map_err(anyhow::Error::msg)?,
        )
        .await?;
        seed_everyone(&store, n).await?;
        let seeded = started.elapsed();
        // As for sled: the index at today's version, so a run's start-up is a restart.
        let reindexing = Instant::now();
        store
            .reindex::<AccessRequest>(
                Table::Requests,
                c1bot::app::shared::request_index::INDEX_VERSION,
            )
            .await?;
        println!(
            "index checked once after seeding (what a first start after an upgrade does): {:.1} s",
            reindexing.elapsed().as_secs_f64()
        );
        drop(store);
        // The pool's connections close in the background; a template must have none.
        tokio::time::sleep(Duration::from_secs(2)).await;
        template.execute("seeded", "ANALYZE").await?;
        println!(
            "seeded {n} active grants into PostgreSQL in {:.1} s",
            seeded.as_secs_f64()
        );
        Ok(template)
    }

    /// A fresh copy of the seeded database; returns its URL.
    pub async fn copy(&mut self) -> anyhow::Result<String> {
        self.next += 1;
        let name = format!("run{}", self.next);
        self.execute(
            "postgres",
            &format!("CREATE DATABASE {name} TEMPLATE seeded"),
        )
        .await?;
        Ok(self.cluster.url(&name))
    }

    /// Runs `sql` in database `db`, on a connection of its own that is closed after.
    async fn execute(&self, db: &str, sql: &str) -> anyhow::Result<()> {
        let (client, connection) =
            tokio_postgres::connect(&self.cluster.url(db), tokio_postgres::NoTls).await?;
        let running = tokio::spawn(connection);
        let done = client.batch_execute(sql).await;
        drop(client);
        let _ = running.await;
        done.map_err(|e| anyhow::anyhow!("{sql}: {e}"))
    }
}

/// The "access active" DM each of grants `first..first+count` got when it started
/// (posted to `person` in the simulator, its ts recorded where c1bot records it), so
/// the expiry's `chat.update` of that message is a real call, as in production.
pub async fn record_active_messages(
    store: &Store,
    sim: &Simulator,
    first: u64,
    count: u64,
    person: &str,
) -> anyhow::Result<()> {
    let texts: Vec<String> = (first..first + count)
        .map(|n| format!("Your access REQ-{n} is active."))
        .collect();
    let (dm, stamps) = sim.posted_before(person, &texts);
    let posted: Vec<(u64, SlackRef)> = (first..first + count)
        .zip(stamps)
        .map(|(n, ts)| (n, SlackRef::new(&dm, ts)))
        .collect();
    for chunk in posted.chunks(2_000) {
        let changes = chunk
            .iter()
            .map(|(n, at)| {
                Change::new().put(
                    Table::SlackRefs,
                    format!("REQ-{n}/access/active/{person}"),
                    at,
                )
            })
            .collect();
        changes_committed(store, changes).await?;
    }
    Ok(())
}
