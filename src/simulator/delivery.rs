//! Envelopes out: choosing a socket (round-robin, avoiding draining sockets),
//! counting deliveries, events_api redelivery with `retry_attempt`, the
//! `redeliver_everything` stress mode, and waiting for acks.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::socket::WsCmd;
use super::{payloads, Inner, Simulator};

/// An ack frame as received.
#[derive(Debug, Clone, PartialEq)]
pub struct AckRecord {
    pub envelope_id: String,
    /// `payload` of the ack, if present and not null.
    pub payload: Option<Value>,
    pub connection_id: u64,
    /// From the latest send of that envelope on this connection (or any, if none).
    pub latency: Duration,
    pub at: Instant,
    /// False when the envelope_id was never sent by the simulator.
    pub known: bool,
}

/// The first ack for an envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Ack {
    pub payload: Option<Value>,
    pub connection_id: u64,
    pub latency: Duration,
}

/// One send of an envelope on a socket.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub connection_id: u64,
    pub retry_attempt: u32,
    pub at: Instant,
}

/// A pushed envelope; await its ack with [`EnvelopeHandle::ack`].
#[derive(Clone)]
pub struct EnvelopeHandle {
    pub envelope_id: String,
    pub(crate) inner: Arc<Inner>,
}

impl EnvelopeHandle {
    pub fn envelope_id(&self) -> &str {
        &self.envelope_id
    }

    /// The first ack for this envelope, waiting up to `within`.
    pub async fn ack(&self, within: Duration) -> Option<Ack> {
        wait_ack(&self.inner, &self.envelope_id, within).await
    }
}

pub(crate) async fn wait_ack(inner: &Inner, envelope_id: &str, within: Duration) -> Option<Ack> {
    inner
        .wait_until(within, |i| first_ack(i, envelope_id))
        .await
}

fn first_ack(inner: &Inner, envelope_id: &str) -> Option<Ack> {
    let w = inner.world();
    w.acks
        .iter()
        .find(|a| a.envelope_id == envelope_id)
        .map(|a| Ack {
            payload: a.payload.clone(),
            connection_id: a.connection_id,
            latency: a.latency,
        })
}

/// Sends `envelope` once with `retry_attempt`, on an open socket other than
/// `avoid` when there is one. Draining sockets (disconnect sent) get new
/// envelopes only when no other socket is open: Slack's exact behaviour there is
/// UNVERIFIED. Returns the socket used, or `None` when no socket is open.
fn send_once(
    inner: &Inner,
    envelope: &Value,
    retry_attempt: u32,
    avoid: Option<u64>,
) -> Option<u64> {
    let mut env = envelope.clone();
    env["retry_attempt"] = Value::from(retry_attempt);
    env["retry_reason"] = Value::from(if retry_attempt == 0 { "" } else { "timeout" });
    let envelope_id = env["envelope_id"].as_str().unwrap_or_default().to_string();
    let text = env.to_string();

    let mut s = inner.sockets();
    let fresh: Vec<u64> = s
        .conns
        .iter()
        .filter(|(_, c)| !c.draining)
        .map(|(id, _)| *id)
        .collect();
    let mut candidates = if fresh.is_empty() {
        s.conns.keys().copied().collect()
    } else {
        fresh
    };
    if candidates.len() > 1 {
        candidates.retain(|id| Some(*id) != avoid);
    }
    if candidates.is_empty() {
        return None;
    }
    s.rr = s.rr.wrapping_add(1);
    let id = candidates[s.rr % candidates.len()];
    let sent = s
        .conns
        .get(&id)
        .map(|c| c.tx.send(WsCmd::Text(text)).is_ok());
    if sent != Some(true) {
        return None;
    }
    s.deliveries.entry(envelope_id).or_default().push(Delivery {
        connection_id: id,
        retry_attempt,
        at: Instant::now(),
    });
    Some(id)
}

/// Sends a new envelope and arranges its redeliveries (events_api only).
/// Returns the socket of the first send, if any socket was open.
pub(crate) fn dispatch(inner: &Arc<Inner>, envelope: Value) -> Option<u64> {
    let envelope_id = envelope["envelope_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    inner
        .sockets()
        .deliveries
        .entry(envelope_id.clone())
        .or_default();
    let first = send_once(inner, &envelope, 0, None);
    if inner.options.redeliver_everything && first.is_some() {
        send_once(inner, &envelope, 1, first);
    }
    inner.bump();
    if envelope["type"] == "events_api" {
        tokio::spawn(redeliver_until_acked(inner.clone(), envelope, envelope_id));
    }
    first
}

/// Slack redelivers an un-acked event up to 3 times with the same envelope_id
/// and event_id. An event pushed while no socket is open is only ever delivered
/// by these retries; a retry due while no socket is open is lost, as in Slack.
async fn redeliver_until_acked(inner: Arc<Inner>, envelope: Value, envelope_id: String) {
    let delays: Vec<Duration> = inner
        .options
        .event_retry_delays
        .iter()
        .take(3)
        .copied()
        .collect();
    for (i, delay) in delays.into_iter().enumerate() {
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = inner.shutdown.cancelled() => return,
        }
        if first_ack(&inner, &envelope_id).is_some() {
            return;
        }
        let last = inner
            .sockets()
            .deliveries
            .get(&envelope_id)
            .and_then(|d| d.last().map(|d| d.connection_id));
        send_once(&inner, &envelope, i as u32 + 1, last);
        inner.bump();
    }
}

impl Simulator {
    /// Wraps `event` in an `event_callback` and an events_api envelope and sends it
    /// to one open socket; without one it is delivered by a later retry.
    pub async fn push_event(&self, event: Value) -> EnvelopeHandle {
        let payload = payloads::event_callback(&self.inner, event);
        self.push_raw_envelope(payloads::envelope("events_api", payload))
            .await
    }

    /// Sends `envelope` as given (an `envelope_id` is added if missing).
    pub async fn push_raw_envelope(&self, mut envelope: Value) -> EnvelopeHandle {
        if envelope["envelope_id"].as_str().is_none() {
            envelope["envelope_id"] = Value::from(uuid::Uuid::new_v4().to_string());
        }
        let envelope_id = envelope["envelope_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        dispatch(&self.inner, envelope);
        EnvelopeHandle {
            envelope_id,
            inner: self.inner.clone(),
        }
    }

    /// How many times an envelope was sent (retries included).
    pub fn deliveries(&self, envelope_id: &str) -> usize {
        self.deliveries_of(envelope_id).len()
    }

    /// Every send of an envelope: socket, retry_attempt, time.
    pub fn deliveries_of(&self, envelope_id: &str) -> Vec<Delivery> {
        self.inner
            .sockets()
            .deliveries
            .get(envelope_id)
            .cloned()
            .unwrap_or_default()
    }
}
