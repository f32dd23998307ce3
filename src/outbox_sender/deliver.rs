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
use chrono::Utc;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::history::{self, Lookup};
use super::outcome::{classify, retry_at, settle, Sent};
use super::Shared;
use crate::slack::web::{methods, ApiMethod, ApiResponse, WebApiError};
use crate::store::{OutboxEntry, OutboxMessage, StoreError, Table};

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
        // A burst of expiries commits first: even reading the entry waits (bounded).
        if shared.yield_to_burst(&stop).await {
            return (id, Done::Stopped);
        }
        let entry = match shared.store.outbox_entry(id).await {
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
        shared.store.outbox_entry(id).await,
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
    if message.method == crate::store::RESPONSE_URL {
        let sent = classify(respond(shared, &message.args).await);
        return settle(shared, id, entry, sent).await;
    }
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
            already_done(method, classify(shared.call_now(method, args).await))
        }
    };
    match sent {
        Sent::Stopped => Ok(Some(Done::Stopped)),
        sent => settle(shared, id, entry, sent).await,
    }
}

/// An error that says the call's purpose is already met is a success: inviting
/// someone already in the channel is not worth telling anyone about.
fn already_done(method: &ApiMethod, sent: Sent) -> Sent {
    match sent {
        Sent::Permanent(_, Some(code))
            if method.name == methods::CONVERSATIONS_INVITE.name
                && code == "already_in_channel" =>
        {
            Sent::Delivered(None)
        }
        sent => sent,
    }
}

/// An answer through a click's `response_url`, in a delivery slot.
async fn respond(shared: &Shared, args: &Value) -> Result<ApiResponse, WebApiError> {
    let url = args
        .get("response_url")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut body = args.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("response_url");
    }
    // The semaphore is never closed.
    let _slot = shared.slots.acquire().await.ok();
    shared.web.respond(url, &body).await
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
        .await
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

/// Sleeps `wait`; true when `stop` came first.
async fn pause(stop: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        () = stop.cancelled() => true,
        () = tokio::time::sleep(wait) => false,
    }
}
