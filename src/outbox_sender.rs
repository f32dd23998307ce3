//! The outbox sender: delivers the Web API calls that commits queued in the store's
//! outbox, and settles each one in the store (delivered with where it landed, retried
//! later, or given up and audited).
//!
//! Ordering: entries that share a conversation (the same `channel` argument, or the same
//! logical message through `record_ref`/`update_ref`) form a lane and go out strictly in
//! commit order, so an update never overtakes its post. Different lanes are delivered
//! concurrently, so one slow or failing conversation holds back no other.
//!
//! Delivery is at least once: a crash between Slack accepting a call and the store
//! recording it sends that call again on restart. Exactly one sender may run per store.
//! This is an I/O edge; lane grouping and the retry schedule are pure functions below.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::slack::backoff::Backoff;
use crate::slack::web::{methods, WebApi, WebApiError};
use crate::store::{OutboxEntry, OutboxMessage, SlackRef, Store};

/// Wait between attempts of one entry after a transient failure (on top of the
/// retries `WebApi` already made inside the failed call).
const RETRY: Backoff = Backoff {
    initial: Duration::from_secs(2),
    max: Duration::from_secs(300),
};

/// A message still failing this long after its first failure is given up: by then
/// what it says is stale.
const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Lanes delivered at the same time; the Web API client paces each method anyway.
const CONCURRENT_LANES: usize = 8;

/// After a storage error, the pause before the next pass.
const STORE_ERROR_PAUSE: Duration = Duration::from_secs(5);

/// On shutdown, how long an in-flight pass may take to finish (and record what it
/// sent) before it is dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Drained {
    pub delivered: usize,
    /// Permanently failed and removed (audited as `notification.failed`).
    pub given_up: usize,
    /// Left pending: waiting for a retry, or behind one in their lane.
    pub deferred: usize,
    /// The earliest retry among deferred entries.
    pub next_retry_at: Option<DateTime<Utc>>,
}

impl Drained {
    fn add(&mut self, other: Drained) {
        self.delivered += other.delivered;
        self.given_up += other.given_up;
        self.deferred += other.deferred;
        self.next_retry_at = match (self.next_retry_at, other.next_retry_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Delivers pending entries at start (crash recovery), after every commit that queues
/// messages, and when a retry falls due, until `shutdown`.
pub async fn run(store: Store, web: WebApi, shutdown: CancellationToken) {
    loop {
        let pass = drain_pass(&store, &web, Utc::now(), &shutdown);
        tokio::pin!(pass);
        let result = tokio::select! {
            result = &mut pass => result,
            () = shutdown.cancelled() => match tokio::time::timeout(SHUTDOWN_GRACE, &mut pass).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!("outbox sender stopped mid-delivery; unsettled messages go out again on restart");
                    return;
                }
            },
        };
        let wait = match result {
            Ok(drained) => {
                if drained != Drained::default() {
                    tracing::debug!(
                        delivered = drained.delivered,
                        given_up = drained.given_up,
                        deferred = drained.deferred,
                        "outbox pass"
                    );
                }
                drained
                    .next_retry_at
                    .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            }
            Err(error) => {
                tracing::error!(error = format!("{error:#}"), "outbox pass failed");
                Some(STORE_ERROR_PAUSE)
            }
        };
        if shutdown.is_cancelled() {
            return;
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = store.outbox_changed() => {}
            () = sleep_or_forever(wait) => {}
        }
    }
}

/// One pass over the outbox as it is now; returns what it did. Entries waiting for a
/// retry are left alone until their time.
pub async fn drain_once(store: &Store, web: &WebApi) -> anyhow::Result<Drained> {
    drain_pass(store, web, Utc::now(), &CancellationToken::new()).await
}

async fn drain_pass(
    store: &Store,
    web: &WebApi,
    now: DateTime<Utc>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Drained> {
    let pending = store.pending_outbox().context("reading the outbox")?;
    let mut slots: Vec<Option<(u64, OutboxEntry)>> = pending.iter().cloned().map(Some).collect();
    let lanes: Vec<Vec<(u64, OutboxEntry)>> = lanes(&pending)
        .into_iter()
        .map(|lane| lane.into_iter().filter_map(|i| slots[i].take()).collect())
        .collect();
    let results: Vec<anyhow::Result<Drained>> = stream::iter(lanes)
        .map(|lane| deliver_lane(store, web, lane, now, shutdown))
        .buffer_unordered(CONCURRENT_LANES)
        .collect()
        .await;
    let mut total = Drained::default();
    for result in results {
        total.add(result?);
    }
    Ok(total)
}

/// Delivers one lane in order, stopping at the first entry that must wait.
async fn deliver_lane(
    store: &Store,
    web: &WebApi,
    lane: Vec<(u64, OutboxEntry)>,
    now: DateTime<Utc>,
    shutdown: &CancellationToken,
) -> anyhow::Result<Drained> {
    let mut done = Drained::default();
    let total = lane.len();
    for (position, (id, entry)) in lane.into_iter().enumerate() {
        let waiting = total - position;
        if let Some(at) = retry_at(&entry).filter(|at| *at > now) {
            done.deferred += waiting;
            done.next_retry_at = Some(at);
            return Ok(done);
        }
        if shutdown.is_cancelled() {
            done.deferred += waiting;
            return Ok(done);
        }
        match send(store, web, &entry.message).await? {
            Sent::Delivered(posted) => {
                store
                    .outbox_delivered(id, posted, Utc::now())
                    .await
                    .context("recording a delivered message")?;
                done.delivered += 1;
            }
            Sent::Permanent(error, code) => {
                tracing::warn!(outbox_id = id, request_id = %entry.message.subject(), method = %entry.message.method, %error, "giving up on a message");
                let reason = code.as_deref().map_or_else(
                    || "Slack could not be asked".to_owned(),
                    crate::slack::web::in_words,
                );
                store
                    .outbox_failed(id, &error, true, now, &refused(&entry.message, &reason))
                    .await
                    .context("recording a failed message")?;
                done.given_up += 1;
            }
            Sent::Transient(error) => {
                let give_up = entry
                    .first_failed_at
                    .is_some_and(|first| now - first >= GIVE_UP_AFTER);
                tracing::warn!(outbox_id = id, request_id = %entry.message.subject(), method = %entry.message.method, %error, give_up, "message delivery failed");
                let then = if give_up {
                    refused(&entry.message, "Slack could not be reached for a day")
                } else {
                    Vec::new()
                };
                store
                    .outbox_failed(id, &error, give_up, now, &then)
                    .await
                    .context("recording a failed message")?;
                if give_up {
                    done.given_up += 1;
                    continue;
                }
                done.deferred += waiting;
                done.next_retry_at = Some(now + backoff(entry.attempts + 1));
                return Ok(done);
            }
        }
    }
    Ok(done)
}

/// The outcome of one call.
#[derive(Debug)]
enum Sent {
    Delivered(Option<SlackRef>),
    Transient(String),
    /// The error, and Slack's code when it gave one.
    Permanent(String, Option<String>),
}

/// The words owed when `message` is given up (see [`crate::store::IfRefused`]).
fn refused(message: &OutboxMessage, reason: &str) -> Vec<OutboxMessage> {
    message.if_refused.as_ref().map_or_else(Vec::new, |words| {
        words
            .tell
            .iter()
            .map(|to| OutboxMessage::text(to, &format!("{}: {reason}.", words.text)))
            .collect()
    })
}

async fn send(store: &Store, web: &WebApi, message: &OutboxMessage) -> anyhow::Result<Sent> {
    let Some(method) = methods::by_name(&message.method) else {
        return Ok(Sent::Permanent(
            format!("{} is not a Web API method c1bot knows", message.method),
            None,
        ));
    };
    let mut args = message.args.clone();
    if let Some(key) = &message.update_ref {
        let Some(posted) = store
            .slack_ref(key)
            .context("reading a message reference")?
        else {
            return Ok(Sent::Permanent(
                format!("no message was recorded under {key:?} (its post never succeeded)"),
                None,
            ));
        };
        let Some(object) = args.as_object_mut() else {
            return Ok(Sent::Permanent(
                "the arguments are not a JSON object".into(),
                None,
            ));
        };
        object.insert("channel".into(), Value::String(posted.channel));
        object.insert("ts".into(), Value::String(posted.ts));
    }
    Ok(match web.call(method, args).await {
        Ok(response) => Sent::Delivered(posted_ref(&response.body)),
        Err(error) if is_transient(&error) => Sent::Transient(error.to_string()),
        Err(error) => Sent::Permanent(error.to_string(), error.slack_code().map(str::to_owned)),
    })
}

/// Where Slack put the message: `chat.postMessage` and `chat.update` answer with
/// `channel` (the DM's id when posted to a user id) and `ts`.
fn posted_ref(body: &Value) -> Option<SlackRef> {
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    Some(SlackRef {
        channel: text("channel")?,
        ts: text("ts")?,
    })
}

/// Worth retrying later: Slack was unreachable, overloaded or throttling. A definitive
/// `ok: false`, an unreadable answer or a missing token will not get better.
fn is_transient(error: &WebApiError) -> bool {
    matches!(
        error,
        WebApiError::RateLimited { .. } | WebApiError::Http { .. } | WebApiError::Transport { .. }
    )
}

fn backoff(attempt: u32) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(RETRY.ceiling(attempt)).unwrap_or(GIVE_UP_AFTER)
}

/// When a failed entry may be tried again (`None`: it never failed).
fn retry_at(entry: &OutboxEntry) -> Option<DateTime<Utc>> {
    entry
        .last_failed_at
        .map(|last| last + backoff(entry.attempts))
}

/// Groups pending entries (given in commit order) into lanes of entry indexes, each
/// in commit order. Two entries share a lane when they share a conversation key,
/// directly or through a chain of entries.
fn lanes(pending: &[(u64, OutboxEntry)]) -> Vec<Vec<usize>> {
    let mut parent: Vec<usize> = (0..pending.len()).collect();
    let mut owner: HashMap<String, usize> = HashMap::new();
    for (i, (_, entry)) in pending.iter().enumerate() {
        for key in conversation_keys(&entry.message) {
            match owner.get(&key) {
                Some(&j) => union(&mut parent, i, j),
                None => {
                    owner.insert(key, i);
                }
            }
        }
    }
    let mut order: Vec<usize> = Vec::new();
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for i in 0..pending.len() {
        let root = find(&mut parent, i);
        let group = groups.entry(root).or_default();
        if group.is_empty() {
            order.push(root);
        }
        group.push(i);
    }
    order
        .into_iter()
        .filter_map(|root| groups.remove(&root))
        .collect()
}

fn conversation_keys(message: &OutboxMessage) -> Vec<String> {
    let mut keys = Vec::with_capacity(3);
    if let Some(channel) = message.args.get("channel").and_then(Value::as_str) {
        keys.push(format!("channel:{channel}"));
    }
    for key in [&message.record_ref, &message.update_ref]
        .into_iter()
        .flatten()
    {
        keys.push(format!("message:{key}"));
    }
    keys
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    // The older entry's root wins, so a lane is named by its first entry.
    let (keep, fold) = if ra < rb { (ra, rb) } else { (rb, ra) };
    parent[fold] = keep;
}

async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(wait) => tokio::time::sleep(wait).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
