//! What [`start`](fn@super::start) hands back: the [`Running`] bot, to stop or wait for,
//! and its [`Reloader`], which swaps policies and templates on SIGHUP.

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::policy::Policies;
use crate::slack::socket::SocketStatus;
use crate::store::Store;
use crate::templates::Templates;

use super::shared;

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
    pub(super) shutdown: CancellationToken,
    pub(super) task: JoinHandle<anyhow::Result<()>>,
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
    pub(super) policies: shared::services::Shared<Policies>,
    pub(super) templates: shared::services::Shared<Templates>,
    pub(super) policies_dir: std::path::PathBuf,
    pub(super) blocks_dir: std::path::PathBuf,
    pub(super) metrics: Metrics,
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
