//! A scripted app for the tests: calls the Web API and drives one socket.
//!
//! slack-morphism 2.31.1 does not export its Socket Mode models (the crate-root
//! `socket_mode` module shadows `models::socket_mode` in its glob re-exports),
//! so the frame-level required fields are mirrored here from its source
//! (`src/models/socket_mode/mod.rs`); payloads use the public event models.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::simulator::{SimOptions, Simulator, Workspace};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// `SlackSocketModeHelloEvent` and friends, fields as slack-morphism requires them.
#[derive(Debug, Deserialize)]
pub struct Hello {
    pub connection_info: ConnectionInfo,
    pub num_connections: u32,
    pub debug_info: DebugInfo,
}
#[derive(Debug, Deserialize)]
pub struct ConnectionInfo {
    pub app_id: String,
}
#[derive(Debug, Deserialize)]
pub struct DebugInfo {
    pub host: String,
    pub approximate_connection_time: Option<u64>,
}
#[derive(Debug, Deserialize)]
pub struct Disconnect {
    pub reason: String,
    pub debug_info: DebugInfo,
}
/// `SlackSocketModeEventEnvelopeParams`.
#[derive(Debug, Deserialize)]
pub struct EnvelopeParams {
    pub envelope_id: String,
    pub accepts_response_payload: bool,
}

pub fn fast() -> SimOptions {
    SimOptions {
        ack_timeout: Duration::from_millis(500),
        event_retry_delays: vec![Duration::from_millis(150); 3],
        server_ping_interval: Some(Duration::from_millis(100)),
        trigger_ttl: Duration::from_millis(500),
        ..SimOptions::default()
    }
}

pub async fn start() -> Simulator {
    start_with(fast()).await
}

pub async fn start_with(options: SimOptions) -> Simulator {
    Simulator::start(Workspace::demo(), options)
        .await
        .expect("simulator starts")
}

/// A Web API call with a JSON body; returns (status, headers, body).
pub async fn call(
    sim: &Simulator,
    method: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{}{method}", sim.api_url()))
        .json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("http call");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body: Value = resp.json().await.expect("json body");
    (status, headers, body)
}

pub async fn bot(sim: &Simulator, method: &str, body: Value) -> Value {
    call(sim, method, Some(&sim.bot_token()), body).await.2
}

/// Opens a socket like an app: apps.connections.open, connect, read `hello`.
pub async fn connect(sim: &Simulator) -> (Ws, Value) {
    let (_, _, body) = call(
        sim,
        "apps.connections.open",
        Some(&sim.app_token()),
        json!({}),
    )
    .await;
    let url = body["url"]
        .as_str()
        .expect("url in apps.connections.open")
        .to_string();
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("ws connect");
    let hello = next_frame(&mut ws).await.expect("hello frame");
    (ws, hello)
}

/// The next JSON text frame, skipping control frames; `None` on close/EOF/timeout.
pub async fn next_frame(ws: &mut Ws) -> Option<Value> {
    let read = async {
        while let Some(Ok(frame)) = ws.next().await {
            match frame {
                WsMessage::Text(t) => return serde_json::from_str(t.as_str()).ok(),
                WsMessage::Close(_) => return None,
                _ => {}
            }
        }
        None
    };
    tokio::time::timeout(Duration::from_secs(3), read)
        .await
        .ok()
        .flatten()
}

pub async fn ack(ws: &mut Ws, envelope: &Value, payload: Option<Value>) {
    let mut frame = json!({"envelope_id": envelope["envelope_id"]});
    if let Some(p) = payload {
        frame["payload"] = p;
    }
    ws.send(WsMessage::text(frame.to_string()))
        .await
        .expect("send ack");
}

/// What the scripted bot does with an envelope: `None` = never ack.
pub type Responder = Box<dyn Fn(&Value) -> Option<Option<Value>> + Send>;

/// Runs a scripted app on one socket; every envelope it gets is kept.
pub struct Bot {
    pub seen: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl Bot {
    pub async fn spawn(sim: &Simulator, respond: Responder) -> Bot {
        let (mut ws, _) = connect(sim).await;
        sim.wait_for_connections(1, Duration::from_secs(1))
            .await
            .expect("bot connected");
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let keep = seen.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = ws.next().await {
                let WsMessage::Text(text) = frame else {
                    continue;
                };
                let Ok(env) = serde_json::from_str::<Value>(text.as_str()) else {
                    continue;
                };
                if env.get("envelope_id").is_none() {
                    continue;
                }
                keep.lock().expect("lock").push(env.clone());
                if let Some(payload) = respond(&env) {
                    ack(&mut ws, &env, payload).await;
                }
            }
        });
        Bot { seen }
    }

    /// Envelopes whose payload type (or envelope type) is `kind`.
    pub fn seen(&self, kind: &str) -> Vec<Value> {
        let all = self.seen.lock().expect("lock").clone();
        all.into_iter()
            .filter(|e| e["type"] == kind || e["payload"]["type"] == kind)
            .collect()
    }
}
