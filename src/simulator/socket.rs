//! The Socket Mode server: one-time tickets, the websocket handshake, `hello`,
//! reading acks, server pings, `disconnect` frames and closing sockets (cleanly
//! or abruptly). Owns the per-socket bookkeeping; envelope choice and retries
//! live in `delivery`.
//!
//! Each socket is served by one task that owns the whole `WebSocketStream` (no
//! split), so an abrupt drop really closes TCP without a close frame.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::{http, Message as WsMessage};

use super::delivery::{AckRecord, Delivery};
use super::{payloads, Inner, Simulator};

/// Slack's documented cap on open sockets per app.
pub const MAX_SOCKETS: usize = 10;

/// One socket as a test can inspect it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionInfo {
    pub id: u64,
    pub opened_at: Instant,
    pub closed_at: Option<Instant>,
    /// The `disconnect` reason sent to it, if any.
    pub disconnect_sent: Option<String>,
    pub debug_reconnects: bool,
}

#[derive(Default)]
pub(crate) struct Sockets {
    /// Open sockets (got `hello`, not closed), by id: lower id = older.
    pub conns: BTreeMap<u64, Conn>,
    pub history: Vec<ConnectionInfo>,
    /// Unused tickets from apps.connections.open.
    pub tickets: HashMap<String, ()>,
    pub opened_total: usize,
    pub next_conn_id: u64,
    /// After a `link_disabled`, apps.connections.open fails.
    pub link_disabled: bool,
    /// Round-robin cursor for spreading envelopes.
    pub rr: usize,
    /// envelope_id -> every time it was sent.
    pub deliveries: HashMap<String, Vec<Delivery>>,
}

pub(crate) struct Conn {
    pub tx: mpsc::UnboundedSender<WsCmd>,
    /// A `disconnect` (warning / refresh_requested) was sent; prefer other sockets.
    pub draining: bool,
}

pub(crate) enum WsCmd {
    Text(String),
    /// Send a close frame, then stop.
    Close,
    /// Drop the TCP stream without a close frame.
    Abort,
}

impl Sockets {
    fn mark_closed(&mut self, id: u64) -> bool {
        let was_open = self.conns.remove(&id).is_some();
        if let Some(info) = self.history.iter_mut().find(|c| c.id == id) {
            info.closed_at.get_or_insert_with(Instant::now);
        }
        was_open
    }

    fn oldest(&self) -> Option<(u64, mpsc::UnboundedSender<WsCmd>)> {
        self.conns.iter().next().map(|(id, c)| (*id, c.tx.clone()))
    }
}

/// Accepts websocket connections until shutdown.
pub(crate) fn serve(inner: Arc<Inner>, listener: TcpListener) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = inner.shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        // Slack's edge does not hold small frames back; neither do we (Nagle off).
                        let _ = stream.set_nodelay(true);
                        tokio::spawn(serve_socket(inner.clone(), stream));
                    }
                    Err(error) => tracing::warn!(%error, "simulator: socket accept failed"),
                },
            }
        }
    });
}

fn reject(status: u16, why: &str) -> ErrorResponse {
    let mut resp = ErrorResponse::new(Some(why.to_string()));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::FORBIDDEN);
    resp
}

async fn serve_socket(inner: Arc<Inner>, stream: TcpStream) {
    let mut debug_reconnects = false;
    // The error type is fixed by tungstenite's handshake `Callback` trait.
    #[allow(clippy::result_large_err)]
    let check_ticket = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
        if inner.faults.take_refused_handshake() {
            return Err(reject(503, "handshake refused (injected fault)"));
        }
        let query = req.uri().query().unwrap_or("");
        let params: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        debug_reconnects = get("debug_reconnects") == Some("true");
        let ticket = get("ticket").unwrap_or("");
        if req.uri().path() != "/link/" || inner.sockets().tickets.remove(ticket).is_none() {
            return Err(reject(403, "unknown or used ticket"));
        }
        Ok(resp)
    };
    let mut ws = match tokio_tungstenite::accept_hdr_async(stream, check_ticket).await {
        Ok(ws) => ws,
        Err(error) => {
            tracing::debug!(%error, "simulator: websocket handshake refused");
            return;
        }
    };

    let (tx, mut rx) = mpsc::unbounded_channel();
    let (id, num_connections) = {
        let mut s = inner.sockets();
        s.next_conn_id += 1;
        (s.next_conn_id, s.conns.len() + 1)
    };
    if num_connections > MAX_SOCKETS {
        let frame = payloads::disconnect("too_many_websockets", "applink-10");
        let _ = ws.send(WsMessage::text(frame.to_string())).await;
        let _ = ws.close(None).await;
        return;
    }
    let hello = payloads::hello(&inner, id, num_connections, debug_reconnects);
    if ws.send(WsMessage::text(hello.to_string())).await.is_err() {
        return;
    }
    {
        let mut s = inner.sockets();
        s.conns.insert(
            id,
            Conn {
                tx,
                draining: false,
            },
        );
        s.history.push(ConnectionInfo {
            id,
            opened_at: Instant::now(),
            closed_at: None,
            disconnect_sent: None,
            debug_reconnects,
        });
    }
    inner.bump();
    tracing::debug!(id, "simulator: socket open");

    let mut ping = inner
        .options
        .server_ping_interval
        .map(|period| tokio::time::interval_at(Instant::now() + period, period));
    loop {
        let tick = async {
            match ping.as_mut() {
                Some(interval) => interval.tick().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = inner.shutdown.cancelled() => break,
            cmd = rx.recv() => match cmd {
                Some(WsCmd::Text(text)) => {
                    if ws.send(WsMessage::text(text)).await.is_err() { break; }
                }
                Some(WsCmd::Close) => {
                    close_gracefully(&inner, id, &mut ws).await;
                    break;
                }
                Some(WsCmd::Abort) | None => break,
            },
            frame = ws.next() => match frame {
                Some(Ok(WsMessage::Text(text))) => on_frame(&inner, id, text.as_str()),
                Some(Ok(WsMessage::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
            _ = tick => {
                if ws.send(WsMessage::Ping("sim".into())).await.is_err() { break; }
            }
        }
    }
    // Dropping `ws` here shuts the TCP stream (without a close frame when aborting).
    if inner.sockets().mark_closed(id) {
        tracing::debug!(id, "simulator: socket closed");
    }
    inner.bump();
}

/// Sends a close frame, counts the socket as closed, and reads until the peer's
/// close reply (acks still in flight are recorded) or 1 s passes.
async fn close_gracefully(
    inner: &Inner,
    id: u64,
    ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
) {
    let _ = ws.close(None).await;
    inner.sockets().mark_closed(id);
    inner.bump();
    let drain = async {
        while let Some(Ok(frame)) = ws.next().await {
            if let WsMessage::Text(text) = frame {
                on_frame(inner, id, text.as_str());
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
}

/// An ack (`{"envelope_id":…, "payload":…}`) or anything else the app sends.
fn on_frame(inner: &Inner, conn: u64, text: &str) {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        tracing::warn!(conn, text, "simulator: non-JSON frame from the app");
        return;
    };
    let Some(envelope_id) = frame["envelope_id"].as_str() else {
        tracing::warn!(conn, text, "simulator: frame without envelope_id");
        return;
    };
    let now = Instant::now();
    let sent_at = {
        let s = inner.sockets();
        let sends = s.deliveries.get(envelope_id);
        sends
            .and_then(|d| {
                d.iter()
                    .rev()
                    .find(|d| d.connection_id == conn)
                    .or(d.last())
            })
            .map(|d| d.at)
    };
    let record = AckRecord {
        envelope_id: envelope_id.to_string(),
        payload: frame.get("payload").filter(|p| !p.is_null()).cloned(),
        connection_id: conn,
        latency: sent_at
            .map(|t| now.saturating_duration_since(t))
            .unwrap_or_default(),
        at: now,
        known: sent_at.is_some(),
    };
    inner.world().acks.push(record);
    inner.bump();
}

impl Simulator {
    /// Sockets that got `hello` and are not closed.
    pub fn open_connections(&self) -> usize {
        self.inner.sockets().conns.len()
    }

    /// How many times apps.connections.open succeeded.
    pub fn connections_opened_total(&self) -> usize {
        self.inner.sockets().opened_total
    }

    /// Every socket that got `hello`, open or closed, oldest first.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.inner.sockets().history.clone()
    }

    pub async fn wait_for_connections(&self, n: usize, within: Duration) -> anyhow::Result<()> {
        let me = self.clone();
        self.inner
            .wait_until(within, |_| (me.open_connections() >= n).then_some(()))
            .await
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{} open connections after {within:?}, wanted {n}",
                    self.open_connections()
                )
            })
    }

    /// `disconnect` to the oldest open socket. `warning` closes it after 10 s,
    /// `refresh_requested` after 3 s (both UNVERIFIED for real Slack); use
    /// [`Simulator::send_disconnect_with`] to choose. `link_disabled` closes every socket.
    pub async fn send_disconnect(&self, reason: &str) -> anyhow::Result<()> {
        let close_after = match reason {
            "warning" => Duration::from_secs(10),
            _ => Duration::from_secs(3),
        };
        self.send_disconnect_with(reason, close_after).await
    }

    /// `disconnect` with `reason` to the oldest open socket, which the simulator
    /// closes itself after `close_after`. Until then it still takes acks, and gets
    /// new envelopes only if it is the only open socket.
    pub async fn send_disconnect_with(
        &self,
        reason: &str,
        close_after: Duration,
    ) -> anyhow::Result<()> {
        let frame = payloads::disconnect(reason, "wss-sim-1.slack.test").to_string();
        let mut s = self.inner.sockets();
        let (id, tx) = s
            .oldest()
            .ok_or_else(|| anyhow::anyhow!("no open socket to disconnect"))?;
        tx.send(WsCmd::Text(frame.clone()))
            .map_err(|_| anyhow::anyhow!("socket {id} already closing"))?;
        if let Some(info) = s.history.iter_mut().find(|c| c.id == id) {
            info.disconnect_sent = Some(reason.to_string());
        }
        if reason == "link_disabled" {
            // Slack's behaviour after link_disabled is UNVERIFIED: we make every
            // later apps.connections.open fail with `invalid_auth`, and close all sockets.
            s.link_disabled = true;
            for (other, conn) in &s.conns {
                if *other != id {
                    let _ = conn.tx.send(WsCmd::Text(frame.clone()));
                }
                let _ = conn.tx.send(WsCmd::Close);
            }
            return Ok(());
        }
        if let Some(conn) = s.conns.get_mut(&id) {
            conn.draining = true;
        }
        drop(s);
        let shutdown = self.inner.shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = tokio::time::sleep(close_after) => { let _ = tx.send(WsCmd::Close); }
                _ = shutdown.cancelled() => {}
            }
        });
        Ok(())
    }

    /// The oldest socket's TCP stream is shut without a close frame.
    pub async fn drop_connection_abruptly(&self) -> anyhow::Result<()> {
        let (id, tx) = self
            .inner
            .sockets()
            .oldest()
            .ok_or_else(|| anyhow::anyhow!("no open socket to drop"))?;
        let _ = tx.send(WsCmd::Abort);
        self.wait_closed(&[id]).await;
        Ok(())
    }

    /// Every socket's TCP stream is shut without a close frame.
    pub async fn drop_all_connections_abruptly(&self) {
        let ids: Vec<u64> = {
            let s = self.inner.sockets();
            s.conns.values().for_each(|c| {
                let _ = c.tx.send(WsCmd::Abort);
            });
            s.conns.keys().copied().collect()
        };
        self.wait_closed(&ids).await;
    }

    async fn wait_closed(&self, ids: &[u64]) {
        let me = self.clone();
        let closed = move |_: &Inner| {
            let s = me.inner.sockets();
            ids.iter().all(|id| !s.conns.contains_key(id)).then_some(())
        };
        let _ = self.inner.wait_until(Duration::from_secs(2), closed).await;
    }
}
