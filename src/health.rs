//! The optional health and metrics listener: `/healthz` (the process is alive),
//! `/readyz` (connected to Slack, store open; with a shared PostgreSQL store, serving or
//! standing by) and `/metrics` (Prometheus text).
//!
//! Off by default; bound to 127.0.0.1 unless configured otherwise, because metrics
//! name internal methods and counts that need not leave the host.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::slack::socket::SocketStatus;

/// Something that must be true for c1bot to be ready, with a name for `/readyz`.
pub type ReadyCheck = Arc<dyn Fn() -> Result<(), String> + Send + Sync>;

/// Sentences `/readyz` shows without failing (a feature switched off, waiting for
/// an admin), one per line after the verdict.
pub type ReadyNote = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

#[derive(Clone)]
pub struct Health {
    pub socket: SocketStatus,
    pub metrics: Metrics,
    /// Further checks (the store is open, …).
    pub checks: Vec<ReadyCheck>,
    /// With a shared (PostgreSQL) store: whether this instance serves or stands by.
    pub role: Option<crate::app::leader::Role>,
    /// Shown, never failing.
    pub notes: Vec<ReadyNote>,
}

/// Serves until `shutdown`; returns the bound address at once.
pub async fn serve(
    addr: SocketAddr,
    health: Health,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    Ok(serve_task(addr, health, shutdown).await?.0)
}

/// [`serve`], also returning the task, which ends once the listener is closed.
pub async fn serve_task(
    addr: SocketAddr,
    health: Health,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("binding the health listener on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(health);
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "health listener stopped");
        }
    });
    tracing::info!(%bound, "health and metrics listener up");
    Ok((bound, task))
}

async fn ready(State(health): State<Health>) -> impl IntoResponse {
    if let Some(role) = health.role.as_ref().filter(|r| !r.is_serving()) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("standby: {}\n", role.describe()),
        );
    }
    let mut problems = Vec::new();
    if health.socket.open_connections() == 0 {
        problems.push("no Socket Mode connection to Slack".to_owned());
    }
    problems.extend(health.checks.iter().filter_map(|check| check().err()));
    let notes: String = health
        .notes
        .iter()
        .flat_map(|note| note())
        .map(|line| format!("degraded: {line}\n"))
        .collect();
    if problems.is_empty() {
        let serving = match &health.role {
            Some(role) => format!("ready: serving ({})\n{notes}", role.describe()),
            None => format!("ready\n{notes}"),
        };
        (StatusCode::OK, serving)
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n{notes}", problems.join("; ")),
        )
    }
}

async fn metrics(State(health): State<Health>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        health.metrics.render().await,
    )
}

/// `c1bot healthcheck`: asks a running c1bot's `/readyz`; true when ready.
pub async fn probe(addr: SocketAddr) -> Result<(), String> {
    let url = format!("http://{addr}/readyz");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("{url}: {status} {}", body.trim()))
    }
}
