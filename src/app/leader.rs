//! High availability on a shared PostgreSQL store: any number of `c1bot run`
//! processes point at one database, and exactly one serves at a time.
//!
//! The one that holds the lease (`store::postgres` `lease`, renewed every
//! [`RENEW_EVERY`], lapsing after [`LEASE_TTL`]) serves: it holds the Socket Mode
//! connections and runs the timer, outbox and intake loops ([`crate::app::start_on`]), and
//! every write it makes checks the lease's fencing token. The others stand by: no
//! Socket Mode connection, no loops; `/readyz` answers 503 "standby" and
//! `c1bot_leader` is 0; they try to take the lease every [`STANDBY_POLL`] and start
//! serving once it has lapsed.
//!
//! A leader that cannot renew (another instance took the lease while it was paused or
//! cut off, or the database was unreachable for longer than the lease) steps down:
//! it stops serving and stands by again. Until it notices, its writes are refused
//! ([`crate::store::StoreError::Fenced`]), so a former leader can never commit after
//! a takeover. An orderly shutdown releases the lease, so a standby takes over at
//! once instead of after the lease lapses.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::store::{Fence, PgStore, Store};

/// The lease's name in `c1bot_lease`.
pub const LEASE: &str = "leader";
/// How long a lease lasts without renewal: the longest a dead leader's work waits.
pub const LEASE_TTL: Duration = Duration::from_secs(5);
/// How often the leader renews (three chances per lease).
pub const RENEW_EVERY: Duration = Duration::from_millis(1500);
/// How often a standby tries to take the lease.
pub const STANDBY_POLL: Duration = Duration::from_millis(500);

/// Whether this instance serves, shared with `/readyz` and the metrics.
#[derive(Clone, Debug, Default)]
pub struct Role {
    inner: Arc<RoleInner>,
}

#[derive(Debug, Default)]
struct RoleInner {
    serving: AtomicBool,
    token: AtomicI64,
}

impl Role {
    pub fn is_serving(&self) -> bool {
        self.inner.serving.load(Ordering::Acquire)
    }

    fn serve(&self, token: i64) {
        self.inner.token.store(token, Ordering::Release);
        self.inner.serving.store(true, Ordering::Release);
    }

    fn stand_by(&self) {
        self.inner.serving.store(false, Ordering::Release);
    }

    /// One line for `/readyz`.
    pub fn describe(&self) -> String {
        if self.is_serving() {
            let token = self.inner.token.load(Ordering::Acquire);
            format!("this instance holds the lease (token {token})")
        } else {
            "another instance holds the lease; this one takes over when it lapses".to_owned()
        }
    }

    /// Sets `c1bot_leader` in `metrics` to this role.
    pub fn report(&self, metrics: &Metrics) {
        metrics.set(
            "c1bot_leader",
            "1 while this instance holds the lease and serves, 0 while it stands by",
            &[],
            if self.is_serving() { 1.0 } else { 0.0 },
        );
    }
}

/// Why a term as leader ended.
enum TermEnd {
    Shutdown,
    LostLease(String),
    Stopped(anyhow::Result<()>),
}

/// Stands by and serves in turn until `shutdown`; for a PostgreSQL store.
pub async fn run(config: &Config, shutdown: CancellationToken) -> anyhow::Result<()> {
    let url = config
        .store
        .url
        .as_ref()
        .context("high availability needs a PostgreSQL store ([store] url)")?;
    // This connection only takes and renews the lease; each term connects its own.
    let lease_store = Store::connect(url).await?;
    let pg = lease_store
        .postgres()
        .context("a PostgreSQL store")?
        .clone();
    let holder = format!("pid {} ({})", std::process::id(), uuid::Uuid::new_v4());
    let role = Role::default();
    loop {
        let Some(fence) = stand_by(config, &pg, &holder, &role, &shutdown).await? else {
            return Ok(());
        };
        tracing::info!(token = fence.token, %holder, "took the lease: serving");
        // Each term gets a store of its own, connected now: its in-memory outbox
        // index is read from the database as the last leader left it, and when the
        // term ends its fence stays set on whatever of it is still running.
        let term = match Store::connect(url).await {
            Ok(term) => term,
            Err(error) => {
                let _ = pg.release(&fence).await;
                return Err(error.into());
            }
        };
        if let Some(term_pg) = term.postgres() {
            term_pg.set_fence(Some(fence.clone()));
        }
        role.serve(fence.token);
        let running = match crate::app::start_on(config, term, Some(role.clone())).await {
            Ok(running) => running,
            Err(error) => {
                role.stand_by();
                let _ = pg.release(&fence).await;
                return Err(error);
            }
        };
        let end = hold(&pg, &fence, running, &shutdown).await;
        role.stand_by();
        match end {
            TermEnd::Shutdown => {
                pg.release(&fence).await.context("releasing the lease")?;
                return Ok(());
            }
            TermEnd::Stopped(outcome) => {
                let _ = pg.release(&fence).await;
                return outcome;
            }
            TermEnd::LostLease(why) => {
                tracing::warn!(token = fence.token, reason = %why, "lost the lease: stepped down, standing by");
            }
        }
    }
}

/// Waits, serving `/readyz` as a standby, until the lease is ours (`None`: shutdown).
async fn stand_by(
    config: &Config,
    pg: &PgStore,
    holder: &str,
    role: &Role,
    shutdown: &CancellationToken,
) -> anyhow::Result<Option<Fence>> {
    let stop_health = CancellationToken::new();
    let health = match config.health.listen {
        Some(addr) => {
            let metrics = Metrics::default();
            role.report(&metrics);
            let health = crate::health::Health {
                socket: Default::default(),
                metrics,
                checks: Vec::new(),
                notes: Vec::new(),
                role: Some(role.clone()),
            };
            Some(
                crate::health::serve_task(addr, health, stop_health.clone())
                    .await?
                    .1,
            )
        }
        None => None,
    };
    let mut announced = false;
    let fence = loop {
        match pg.try_acquire(LEASE, holder, LEASE_TTL).await {
            Ok(Some(fence)) => break Some(fence),
            Ok(None) if !announced => {
                announced = true;
                tracing::info!("another instance holds the lease: standing by");
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(%error, "standby: cannot reach the database"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => break None,
            _ = tokio::time::sleep(STANDBY_POLL) => {}
        }
    };
    stop_health.cancel();
    if let Some(task) = health {
        // The serving term binds the same address: wait for the listener to close.
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    Ok(fence)
}

/// Serves under `fence`, renewing it, until shutdown, the lease is lost, or the bot
/// stops by itself; stops the bot in the first two cases.
async fn hold(
    pg: &PgStore,
    fence: &Fence,
    mut running: crate::app::Running,
    shutdown: &CancellationToken,
) -> TermEnd {
    let mut renewed_at = Instant::now();
    let mut ticks = tokio::time::interval(RENEW_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let end = loop {
        tokio::select! {
            _ = shutdown.cancelled() => break TermEnd::Shutdown,
            finished = &mut running.task => {
                let outcome = finished
                    .context("the bot task panicked")
                    .and_then(|outcome| outcome);
                return TermEnd::Stopped(outcome);
            }
            _ = ticks.tick() => {
                match pg.renew(fence, LEASE_TTL).await {
                    Ok(true) => renewed_at = Instant::now(),
                    Ok(false) => break TermEnd::LostLease("another instance took the lease".into()),
                    Err(error) if renewed_at.elapsed() >= LEASE_TTL => {
                        break TermEnd::LostLease(format!("could not renew the lease for {} s: {error}", LEASE_TTL.as_secs()));
                    }
                    Err(error) => tracing::warn!(%error, "renewing the lease failed; trying again"),
                }
            }
        }
    };
    if let Err(error) = running.stop().await {
        tracing::warn!(%error, "stopping the serving term");
    }
    end
}
