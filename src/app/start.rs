//! Start-up and shutdown of the bot: opening the store, building [`Services`], and
//! running Socket Mode and the supervised loops (outbox, timers, intake, upkeep,
//! retention, Home publishes, scope rechecks) until told to stop, then draining them.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::outbox_sender;
use crate::policy::Policies;
use crate::slack::dispatch::Dispatcher;
use crate::slack::socket::SocketMode;
use crate::store::Store;
use crate::supervise::Supervisor;
use crate::templates::Templates;

use super::connect::{
    check_bot_token, features_check, features_notes, socket_options, web_api_with,
};
use super::handler::C1Handler;
use super::running::{Reloader, Running};
use super::shared::directory::Directory;
use super::shared::services::Services;
use super::{
    admin, audit_anchor, campaigns, gauges, journal, leader, retention, scopes, shared, status,
    timers, upkeep,
};

/// How long shutdown waits for envelopes already received to be handled and acked.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The journal loop passes at least every few seconds.
const JOURNAL_STALE_AFTER: Duration = Duration::from_secs(120);

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
