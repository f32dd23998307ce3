//! One Socket Mode connection: `apps.connections.open`, the websocket, `hello`, the read
//! loop, pings, and an orderly retirement.
//!
//! The read loop only parses frames and hands envelopes to the [`Dispatcher`]; a
//! separate writer task owns the sink, so acks, pings and the close frame never wait
//! on reading. What happens next (replace, reconnect, stop) is the
//! [`socket`](super::socket) supervisor's decision, reported to it as [`ConnEvent`]s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::task::TaskTracker;

use super::dispatch::{ack_bare, Dispatcher, EnvelopeHandler, Outgoing};
use super::frame::{DisconnectReason, Frame};
use super::web::{methods, WebApi, WebApiError};

/// Timings for one connection.
/// A retiring link sends its Close only after this long without a frame from Slack…
const QUIET_BEFORE_CLOSE: Duration = Duration::from_millis(100);
/// …or once it has waited this long for such a moment.
const MAX_WAIT_FOR_QUIET: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy)]
pub struct ConnectionTimings {
    /// We ping this often; a link silent for three intervals is dead.
    pub ping_interval: Duration,
    /// How long to wait for `hello` after the websocket opens (and for the open itself).
    pub hello_timeout: Duration,
    /// After its replacement is up, how long a retiring link is left for Slack to close
    /// before we close it ourselves. It keeps acking meanwhile.
    pub retire_grace: Duration,
}

/// What a connection tells its supervisor.
#[derive(Debug)]
pub enum ConnEvent {
    Disconnect(DisconnectReason),
    Closed(String),
}

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Retrying cannot help (revoked or wrong token, Socket Mode off).
    #[error("{0}")]
    Fatal(String),
    #[error("{0}")]
    Transient(String),
}

/// A connection that has said `hello`.
pub struct LiveConnection {
    pub id: u64,
    pub opened: Instant,
    pub events: mpsc::UnboundedReceiver<ConnEvent>,
    retire: Option<oneshot::Sender<()>>,
}

impl LiveConnection {
    /// Hands the link over to its replacement: it keeps acking until Slack closes it,
    /// or until the grace period ends and its in-flight envelopes are acked.
    pub fn retire(mut self) {
        if let Some(retire) = self.retire.take() {
            let _ = retire.send(());
        }
    }

    /// Closes without a grace period and waits (bounded) until the link is closed:
    /// its in-flight envelopes acked, a quiet moment found, the close handshake done.
    /// Shutdown uses this, so the process never exits under an open link.
    pub async fn close(mut self) {
        drop(self.retire.take());
        let closed = async {
            while let Some(event) = self.events.recv().await {
                if matches!(event, ConnEvent::Closed(_)) {
                    return;
                }
            }
        };
        let bound = MAX_WAIT_FOR_QUIET + Duration::from_secs(3);
        if tokio::time::timeout(bound, closed).await.is_err() {
            tracing::warn!(
                connection = self.id,
                "shutdown: the link did not close in time"
            );
        }
    }

    /// Closes without a grace period, once in-flight envelopes are acked.
    pub fn retire_now(self) {
        // Dropping the retire handle tells the reader its supervisor is gone.
        drop(self);
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Slack error codes from `apps.connections.open` that no retry can fix.
const FATAL_CODES: &[(&str, &str)] = &[
    ("invalid_auth", "the app-level token (SLACK_APP_TOKEN) is not valid for any workspace: copy it again from Basic Information → App-Level Tokens"),
    ("not_authed", "no app-level token was sent: set SLACK_APP_TOKEN to the xapp- token"),
    ("token_revoked", "the app-level token (SLACK_APP_TOKEN) was revoked: generate a new one under Basic Information → App-Level Tokens with the connections:write scope"),
    ("account_inactive", "the app-level token (SLACK_APP_TOKEN) belongs to a deleted app or a deactivated workspace"),
    ("not_allowed_token_type", "SLACK_APP_TOKEN is not an app-level token: it must start with xapp- and have the connections:write scope"),
    ("missing_scope", "the app-level token (SLACK_APP_TOKEN) lacks the connections:write scope: generate one with that scope under Basic Information → App-Level Tokens"),
    ("forbidden_team", "this workspace does not allow the app to connect"),
];

/// Opens one connection and waits for its `hello`.
pub async fn open<H: EnvelopeHandler>(
    web: &WebApi,
    dispatcher: &Dispatcher<H>,
    timings: ConnectionTimings,
    live: &super::socket::SocketStatus,
) -> Result<LiveConnection, ConnectError> {
    let url = match web.call(methods::APPS_CONNECTIONS_OPEN, json!({})).await {
        Ok(response) => response
            .body
            .get("url")
            .and_then(|u| u.as_str())
            .map(str::to_owned)
            .ok_or_else(|| {
                ConnectError::Transient("apps.connections.open returned no url".into())
            })?,
        Err(WebApiError::Slack { code, .. }) => {
            return Err(match FATAL_CODES.iter().find(|(c, _)| *c == code) {
                Some((code, hint)) => {
                    ConnectError::Fatal(format!("apps.connections.open failed with {code}: {hint}"))
                }
                None => {
                    ConnectError::Transient(format!("apps.connections.open failed with {code}"))
                }
            })
        }
        Err(WebApiError::MissingToken { .. }) => {
            return Err(ConnectError::Fatal(
                "SLACK_APP_TOKEN is not set: Socket Mode needs the app-level token (xapp-…)".into(),
            ))
        }
        Err(other) => return Err(ConnectError::Transient(other.to_string())),
    };

    let connect = tokio::time::timeout(
        timings.hello_timeout,
        tokio_tungstenite::connect_async_with_config(url.as_str(), None, true),
    );
    let (socket, _) = match connect.await {
        Ok(Ok(socket)) => socket,
        Ok(Err(e)) => {
            return Err(ConnectError::Transient(format!(
                "websocket connect failed: {e}"
            )))
        }
        Err(_) => {
            return Err(ConnectError::Transient(
                "websocket connect timed out".into(),
            ))
        }
    };

    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let (hello_tx, hello_rx) = oneshot::channel();
    let (events_tx, events) = mpsc::unbounded_channel();
    let (retire_tx, retire_rx) = oneshot::channel();
    let reader = Reader {
        id,
        dispatcher: dispatcher.clone(),
        timings,
        events: events_tx,
        live: live.clone(),
    };
    tokio::spawn(reader.run(socket, hello_tx, retire_rx));

    match tokio::time::timeout(timings.hello_timeout, hello_rx).await {
        Ok(Ok(())) => Ok(LiveConnection {
            id,
            opened: Instant::now(),
            events,
            retire: Some(retire_tx),
        }),
        Ok(Err(_)) => Err(ConnectError::Transient(
            "the link closed before hello".into(),
        )),
        Err(_) => {
            // Dropping the retire sender ends the reader as if it were retired.
            Err(ConnectError::Transient(
                "no hello within the timeout".into(),
            ))
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Reader<H> {
    id: u64,
    dispatcher: Dispatcher<H>,
    timings: ConnectionTimings,
    events: mpsc::UnboundedSender<ConnEvent>,
    live: super::socket::SocketStatus,
}

impl<H: EnvelopeHandler> Reader<H> {
    async fn run(
        self,
        socket: Socket,
        hello: oneshot::Sender<()>,
        mut retire: oneshot::Receiver<()>,
    ) {
        let (mut sink, mut stream) = socket.split();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outgoing>();
        let writer = tokio::spawn(async move {
            while let Some(out) = out_rx.recv().await {
                let (message, last) = match out {
                    Outgoing::Text(text) => (Message::text(text), false),
                    Outgoing::Ping => (Message::Ping(Vec::new().into()), false),
                    Outgoing::Close => (Message::Close(None), true),
                };
                if sink.send(message).await.is_err() || last {
                    break;
                }
            }
        });

        let in_flight = TaskTracker::new();
        let mut hello = Some(hello);
        let mut last_frame = Instant::now();
        let mut pings = tokio::time::interval(self.timings.ping_interval);
        pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        pings.tick().await;
        // None: serving. Some(t): retiring; at t, close once nothing is in flight.
        let mut close_at: Option<Instant> = None;
        let mut retiring_since: Option<Instant> = None;
        let mut close_sent: Option<Instant> = None;
        let mut last_text = Instant::now();
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let retired = self.live.clone();

        let why = loop {
            let deadline = close_sent
                .map(|t| t + Duration::from_secs(2))
                .or(close_at)
                .unwrap_or(far);
            tokio::select! {
                message = stream.next() => match message {
                    Some(Ok(Message::Text(text))) => {
                        last_frame = Instant::now();
                        last_text = last_frame;
                        self.on_text(&text, &out_tx, &in_flight, &mut hello, close_sent.is_some());
                    }
                    Some(Ok(Message::Close(frame))) => {
                        break format!("closed by Slack{}", frame.map(|f| format!(" ({} {})", f.code, f.reason)).unwrap_or_default());
                    }
                    Some(Ok(_)) => last_frame = Instant::now(),
                    Some(Err(e)) => break format!("read error: {e}"),
                    None => break "the link ended without a close frame".to_owned(),
                },
                _ = pings.tick() => {
                    let silent = last_frame.elapsed();
                    if silent > self.timings.ping_interval * 3 {
                        break format!("no frame for {} s: link presumed dead", silent.as_secs());
                    }
                    let _ = out_tx.send(Outgoing::Ping);
                }
                result = &mut retire, if close_at.is_none() => {
                    // Err: the supervisor is gone (shutdown, or hello never came).
                    let grace = if result.is_ok() { self.timings.retire_grace } else { Duration::ZERO };
                    close_at = Some(Instant::now() + grace);
                    retiring_since = Some(Instant::now());
                }
                _ = sleep_until(deadline), if close_at.is_some() => {
                    if close_sent.is_some() {
                        break "closed by c1bot (no close reply from Slack)".to_owned();
                    }
                    // An envelope Slack writes after our Close cannot be acked (acks go
                    // on the same link, and nothing may follow a Close), so the Close
                    // waits for a quiet moment on the link, within a bound.
                    let quiet = last_text.elapsed() >= QUIET_BEFORE_CLOSE
                        || retiring_since.is_some_and(|t| t.elapsed() >= MAX_WAIT_FOR_QUIET);
                    if in_flight.is_empty() && quiet {
                        tracing::debug!(connection = self.id, "retiring connection: sending close");
                        let _ = out_tx.send(Outgoing::Close);
                        close_sent = Some(Instant::now());
                    } else {
                        // Acks still being computed must go out on this link.
                        close_at = Some(Instant::now() + Duration::from_millis(20));
                    }
                }
            }
        };

        if hello.is_none() {
            retired.connection_closed();
        }
        tracing::info!(connection = self.id, reason = %why, "Socket Mode connection closed");
        let _ = self.events.send(ConnEvent::Closed(why));
        drop(out_tx);
        // Acks computed after the link died are dropped by the writer; let it finish.
        in_flight.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), in_flight.wait()).await;
        writer.abort();
    }

    fn on_text(
        &self,
        text: &str,
        out: &mpsc::UnboundedSender<Outgoing>,
        in_flight: &TaskTracker,
        hello: &mut Option<oneshot::Sender<()>>,
        closing: bool,
    ) {
        match Frame::parse(text) {
            Ok(Frame::Hello {
                num_connections,
                app_id,
            }) => {
                if let Some(hello) = hello.take() {
                    self.live.connection_opened();
                    tracing::info!(connection = self.id, num_connections, app_id = %app_id, "Socket Mode connection ready");
                    let _ = hello.send(());
                }
            }
            Ok(Frame::Disconnect { reason }) => {
                tracing::info!(
                    connection = self.id,
                    reason = reason.as_str(),
                    "Slack asked to disconnect"
                );
                let _ = self.events.send(ConnEvent::Disconnect(reason));
            }
            Ok(Frame::Envelope(envelope)) => {
                if closing {
                    tracing::error!(connection = self.id, envelope_id = %envelope.envelope_id, "envelope arrived after c1bot closed the link; it cannot be acked here");
                    return;
                }
                self.dispatcher.dispatch(envelope, out.clone(), in_flight);
            }
            Ok(Frame::Unknown { kind, envelope_id }) => {
                tracing::warn!(connection = self.id, kind = %kind, "unknown Socket Mode frame type; acked and ignored");
                if let Some(envelope_id) = envelope_id {
                    ack_bare(out, &envelope_id);
                }
            }
            Err(e) => {
                tracing::warn!(connection = self.id, error = %e, "unreadable Socket Mode frame ignored")
            }
        }
    }
}
