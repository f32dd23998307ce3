//! Delivering one outbox entry until it is settled: wait out its retry time, look for
//! an earlier copy where one may have reached Slack, take the pacer's slot, mark the
//! attempt, call Slack in a delivery slot, and settle the result in the store
//! (delivered with where it landed, retried later, or given up with the words owed).
//!
//! Nothing here holds a delivery slot while waiting: pacing and retry backoff happen
//! before the slot is taken, so a paced or failing conversation never keeps another
//! from Slack.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::history::{self, Lookup};
use super::Shared;
use crate::slack::backoff::Backoff;
use crate::slack::web::{methods, ApiMethod, WebApiError};
use crate::store::{OutboxEntry, OutboxMessage, SlackRef, StoreError, Table};

/// Wait between attempts of one entry after a transient failure (each attempt is
/// one call; a 429's `Retry-After` is waited out by the pacer on top).
pub(super) const RETRY: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(300),
};

/// A message still failing this long after its first failure is given up: by then
/// what it says is stale.
const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// After a storage error, the pause before trying again.
pub(super) const STORE_ERROR_PAUSE: Duration = Duration::from_secs(5);

/// How delivering an entry ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Done {
    /// Settled in the store (delivered, given up, or moved aside): the entries behind
    /// it may go.
    Settled,
    /// Shutdown came first; the entry stays for the next start.
    Stopped,
}

/// Delivers entry `id` until it is settled or `stop` is cancelled.
pub(super) async fn deliver(shared: Arc<Shared>, id: u64, stop: CancellationToken) -> (u64, Done) {
    loop {
        let entry = match shared.store.outbox_entry(id) {
            Ok(Some(entry)) => entry,
            Ok(None) => return (id, Done::Settled),
            Err(StoreError::Decode { detail, .. }) => {
                quarantine(&shared, id, &detail).await;
                return (id, Done::Settled);
            }
            Err(error) => {
                tracing::error!(outbox_id = id, error = %error, "reading an outbox entry failed");
                if pause(&stop, STORE_ERROR_PAUSE).await {
                    return (id, Done::Stopped);
                }
                continue;
            }
        };
        if let Some(at) = retry_at(&entry) {
            let wait = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
            if pause(&stop, wait).await {
                return (id, Done::Stopped);
            }
        }
        if stop.is_cancelled() {
            return (id, Done::Stopped);
        }
        match attempt(&shared, id, &entry, &stop).await {
            Ok(Some(done)) => return (id, done),
            Ok(None) => {}
            Err(error) => {
                tracing::error!(
                    outbox_id = id,
                    error = format!("{error:#}"),
                    "settling an outbox entry failed"
                );
                if pause(&stop, STORE_ERROR_PAUSE).await {
                    return (id, Done::Stopped);
                }
            }
        }
    }
}

/// Moves an unreadable row aside (after checking it still is unreadable).
pub(super) async fn quarantine(shared: &Shared, id: u64, reason: &str) {
    if !matches!(
        shared.store.outbox_entry(id),
        Err(StoreError::Decode { .. })
    ) {
        return;
    }
    let key = id.to_be_bytes();
    if let Err(error) = shared
        .store
        .quarantine(Table::Outbox, &key, reason, Utc::now())
        .await
    {
        tracing::error!(outbox_id = id, %error, "an unreadable outbox row could not be moved aside");
    }
}

/// One attempt. `Some` when the entry is done, `None` to try again after its backoff.
async fn attempt(
    shared: &Shared,
    id: u64,
    entry: &OutboxEntry,
    stop: &CancellationToken,
) -> anyhow::Result<Option<Done>> {
    let message = &entry.message;
    #[cfg(test)]
    super::tests::maybe_panic(&message.method);
    let Some(method) = methods::by_name(&message.method) else {
        let error = format!("{} is not a Web API method c1bot knows", message.method);
        return settle(shared, id, entry, Sent::Permanent(error, None)).await;
    };
    let post = method.name == methods::CHAT_POST_MESSAGE.name;
    if post && entry.maybe_posted {
        match history::find(shared, id, entry).await {
            Lookup::Found(posted) => {
                tracing::info!(outbox_id = id, channel = %posted.channel, ts = %posted.ts, copies = posted.copies.len() + 1, "an earlier attempt had reached Slack; recorded instead of posting again");
                return settle(shared, id, entry, Sent::Delivered(Some(posted))).await;
            }
            Lookup::NotFound => {}
            Lookup::CannotLook(why) => {
                tracing::warn!(outbox_id = id, why = %why, "an earlier attempt may have reached Slack, but the conversation's history cannot be read; posting again (every copy c1bot learns of is edited with the message)");
            }
            Lookup::Failed(error) => {
                let sent = Sent::Transient {
                    error: format!("looking for an earlier copy: {error}"),
                    maybe_posted: true,
                };
                return settle(shared, id, entry, sent).await;
            }
        }
    }
    let sent = match &message.update_ref {
        Some(key) => update_every_copy(shared, method, message, key, stop).await?,
        None => {
            let mut args = message.args.clone();
            if post {
                if let Some(object) = args.as_object_mut() {
                    let metadata = history::metadata(id, message.record_ref.as_deref());
                    object.insert("metadata".into(), metadata);
                }
            }
            if !pace(shared, method, &args, stop).await {
                return Ok(Some(Done::Stopped));
            }
            if post
                && !shared
                    .store
                    .outbox_attempt_started(id, Utc::now())
                    .await
                    .context("marking an attempt")?
            {
                return Ok(Some(Done::Settled));
            }
            classify(shared.call_now(method, args).await)
        }
    };
    match sent {
        Sent::Stopped => Ok(Some(Done::Stopped)),
        sent => settle(shared, id, entry, sent).await,
    }
}

/// An edit of the message recorded under `key`: every copy c1bot knows of is edited,
/// so no stale copy keeps live buttons. The recorded copy decides the outcome; a copy
/// that can no longer be edited (deleted) is skipped.
async fn update_every_copy(
    shared: &Shared,
    method: &'static ApiMethod,
    message: &OutboxMessage,
    key: &str,
    stop: &CancellationToken,
) -> anyhow::Result<Sent> {
    let Some(posted) = shared
        .store
        .slack_ref(key)
        .context("reading a message reference")?
    else {
        let error = format!("no message was recorded under {key:?} (its post never succeeded)");
        return Ok(Sent::Permanent(error, None));
    };
    let mut first = None;
    for (index, copy) in posted.all().into_iter().enumerate() {
        let mut args = message.args.clone();
        let Some(object) = args.as_object_mut() else {
            let error = "the arguments are not a JSON object".to_owned();
            return Ok(Sent::Permanent(error, None));
        };
        object.insert("channel".into(), Value::String(copy.channel));
        object.insert("ts".into(), Value::String(copy.ts));
        if !pace(shared, method, &args, stop).await {
            return Ok(Sent::Stopped);
        }
        match classify(shared.call_now(method, args).await) {
            Sent::Permanent(error, _) if index > 0 => {
                tracing::warn!(key, error = %error, "a copy of a message could not be edited");
            }
            sent @ Sent::Delivered(_) if index == 0 => first = Some(sent),
            Sent::Delivered(_) => {}
            failed => return Ok(failed),
        }
    }
    Ok(first.unwrap_or(Sent::Delivered(None)))
}

/// Takes the pacer's slot for this call; false when `stop` came first.
async fn pace(
    shared: &Shared,
    method: &'static ApiMethod,
    args: &Value,
    stop: &CancellationToken,
) -> bool {
    let channel = args.get("channel").and_then(Value::as_str);
    tokio::select! {
        () = stop.cancelled() => false,
        () = shared.web.pace(method, channel) => true,
    }
}

/// The outcome of one call.
#[derive(Debug)]
enum Sent {
    Delivered(Option<SlackRef>),
    Transient {
        error: String,
        maybe_posted: bool,
    },
    /// The error, and Slack's code when it gave one.
    Permanent(String, Option<String>),
    Stopped,
}

fn classify(result: Result<crate::slack::web::ApiResponse, WebApiError>) -> Sent {
    match result {
        Ok(response) => Sent::Delivered(posted_ref(&response.body)),
        Err(error) if is_transient(&error) => Sent::Transient {
            maybe_posted: may_have_arrived(&error),
            error: error.to_string(),
        },
        Err(error) => Sent::Permanent(error.to_string(), error.slack_code().map(str::to_owned)),
    }
}

/// Settles `sent` in the store.
async fn settle(
    shared: &Shared,
    id: u64,
    entry: &OutboxEntry,
    sent: Sent,
) -> anyhow::Result<Option<Done>> {
    let store = &shared.store;
    let now = Utc::now();
    let message = &entry.message;
    match sent {
        Sent::Delivered(posted) => {
            store
                .outbox_delivered(id, posted, now)
                .await
                .context("recording a delivered message")?;
            Ok(Some(Done::Settled))
        }
        Sent::Permanent(error, code) => {
            tracing::warn!(outbox_id = id, request_id = %message.subject(), method = %message.method, %error, "giving up on a message");
            let reason = code.as_deref().map_or_else(
                || "Slack could not be asked".to_owned(),
                crate::slack::web::in_words,
            );
            let then = refused(message, &reason);
            store
                .outbox_failed(id, &error, true, false, now, &then)
                .await
                .context("recording a failed message")?;
            Ok(Some(Done::Settled))
        }
        Sent::Transient {
            error,
            maybe_posted,
        } => {
            let give_up = entry
                .first_failed_at
                .is_some_and(|first| now - first >= GIVE_UP_AFTER);
            tracing::warn!(outbox_id = id, request_id = %message.subject(), method = %message.method, %error, give_up, "message delivery failed");
            let then = if give_up {
                refused(message, "Slack could not be reached for a day")
            } else {
                Vec::new()
            };
            store
                .outbox_failed(id, &error, give_up, maybe_posted, now, &then)
                .await
                .context("recording a failed message")?;
            Ok(give_up.then_some(Done::Settled))
        }
        Sent::Stopped => Ok(Some(Done::Stopped)),
    }
}

/// The words owed when `message` is given up (see [`crate::store::IfRefused`]).
pub(super) fn refused(message: &OutboxMessage, reason: &str) -> Vec<OutboxMessage> {
    message.if_refused.as_ref().map_or_else(Vec::new, |words| {
        words
            .tell
            .iter()
            .map(|to| OutboxMessage::text(to, &format!("{}: {reason}.", words.text)))
            .collect()
    })
}

/// Where Slack put the message: `chat.postMessage` and `chat.update` answer with
/// `channel` (the DM's id when posted to a user id) and `ts`.
fn posted_ref(body: &Value) -> Option<SlackRef> {
    let text = |k: &str| body.get(k).and_then(Value::as_str);
    Some(SlackRef::new(text("channel")?, text("ts")?))
}

/// Worth retrying later: Slack was unreachable, overloaded or throttling. A definitive
/// `ok: false`, an unreadable answer or a missing token will not get better.
pub(super) fn is_transient(error: &WebApiError) -> bool {
    matches!(
        error,
        WebApiError::RateLimited { .. } | WebApiError::Http { .. } | WebApiError::Transport { .. }
    )
}

/// Whether a failed call may have been carried out all the same: a time-out or a
/// server error may follow a post Slack accepted; a 429 or a refused connection not.
pub(super) fn may_have_arrived(error: &WebApiError) -> bool {
    match error {
        WebApiError::RateLimited { .. } => false,
        WebApiError::Transport { source, .. } => !source.is_connect(),
        WebApiError::Http { .. } => true,
        _ => false,
    }
}

pub(super) fn backoff(attempt: u32) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(RETRY.ceiling(attempt)).unwrap_or(GIVE_UP_AFTER)
}

/// When a failed entry may be tried again (`None`: it never failed).
pub(super) fn retry_at(entry: &OutboxEntry) -> Option<DateTime<Utc>> {
    entry
        .last_failed_at
        .map(|last| last + backoff(entry.attempts))
}

/// Sleeps `wait`; true when `stop` came first.
async fn pause(stop: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => true,
        () = tokio::time::sleep(wait) => false,
    }
}
