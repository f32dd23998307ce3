//! Wiring and lifecycle: from a validated [`Config`] to a running bot, and an orderly stop.
//!
//! Start-up order: Web API client, bot-token check (`auth.test`), dispatcher, Socket
//! Mode. Shutdown order: stop reading envelopes, let in-flight envelopes finish and
//! be acked (bounded), then return.

pub mod admin;
pub mod audit_anchor;
pub mod campaigns;
pub mod decisions;
pub mod dm;
pub mod gauges;
pub mod grants;
pub mod handler;
pub mod journal;
#[cfg(test)]
mod layout_tests;
pub mod leader;
pub mod requests;
pub mod retention;
pub mod scopes;
pub mod shared;
pub mod status;
pub mod timers;
pub mod upkeep;

use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::outbox_sender;
use crate::policy::{NamedId, Policies};
use crate::slack::backoff::Backoff;
use crate::slack::connection::ConnectionTimings;
use crate::slack::dispatch::Dispatcher;
use crate::slack::socket::{SocketMode, SocketOptions, SocketStatus};
use crate::slack::web::{methods, WebApi, WebApiError, WebApiOptions};
use crate::store::Store;
use crate::supervise::Supervisor;
use crate::templates::Templates;
use handler::C1Handler;
use shared::directory::Directory;
use shared::services::Services;
use std::sync::Arc;

/// How long shutdown waits for envelopes already received to be handled and acked.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The journal loop passes at least every few seconds.
const JOURNAL_STALE_AFTER: Duration = Duration::from_secs(120);

/// A bot started in this process.
pub struct Running {
    pub status: SocketStatus,
    /// c1bot's clock; tests move it forward to make access expire.
    pub clock: crate::clock::Clock,
    pub store: Store,
    pub metrics: Metrics,
    /// Where `/healthz`, `/readyz` and `/metrics` are served, when enabled.
    pub health_addr: Option<std::net::SocketAddr>,
    pub reloader: Reloader,
    shutdown: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Asks the bot to stop and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        self.task.await.context("the bot task panicked")?
    }

    /// Waits for the bot to end by itself (a fatal Socket Mode error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await.context("the bot task panicked")?
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Reloads policies and templates from disk (SIGHUP).
#[derive(Clone)]
pub struct Reloader {
    policies: shared::services::Shared<Policies>,
    templates: shared::services::Shared<Templates>,
    policies_dir: std::path::PathBuf,
    blocks_dir: std::path::PathBuf,
    metrics: Metrics,
}

impl Reloader {
    /// Loads each set again; a set that fails to load is kept as it was, and the
    /// errors are returned (and logged) so the operator sees why.
    pub fn reload(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        match Policies::load(&self.policies_dir) {
            Ok(policies) => {
                tracing::info!(modules = policies.module_count(), "policies reloaded");
                self.policies.set(policies);
            }
            Err(error) => problems.push(format!("policies kept as they were: {error}")),
        }
        match Templates::load(&self.blocks_dir) {
            Ok(templates) => {
                tracing::info!("templates reloaded");
                self.templates.set(templates);
            }
            Err(error) => problems.push(format!("templates kept as they were: {error}")),
        }
        let result = if problems.is_empty() { "ok" } else { "failed" };
        self.metrics.inc(
            "c1bot_reloads_total",
            "SIGHUP reloads of policies and templates, by result (failed: a set was kept as it was).",
            &[("result", result)],
        );
        if problems.is_empty() {
            Ok(())
        } else {
            for problem in &problems {
                tracing::error!(%problem, "reload");
            }
            Err(problems.join("; "))
        }
    }
}

/// Builds the Web API client the config describes.
pub fn web_api(config: &Config) -> anyhow::Result<WebApi> {
    web_api_with(config, None, None)
}

fn web_api_with(
    config: &Config,
    metrics: Option<Metrics>,
    features: Option<&crate::features::Availability>,
) -> anyhow::Result<WebApi> {
    let mut options = WebApiOptions::new(
        config.slack.api_url.as_str(),
        config
            .slack
            .app_token
            .as_ref()
            .map(|t| t.expose().to_owned()),
        config
            .slack
            .bot_token
            .as_ref()
            .map(|t| t.expose().to_owned()),
    );
    options.metrics = metrics;
    options.on_missing_scope = features.map(scopes::hook);
    WebApi::new(options)
}

fn socket_options(config: &Config) -> SocketOptions {
    SocketOptions {
        connections: config.slack.connections,
        timings: ConnectionTimings {
            ping_interval: config.socket.ping_interval,
            hello_timeout: config.socket.hello_timeout,
            retire_grace: SocketOptions::default().timings.retire_grace,
        },
        backoff: Backoff {
            initial: config.socket.reconnect_backoff_initial,
            max: config.socket.reconnect_backoff_max,
        },
    }
}

/// Opens the store, checks the bot token, then starts Socket Mode and the outbox
/// sender in the background. With a PostgreSQL store shared by several instances,
/// use [`leader::run`], which starts this only while holding the lease.
pub async fn start(config: &Config) -> anyhow::Result<Running> {
    // The store first: a second c1bot on the same directory stops here, before it
    // touches Slack.
    let store = match &config.store.url {
        Some(url) => Store::connect(url).await?,
        None => Store::open(&config.data_dir)?,
    };
    start_on(config, store, None).await
}

/// [`start`] on a store already open; `role` is this instance's lease (shared
/// PostgreSQL store), reported by `/readyz` and the `c1bot_leader` gauge.
pub async fn start_on(
    config: &Config,
    store: Store,
    role: Option<leader::Role>,
) -> anyhow::Result<Running> {
    // Data written before the indexes existed (or under an older definition of them)
    // is indexed once, before anything reads through them.
    store
        .reindex::<crate::workflow::request::AccessRequest>(
            crate::store::Table::Requests,
            shared::request_index::INDEX_VERSION,
        )
        .await
        .context("indexing requests")?;
    store
        .reindex::<crate::campaign::Campaign>(
            crate::store::Table::Campaigns,
            campaigns::INDEX_VERSION,
        )
        .await
        .context("indexing campaigns")?;
    let policies = Policies::load(&config.policies_dir).context("loading policies")?;
    let templates = Templates::load(&config.blocks_dir).context("loading Block Kit templates")?;
    let metrics = Metrics::default();
    if let Some(role) = &role {
        role.report(&metrics);
    }
    let features = crate::features::Availability::new(config.features.clone(), metrics.clone());
    let web = web_api_with(config, Some(metrics.clone()), Some(&features))?;
    let (team, granted) = check_bot_token(&web).await?;
    scopes::check_at_start(&features, granted.as_deref())?;
    let clock = crate::clock::Clock::new(config.clock_offset);
    if config.clock_offset > Duration::ZERO {
        tracing::warn!(
            offset_secs = config.clock_offset.as_secs(),
            "the clock runs ahead of the system clock (C1BOT_CLOCK_OFFSET_SECS)"
        );
    }
    let (home_viewers, homes) = (
        shared::services::HomeViewers::default(),
        shared::home_refresh::HomeQueue::default(),
    );
    let consequences = shared::consequences::Consequences::none().subscribe(
        status::republish_on_commit(homes.clone(), home_viewers.clone()),
    );
    let services = Services {
        web: web.clone(),
        store: store.clone(),
        catalog: config.catalog.clone(),
        templates: shared::services::Shared::new(templates),
        policies: shared::services::Shared::new(policies),
        directory: Directory::new(web.clone()),
        command: config.slack.command.as_str().to_owned(),
        team,
        requests: config.requests,
        grants: config.grants,
        clock: clock.clone(),
        home_viewers,
        homes,
        consequences,
        provisioners: crate::provisioner::Runner::new(&config.catalog, |name| {
            config.provisioner_secrets.get(name)
        })
        .context("setting up the automatic provisioners")?,
        jobs: shared::handles::Jobs::default(),
        activity: config.activity.clone(),
        break_glass: config.break_glass.clone(),
        metrics: metrics.clone(),
        intake: journal::InFlight::default(),
        tasks: tokio_util::task::TaskTracker::new(),
        failing_timers: shared::handles::FailingTimers::default(),
        burst: crate::burst::Burst::default(),
        faults: shared::services::InjectedFaults::new(config.faults),
        features: features.clone(),
        step_up: config.step_up_key.as_ref().map(shared::seal::Sealer::new),
    };
    if config.faults != crate::config::Faults::default() {
        tracing::warn!(faults = ?config.faults, "faults are injected on purpose (C1BOT_FAULTS)");
    }
    let services_tasks = services.tasks.clone();
    let reloader = Reloader {
        policies: services.policies.clone(),
        templates: services.templates.clone(),
        policies_dir: config.policies_dir.clone(),
        blocks_dir: config.blocks_dir.clone(),
        metrics: metrics.clone(),
    };
    let handler = C1Handler {
        services: services.clone(),
    };
    let dispatcher = Dispatcher::new(handler, Arc::new(metrics.clone()));
    let socket = SocketMode::new(web.clone(), dispatcher.clone(), socket_options(config));
    let status = socket.status();
    let shutdown = CancellationToken::new();
    // The sender outlives the socket: it stops only after in-flight envelopes have
    // committed their messages, so as much as possible is delivered before exit.
    let sender_stop = CancellationToken::new();
    let supervisor = Supervisor::new(metrics.clone());
    let sender = {
        let (store, stop, burst) = (store.clone(), sender_stop.clone(), services.burst.clone());
        supervisor.spawn(
            "outbox",
            outbox_sender::STALE_AFTER,
            sender_stop.clone(),
            move |beat| {
                outbox_sender::run(
                    store.clone(),
                    web.clone(),
                    burst.clone(),
                    stop.clone(),
                    beat,
                )
            },
        )
    };
    let timer_services = services.clone();
    let timer_stop = sender_stop.clone();
    let timers = supervisor.spawn(
        "timer",
        timers::STALE_AFTER,
        sender_stop.clone(),
        move |beat| timers::run(timer_services.clone(), beat, timer_stop.clone()),
    );
    let journal_services = services.clone();
    let journal_stop = sender_stop.clone();
    let intake = supervisor.spawn(
        "intake",
        JOURNAL_STALE_AFTER,
        sender_stop.clone(),
        move |beat| journal::run(journal_services.clone(), beat, journal_stop.clone()),
    );
    let probe_store = store.clone();
    let probe_stop = sender_stop.clone();
    let store_probe = supervisor.spawn(
        "store-probe",
        upkeep::PROBE_STALE_AFTER,
        sender_stop.clone(),
        move |beat| upkeep::store_probe(probe_store.clone(), beat, probe_stop.clone()),
    );
    let group_services = services.clone();
    let group_stop = sender_stop.clone();
    let groups = supervisor.spawn(
        "groups",
        upkeep::REFRESH_STALE_AFTER,
        sender_stop.clone(),
        move |beat| upkeep::refresh_groups(group_services.clone(), beat, group_stop.clone()),
    );
    let homes = {
        let (services, stop) = (services.clone(), sender_stop.clone());
        supervisor.spawn(
            "homes",
            shared::home_refresh::STALE_AFTER,
            sender_stop.clone(),
            move |beat| status::publish_marked_homes(services.clone(), beat, stop.clone()),
        )
    };
    let retention = {
        let (store, clock, metrics) = (store.clone(), clock.clone(), metrics.clone());
        let (config, stop) = (config.retention, sender_stop.clone());
        supervisor.spawn(
            "retention",
            retention::STALE_AFTER,
            sender_stop.clone(),
            move |beat| {
                retention::run(
                    store.clone(),
                    clock.clone(),
                    config,
                    metrics.clone(),
                    beat,
                    stop.clone(),
                )
            },
        )
    };
    let anchor = audit_anchor::spawn(&supervisor, store.clone(), config, sender_stop.clone());
    let (scope_web, scope_features, scope_stop) =
        (services.web.clone(), features.clone(), sender_stop.clone());
    let scope_check = supervisor.spawn(
        "scopes",
        scopes::RECHECK_STALE_AFTER,
        sender_stop.clone(),
        move |beat| {
            scopes::recheck(
                scope_web.clone(),
                scope_features.clone(),
                beat,
                scope_stop.clone(),
            )
        },
    );
    metrics.add_source(Arc::new(gauges::StoreGauges {
        store: store.clone(),
        clock: clock.clone(),
        revoke_overdue_after: config.grants.revoke_overdue_after,
        revoke_started: Default::default(),
    }));
    metrics.add_source(Arc::new(gauges::quarantine::QuarantineGauges {
        store: store.clone(),
    }));
    if let Some(sled) = store.sled() {
        admin::serve(sled.clone(), &config.data_dir, sender_stop.clone())?;
    }
    let health_addr = match config.health.listen {
        Some(addr) => {
            let watched = supervisor.clone();
            let loops_check: crate::health::ReadyCheck = Arc::new(move || {
                let problems = watched.problems();
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems.join("; "))
                }
            });
            let health = crate::health::Health {
                socket: status.clone(),
                metrics: metrics.clone(),
                checks: vec![loops_check, features_check(&features)],
                notes: vec![features_notes(&features)],
                role: role.clone(),
            };
            Some(crate::health::serve(addr, health, sender_stop.clone()).await?)
        }
        None => None,
    };
    let stop = shutdown.clone();
    let running_store = store.clone();
    let services_tasks = services_tasks.clone();
    let task = tokio::spawn(async move {
        let outcome = socket.run(stop).await;
        let tracker = dispatcher.tracker();
        tracker.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "shutdown: some envelopes were still being handled after {} s",
                DRAIN_TIMEOUT.as_secs()
            );
        }
        // Work handlers started in the background (App Home, provisioner runs).
        let tasks = &services_tasks;
        tasks.close();
        if tokio::time::timeout(DRAIN_TIMEOUT, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("shutdown: background work still running after {} s; what it had not committed is redone at start-up", DRAIN_TIMEOUT.as_secs());
        }
        sender_stop.cancel();
        let _ = sender.await;
        let _ = timers.await;
        let _ = intake.await;
        let _ = store_probe.await;
        let _ = groups.await;
        let _ = retention.await;
        let _ = homes.await;
        let _ = anchor.await;
        let _ = scope_check.await;
        if let Err(error) = store.flush().await {
            tracing::error!(%error, "shutdown: flushing the store failed");
        }
        outcome.map_err(anyhow::Error::from)
    });
    Ok(Running {
        status,
        clock,
        store: running_store,
        metrics,
        health_addr,
        reloader,
        shutdown,
        task,
    })
}

/// `auth.test`: a bad bot token stops start-up with a sentence that says what to fix.
/// Returns the team and the scopes the token holds (`None` when Slack did not say).
async fn check_bot_token(web: &WebApi) -> anyhow::Result<(NamedId, Option<Vec<String>>)> {
    let response = match web.call(methods::AUTH_TEST, serde_json::json!({})).await {
        Ok(response) => response,
        Err(WebApiError::Slack { code, .. }) => anyhow::bail!(
            "Slack refused SLACK_BOT_TOKEN ({code}): copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions, and reinstall the app if it was revoked"
        ),
        Err(other) => return Err(anyhow::Error::from(other).context("checking the bot token with auth.test")),
    };
    let who: crate::slack::web::answers::AuthTest =
        serde_json::from_value(response.body).unwrap_or_default();
    let known = |text: String| {
        if text.is_empty() {
            "?".to_owned()
        } else {
            text
        }
    };
    let team = NamedId {
        id: known(who.team_id),
        name: known(who.team),
    };
    tracing::info!(team = %team.name, bot_user = %known(who.user_id), "bot token accepted by Slack");
    Ok((team, response.scopes))
}

/// `/readyz` fails while a core scope is missing (nothing works without it).
fn features_check(features: &crate::features::Availability) -> crate::health::ReadyCheck {
    let features = features.clone();
    Arc::new(
        move || match features.refusal(crate::features::FeatureId::Core) {
            Some(why) => Err(why),
            None => Ok(()),
        },
    )
}

/// `/readyz` names every feature waiting for a scope, while c1bot stays ready.
fn features_notes(features: &crate::features::Availability) -> crate::health::ReadyNote {
    let features = features.clone();
    Arc::new(move || features.problems())
}
