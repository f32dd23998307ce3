//! From a decoded envelope to its ack: runs the handler once per envelope and sends the
//! ack on the connection the envelope came in on.
//!
//! The reader loop calls [`Dispatcher::dispatch`], which never blocks: each envelope
//! gets its own task, so a slow handler delays neither its neighbours' acks nor the
//! reading of the socket. The handler chooses the moment of the ack through an
//! [`Ack`]: at once for what changes nothing, after a durable write (the intake
//! journal, or a decision committed) for what does, so an ack never promises what a
//! crash could undo. Work after the ack runs in the same tracked task, so shutdown
//! waits for it.

use std::future::Future;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::dedupe::{original_payload, AckPayload, Deduper, Seen};
use super::frame::{ack_frame, Envelope, EnvelopeKind};

/// What c1bot does with an envelope. Implemented by the application.
pub trait EnvelopeHandler: Send + Sync + 'static {
    /// Handles `envelope`: answers it through `ack` (within Slack's 3 s; dropping
    /// `ack` unanswered sends a bare ack), then may go on working after the ack.
    fn handle(&self, envelope: Envelope, ack: Ack) -> impl Future<Output = ()> + Send;
}

/// The one answer to an envelope. Send it once what it promises is durable.
pub struct Ack {
    sender: Option<oneshot::Sender<Answer>>,
}

/// What the handler made of an envelope's ack.
enum Answer {
    Ack(AckPayload),
    /// Not acked at all: Slack retries an event later, and a person whose click or
    /// command was not acked sees Slack's own error instead of a false success.
    Withhold,
}

impl Ack {
    fn new() -> (Ack, oneshot::Receiver<Answer>) {
        let (sender, receiver) = oneshot::channel();
        (
            Ack {
                sender: Some(sender),
            },
            receiver,
        )
    }

    /// Acks with `payload` (`None`: a bare ack).
    pub fn send(mut self, payload: Option<Value>) {
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(Answer::Ack(payload));
        }
    }

    /// Sends no ack: for an envelope c1bot could not make durable (the store cannot
    /// write), so Slack's retry or the person's error is the honest outcome.
    pub fn withhold(mut self) {
        if let Some(sender) = self.sender.take() {
            let _ = sender.send(Answer::Withhold);
        }
    }

    /// An ack that goes nowhere, for calling a handler outside a connection (tests,
    /// replaying the journal).
    pub fn detached() -> Ack {
        Ack { sender: None }
    }
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
                Seen::First(ticket) => {
                    let (ack, answer) = Ack::new();
                    let handler = this.handler.clone();
                    let mut work = Box::pin(async move { handler.handle(envelope, ack).await });
                    let mut answer = std::pin::pin!(answer);
                    let (answer, finished) = tokio::select! {
                        answer = &mut answer => (answer, false),
                        () = &mut work => (answer.await, true),
                    };
                    let payload = match answer {
                        Ok(Answer::Ack(payload)) => payload,
                        // Dropped unanswered: a bare ack, so every envelope is acked.
                        Err(_) => None,
                        Ok(Answer::Withhold) => {
                            tracing::warn!(envelope_id = %envelope_id, "envelope left unacked: it could not be made durable");
                            this.deduper.forget(ticket);
                            if !finished {
                                this.tracker.spawn(work.instrument(tracing::Span::current()));
                            }
                            return;
                        }
                    };
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
                    // Work after the ack no longer holds the connection (a retiring link
                    // waits only for acks); the dispatcher's tracker still covers it,
                    // so shutdown waits for it.
                    if !finished {
                        this.tracker.spawn(work.instrument(tracing::Span::current()));
                    }
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
