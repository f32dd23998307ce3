//! What one attempt came to and how it is settled in the store: Slack's answer
//! classified (delivered with where it landed, worth retrying and whether it may
//! have been carried out all the same, or refused for good), the retry schedule, and
//! the words owed to people when a call is given up. Pure but for [`settle`].

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::time::Duration;

use super::deliver::Done;
use super::Shared;
use crate::slack::backoff::Backoff;
use crate::slack::web::{ApiResponse, WebApiError};
use crate::store::{OutboxEntry, OutboxMessage, SlackRef};

/// Wait between attempts of one entry after a transient failure (each attempt is
/// one call; a 429's `Retry-After` is waited out by the pacer on top).
pub(super) const RETRY: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(300),
};

/// A message still failing this long after its first failure is given up: by then
/// what it says is stale.
const GIVE_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The outcome of one call.
#[derive(Debug)]
pub(super) enum Sent {
    Delivered(Option<SlackRef>),
    Transient {
        error: String,
        maybe_posted: bool,
    },
    /// The error, and Slack's code when it gave one.
    Permanent(String, Option<String>),
    Stopped,
}

pub(super) fn classify(result: Result<ApiResponse, WebApiError>) -> Sent {
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
pub(super) async fn settle(
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
