//! From a decoded envelope to its ack: runs the handler once per envelope and sends the
//! ack on the connection the envelope came in on.
//!
//! The reader loop calls [`Dispatcher::dispatch`], which never blocks: each envelope
//! gets its own task, so a slow handler delays neither its neighbours' acks nor the
//! reading of the socket. `events_api` envelopes are acked before their handler runs
//! (Slack reads no payload from them); slash commands and interactions are acked
//! with whatever payload the handler returns, which it must return fast.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::dedupe::{original_payload, AckPayload, Deduper, Seen};
use super::frame::{ack_frame, Envelope, EnvelopeKind};

/// What c1bot does with an envelope. Implemented by the application.
pub trait EnvelopeHandler: Send + Sync + 'static {
    /// Returns the ack payload (`None` for a bare ack). Must return within
    /// milliseconds: slow work (Web API calls, provisioning) belongs in a spawned task.
    /// For `events_api` envelopes the ack has already gone out and the result is ignored.
    fn handle(&self, envelope: Envelope) -> impl Future<Output = Option<Value>> + Send;
}

/// A frame for a connection's writer.
#[derive(Debug)]
pub enum Outgoing {
    Text(String),
    Ping,
    Close,
}

/// Observes every ack sent (for metrics and the benchmark). Cheap and synchronous.
pub trait AckObserver: Send + Sync + 'static {
    fn acked(
        &self,
        kind: EnvelopeKind,
        payload_type: &str,
        latency: std::time::Duration,
        duplicate: bool,
    );
}

/// Ignores every observation.
pub struct NoObserver;

impl AckObserver for NoObserver {
    fn acked(&self, _: EnvelopeKind, _: &str, _: std::time::Duration, _: bool) {}
}

pub struct Dispatcher<H> {
    handler: Arc<H>,
    deduper: Deduper,
    /// Every envelope task, so shutdown can wait for acks still being computed.
    tracker: TaskTracker,
    observer: Arc<dyn AckObserver>,
}

impl<H> Clone for Dispatcher<H> {
    fn clone(&self) -> Self {
        Self {
            handler: self.handler.clone(),
            deduper: self.deduper.clone(),
            tracker: self.tracker.clone(),
            observer: self.observer.clone(),
        }
    }
}

impl<H: EnvelopeHandler> Dispatcher<H> {
    pub fn new(handler: H, observer: Arc<dyn AckObserver>) -> Self {
        Self {
            handler: Arc::new(handler),
            deduper: Deduper::new(100_000),
            tracker: TaskTracker::new(),
            observer,
        }
    }

    /// Every envelope task ever spawned; `close()` + `wait()` drains them.
    pub fn tracker(&self) -> &TaskTracker {
        &self.tracker
    }

    /// Handles `envelope` in its own task and acks it through `reply`.
    /// `connection` tracks the tasks whose acks must go out on this connection.
    pub fn dispatch(
        &self,
        envelope: Envelope,
        reply: mpsc::UnboundedSender<Outgoing>,
        connection: &TaskTracker,
    ) {
        let received = Instant::now();
        let this = self.clone();
        let span = tracing::info_span!("envelope", envelope_id = %envelope.envelope_id, kind = envelope.kind.as_str());
        let task = async move {
            let kind = envelope.kind;
            let payload_type = envelope.payload_type().to_owned();
            let envelope_id = envelope.envelope_id.clone();
            let accepts_payload = envelope.accepts_response_payload;
            match this.deduper.check(envelope.dedupe_keys()) {
                Seen::Copy(original) => {
                    let payload = original_payload(original).await;
                    tracing::info!(envelope_id = %envelope_id, kind = kind.as_str(), retry_attempt = envelope.retry_attempt, "duplicate envelope: acked with the original's answer, not processed again");
                    send_ack(&reply, &envelope_id, payload.as_ref().filter(|_| accepts_payload));
                    this.observer.acked(kind, &payload_type, received.elapsed(), true);
                }
                Seen::First(ticket) if kind == EnvelopeKind::EventsApi => {
                    send_ack(&reply, &envelope_id, None);
                    this.observer.acked(kind, &payload_type, received.elapsed(), false);
                    this.deduper.finish(ticket, None);
                    let _ = this.handler.handle(envelope).await;
                }
                Seen::First(ticket) => {
                    let payload: AckPayload = this.handler.handle(envelope).await;
                    let payload = match payload {
                        Some(p) if !accepts_payload => {
                            tracing::warn!(envelope_id = %envelope_id, "handler returned an ack payload for an envelope that accepts none; sending a bare ack");
                            drop(p);
                            None
                        }
                        other => other,
                    };
                    send_ack(&reply, &envelope_id, payload.as_ref());
                    this.observer.acked(kind, &payload_type, received.elapsed(), false);
                    this.deduper.finish(ticket, payload);
                }
            }
        }
        .instrument(span);
        tokio::spawn(connection.track_future(self.tracker.track_future(task)));
    }
}

/// Acks an envelope whose payload we could not read at all.
pub fn ack_bare(reply: &mpsc::UnboundedSender<Outgoing>, envelope_id: &str) {
    send_ack(reply, envelope_id, None);
}

fn send_ack(reply: &mpsc::UnboundedSender<Outgoing>, envelope_id: &str, payload: Option<&Value>) {
    if reply
        .send(Outgoing::Text(ack_frame(envelope_id, payload)))
        .is_err()
    {
        // The connection closed while the handler ran. Slack retries events; for a
        // slash command or click the person sees an error, which is why retiring
        // connections wait for their in-flight envelopes before closing.
        tracing::warn!(
            envelope_id,
            "ack lost: its connection closed before the answer was ready"
        );
    }
}
