//! Exactly-once posts: every `chat.postMessage` carries message metadata naming its
//! outbox entry, and before posting an entry again whose earlier attempt may have
//! reached Slack (cut by a crash, or timed out), the sender looks for it in the
//! conversation's history and records the copy it finds instead of posting again.
//!
//! DMs are read with `im:history` (and found with `im:write`), which c1bot asks for
//! with requests by DM turned on; channels only where the token holds
//! `channels:history` / `groups:history`, which c1bot does not ask for. Where history cannot be read, the caller posts again and the
//! duplicate is made harmless by editing every copy c1bot knows of.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use super::Shared;
use crate::slack::web::{methods, WebApiError};
use crate::store::{OutboxEntry, Posted, SlackRef};

/// `metadata.event_type` of c1bot's posts.
pub(super) const EVENT_TYPE: &str = "c1bot_outbox";

/// Looked at before the first attempt started: clocks differ a little.
const CLOCK_MARGIN: TimeDelta = TimeDelta::seconds(120);

/// Messages per history page, and pages read at most (newest first).
const PAGE: u32 = 200;
const MAX_PAGES: usize = 10;

/// What looking for an earlier copy found.
#[derive(Debug)]
pub(super) enum Lookup {
    /// The post is in Slack: every copy, oldest first.
    Found(SlackRef),
    NotFound,
    /// History cannot be read here (no scope, not a member, too long): post again.
    CannotLook(String),
    /// Slack could not answer now; look again later rather than post.
    Failed(WebApiError),
}

/// The `metadata` argument of entry `id`'s post.
pub(super) fn metadata(id: u64, key: Option<&str>) -> Value {
    json!({
        "event_type": EVENT_TYPE,
        "event_payload": {"outbox_id": id, "key": key.unwrap_or("")},
    })
}

/// Whether `message` (from `conversations.history`) is a copy of entry `id`'s post.
/// The key is compared too, so a data directory started afresh (ids from 1 again)
/// never mistakes an old message for a new one.
pub(super) fn is_copy(message: &Value, id: u64, key: Option<&str>) -> bool {
    let metadata = &message["metadata"];
    metadata["event_type"] == EVENT_TYPE
        && metadata["event_payload"]["outbox_id"].as_u64() == Some(id)
        && metadata["event_payload"]["key"].as_str() == Some(key.unwrap_or(""))
}

/// Slack's `ts` form of an instant (`"1763630100.000000"`).
pub(super) fn slack_ts(at: DateTime<Utc>) -> String {
    format!("{}.{:06}", at.timestamp(), at.timestamp_subsec_micros())
}

/// Where to look: the DM's id is found with `conversations.open`.
#[derive(Debug, PartialEq)]
pub(super) enum Place<'a> {
    /// A user id (`U…`, `W…`): their DM with c1bot.
    DmWith(&'a str),
    /// A DM channel id (`D…`).
    Dm(&'a str),
    /// Anything else: a public or private channel.
    Channel(&'a str),
}

pub(super) fn place(channel: &str) -> Place<'_> {
    match channel.as_bytes().first() {
        Some(b'U' | b'W') => Place::DmWith(channel),
        Some(b'D') => Place::Dm(channel),
        _ => Place::Channel(channel),
    }
}

/// The token's scopes, asked once per sender run (`None`: Slack did not say).
pub(super) type Scopes = OnceCell<Option<Vec<String>>>;

/// Looks for entry `id`'s post in its conversation's history.
pub(super) async fn find(shared: &Shared, id: u64, entry: &OutboxEntry) -> Lookup {
    let Some(channel) = entry.message.queued_to() else {
        return Lookup::CannotLook("the message names no channel".into());
    };
    let conversation = match place(channel) {
        Place::DmWith(_) | Place::Dm(_) if !holds(shared, DM_SCOPES, true).await => {
            return Lookup::CannotLook(
                "the token lacks im:history or im:write (requests by DM are off)".into(),
            );
        }
        Place::DmWith(user) => match open_dm(shared, user).await {
            Ok(id) => id,
            Err(lookup) => return lookup,
        },
        Place::Dm(id) => id.to_owned(),
        Place::Channel(id) => {
            if !holds(shared, CHANNEL_SCOPES, false).await {
                return Lookup::CannotLook(
                    "the token holds neither channels:history nor groups:history".into(),
                );
            }
            id.to_owned()
        }
    };
    let since = entry.attempt_started_at.unwrap_or(entry.enqueued_at) - CLOCK_MARGIN;
    let key = entry.message.record_ref.as_deref();
    let mut copies: Vec<Posted> = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut args = json!({
            "channel": conversation,
            "oldest": slack_ts(since),
            "include_all_metadata": true,
            "limit": PAGE,
        });
        if let Some(cursor) = &cursor {
            args["cursor"] = Value::from(cursor.as_str());
        }
        let page = match call(shared, methods::CONVERSATIONS_HISTORY, args).await {
            Ok(page) => page,
            Err(lookup) => return lookup,
        };
        let messages = page["messages"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        copies.extend(
            messages
                .iter()
                .filter(|m| is_copy(m, id, key))
                .filter_map(|m| m["ts"].as_str())
                .map(|ts| Posted {
                    channel: conversation.clone(),
                    ts: ts.to_owned(),
                }),
        );
        cursor = page["response_metadata"]["next_cursor"]
            .as_str()
            .filter(|c| !c.is_empty() && page["has_more"] == true)
            .map(str::to_owned);
        if cursor.is_none() {
            return found(copies);
        }
    }
    if copies.is_empty() {
        Lookup::CannotLook(format!(
            "more than {} messages since the first attempt",
            MAX_PAGES * PAGE as usize
        ))
    } else {
        found(copies)
    }
}

/// The copies found (newest first, as history lists them) as one reference to the
/// oldest, the rest as its copies.
fn found(mut copies: Vec<Posted>) -> Lookup {
    copies.sort_by(|a, b| ts_order(&a.ts, &b.ts));
    let mut copies = copies.into_iter();
    match copies.next() {
        None => Lookup::NotFound,
        Some(first) => Lookup::Found(SlackRef {
            channel: first.channel,
            ts: first.ts,
            copies: copies.collect(),
        }),
    }
}

/// Orders `ts` values numerically (`"9.1" < "10.0"`).
fn ts_order(a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |ts: &str| -> (u64, u64) {
        let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
        (secs.parse().unwrap_or(0), micros.parse().unwrap_or(0))
    };
    parse(a).cmp(&parse(b))
}

async fn open_dm(shared: &Shared, user: &str) -> Result<String, Lookup> {
    let opened = call(
        shared,
        methods::CONVERSATIONS_OPEN,
        json!({ "users": user }),
    )
    .await?;
    opened["channel"]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Lookup::CannotLook("conversations.open named no channel".into()))
}

/// A DM is found (`conversations.open`) and read with both of these.
const DM_SCOPES: &[&str] = &["im:history", "im:write"];
/// A channel is read with either of these.
const CHANNEL_SCOPES: &[&str] = &["channels:history", "groups:history"];

/// Whether the token holds the scopes to look: `all` of them, or any one. True when
/// Slack does not say which scopes it holds (then a `missing_scope` answers).
async fn holds(shared: &Shared, scopes: &[&str], all: bool) -> bool {
    let granted = shared
        .scopes
        .get_or_init(|| async {
            match shared.web.call(methods::AUTH_TEST, json!({})).await {
                Ok(response) => response.scopes,
                Err(error) => {
                    tracing::warn!(%error, "could not ask Slack for the token's scopes");
                    None
                }
            }
        })
        .await;
    granted.as_ref().is_none_or(|granted| {
        let held = |scope: &&str| granted.iter().any(|g| g == scope);
        if all {
            scopes.iter().all(held)
        } else {
            scopes.iter().any(held)
        }
    })
}

/// One paced call in a delivery slot; Slack's refusals that mean "cannot look here"
/// and transient failures become the matching [`Lookup`].
async fn call(
    shared: &Shared,
    method: &'static methods::ApiMethod,
    args: Value,
) -> Result<Value, Lookup> {
    match shared.call(method, args).await {
        Ok(response) => Ok(response.body),
        Err(error) if super::outcome::is_transient(&error) => Err(Lookup::Failed(error)),
        Err(error) => Err(Lookup::CannotLook(error.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn only_a_message_naming_the_same_entry_and_key_is_a_copy() {
        let ours =
            json!({"ts": "1.000100", "metadata": metadata(42, Some("REQ-1/approver/U0BOB00001"))});
        assert!(is_copy(&ours, 42, Some("REQ-1/approver/U0BOB00001")));
        assert!(!is_copy(&ours, 43, Some("REQ-1/approver/U0BOB00001")));
        assert!(!is_copy(&ours, 42, Some("REQ-2/approver/U0BOB00001")));
        let plain = json!({"ts": "1.000200", "metadata": metadata(7, None)});
        assert!(is_copy(&plain, 7, None));
        let other_app = json!({"metadata": {"event_type": "task_created", "event_payload": {"outbox_id": 42, "key": ""}}});
        assert!(!is_copy(&other_app, 42, None));
        assert!(!is_copy(&json!({"ts": "1.0", "text": "hi"}), 42, None));
    }

    #[test]
    fn copies_found_are_recorded_oldest_first() {
        let at = |ts: &str| Posted {
            channel: "D1".into(),
            ts: ts.into(),
        };
        let Lookup::Found(posted) = found(vec![at("10.000001"), at("9.000002")]) else {
            panic!("found");
        };
        assert_eq!(posted.ts, "9.000002");
        assert_eq!(posted.copies, [at("10.000001")]);
        assert!(matches!(found(Vec::new()), Lookup::NotFound));
    }

    #[test]
    fn user_ids_are_looked_up_through_their_dm_and_channels_need_a_scope() {
        assert_eq!(place("U0BOB00001"), Place::DmWith("U0BOB00001"));
        assert_eq!(place("W0ENTERPR1"), Place::DmWith("W0ENTERPR1"));
        assert_eq!(place("D0BOB00001"), Place::Dm("D0BOB00001"));
        assert_eq!(place("C0GENERAL1"), Place::Channel("C0GENERAL1"));
        assert_eq!(place("G0PRIVATE1"), Place::Channel("G0PRIVATE1"));
    }

    #[test]
    fn instants_are_written_as_slack_timestamps() {
        let at = Utc
            .timestamp_micros(1_763_630_100_000_200)
            .single()
            .expect("valid");
        assert_eq!(slack_ts(at), "1763630100.000200");
    }
}
