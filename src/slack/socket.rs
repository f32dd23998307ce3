//! Socket Mode supervisor: keeps N connections open for the life of the process.
//!
//! Each slot holds one live connection. On `warning` or `refresh_requested` the slot
//! opens the replacement first and only then retires the old link, so there is never
//! a moment without a connection. An abrupt drop or a failed connect is retried with
//! capped exponential backoff and jitter. `link_disabled`, and token errors no retry
//! can fix, stop the whole supervisor with an error a person can act on.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use super::connection::{self, ConnEvent, ConnectError, ConnectionTimings, LiveConnection};
use super::dispatch::{Dispatcher, EnvelopeHandler};
use super::frame::DisconnectReason;
use super::web::WebApi;

/// How the supervisor behaves.
#[derive(Debug, Clone, Copy)]
pub struct SocketOptions {
    /// Connections kept open (Slack allows up to 10 per app).
    pub connections: usize,
    pub timings: ConnectionTimings,
    pub backoff: Backoff,
}

/// Why Socket Mode stopped for good.
#[derive(Debug, thiserror::Error)]
pub enum SocketModeError {
    #[error("Slack disabled Socket Mode for this app (disconnect reason link_disabled): turn it back on under Settings → Socket Mode in the app's configuration, then restart c1bot")]
    LinkDisabled,
    #[error("{0}")]
    AppToken(String),
}

/// Live connection count, shared with health checks and tests.
#[derive(Debug, Clone, Default)]
pub struct SocketStatus {
    open: Arc<AtomicUsize>,
}

impl SocketStatus {
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    pub(crate) fn connection_opened(&self) {
        self.open.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn connection_closed(&self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct SocketMode<H> {
    web: WebApi,
    dispatcher: Dispatcher<H>,
    options: SocketOptions,
    status: SocketStatus,
}

impl<H: EnvelopeHandler> SocketMode<H> {
    pub fn new(web: WebApi, dispatcher: Dispatcher<H>, options: SocketOptions) -> Self {
        Self {
            web,
            dispatcher,
            options,
            status: SocketStatus::default(),
        }
    }

    pub fn status(&self) -> SocketStatus {
        self.status.clone()
    }

    /// Runs until `shutdown` is cancelled (then `Ok`) or Socket Mode cannot go on.
    ///
    /// On shutdown every link stops being served and closes once its in-flight
    /// envelopes are acked; wait on the dispatcher's tracker to see their work finish.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), SocketModeError> {
        let stop = shutdown.child_token();
        let mut slots = JoinSet::new();
        for slot in 0..self.options.connections.max(1) {
            let supervisor = Slot {
                index: slot,
                web: self.web.clone(),
                dispatcher: self.dispatcher.clone(),
                options: self.options,
                status: self.status.clone(),
                stop: stop.clone(),
            };
            slots.spawn(supervisor.run());
        }
        let mut outcome = Ok(());
        while let Some(joined) = slots.join_next().await {
            if let Ok(Err(error)) = joined {
                tracing::error!(error = %error, "Socket Mode stopped");
                stop.cancel();
                if outcome.is_ok() {
                    outcome = Err(error);
                }
            }
        }
        outcome
    }
}

struct Slot<H> {
    index: usize,
    web: WebApi,
    dispatcher: Dispatcher<H>,
    options: SocketOptions,
    status: SocketStatus,
    stop: CancellationToken,
}

enum Next {
    Replace,
    Reconnect,
    Stop,
}

impl<H: EnvelopeHandler> Slot<H> {
    async fn run(self) -> Result<(), SocketModeError> {
        let mut failures = 0u32;
        let Some(mut current) = self.connect(&mut failures).await? else {
            return Ok(());
        };
        loop {
            let next = tokio::select! {
                _ = self.stop.cancelled() => Next::Stop,
                event = current.events.recv() => match event {
                    Some(ConnEvent::Disconnect(DisconnectReason::LinkDisabled)) => {
                        current.retire();
                        return Err(SocketModeError::LinkDisabled);
                    }
                    Some(ConnEvent::Disconnect(DisconnectReason::TooManyWebsockets)) => {
                        tracing::error!(slot = self.index, "Slack refused the link: too many websockets for this app (is another c1bot running with the same app token?)");
                        Next::Reconnect
                    }
                    Some(ConnEvent::Disconnect(_)) => Next::Replace,
                    Some(ConnEvent::Closed(_)) | None => Next::Reconnect,
                },
            };
            match next {
                Next::Stop => {
                    current.close().await;
                    return Ok(());
                }
                Next::Replace => {
                    tracing::info!(
                        slot = self.index,
                        connection = current.id,
                        "opening the replacement before letting the old link go"
                    );
                    // The old link keeps serving (its reader runs on its own task)
                    // while the replacement connects.
                    let Some(replacement) = self.connect(&mut failures).await? else {
                        current.retire_now();
                        return Ok(());
                    };
                    std::mem::replace(&mut current, replacement).retire();
                }
                Next::Reconnect => {
                    if current.opened.elapsed() < self.options.backoff.max {
                        failures += 1;
                    } else {
                        failures = 1;
                    }
                    current.retire_now();
                    if !self.pause(failures).await {
                        return Ok(());
                    }
                    let Some(fresh) = self.connect(&mut failures).await? else {
                        return Ok(());
                    };
                    current = fresh;
                }
            }
        }
    }

    /// Connects, retrying transient failures with backoff. `None` means shutdown.
    async fn connect(&self, failures: &mut u32) -> Result<Option<LiveConnection>, SocketModeError> {
        loop {
            if self.stop.is_cancelled() {
                return Ok(None);
            }
            let attempt = tokio::select! {
                _ = self.stop.cancelled() => return Ok(None),
                attempt = connection::open(&self.web, &self.dispatcher, self.options.timings, &self.status) => attempt,
            };
            match attempt {
                Ok(live) => {
                    tracing::info!(
                        slot = self.index,
                        connection = live.id,
                        open = self.status.open_connections(),
                        "Socket Mode link up"
                    );
                    return Ok(Some(live));
                }
                Err(ConnectError::Fatal(message)) => {
                    return Err(SocketModeError::AppToken(message))
                }
                Err(ConnectError::Transient(message)) => {
                    *failures += 1;
                    tracing::warn!(slot = self.index, attempt = *failures, error = %message, "Socket Mode connect failed");
                    if !self.pause(*failures).await {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Sleeps the backoff for this attempt. `false` if shutdown came first.
    async fn pause(&self, attempt: u32) -> bool {
        let delay = self.options.backoff.random_delay(attempt);
        tracing::info!(
            slot = self.index,
            attempt,
            delay_ms = delay.as_millis() as u64,
            "reconnecting after backoff"
        );
        tokio::select! {
            _ = self.stop.cancelled() => false,
            _ = tokio::time::sleep(delay) => true,
        }
    }
}

/// Default timings, as Slack's own SDKs use them.
impl Default for SocketOptions {
    fn default() -> Self {
        Self {
            connections: 2,
            timings: ConnectionTimings {
                ping_interval: Duration::from_secs(10),
                hello_timeout: Duration::from_secs(10),
                retire_grace: Duration::from_secs(10),
            },
            backoff: Backoff {
                initial: Duration::from_millis(500),
                max: Duration::from_secs(30),
            },
        }
    }
}
