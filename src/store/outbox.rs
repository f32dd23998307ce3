//! The durable outbox: Web API calls committed with the state change that caused
//! them, read back in order by the sender, and settled (delivered or given up) in
//! a transaction that also records where the message landed and audits it.
//!
//! Owns the outbox entry format and the `slack_refs` table. Must not call Slack: the
//! delivery loop is `crate::outbox_sender`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::audit::AuditEvent;
use super::keys::seq_key;
use super::records::Record;
use super::{SledStore, StoreError, Table};

/// A Web API call to make after the commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// A method in `crate::slack::web::methods`, e.g. `chat.postMessage`.
    pub method: String,
    /// The call's arguments (a JSON object).
    pub args: Value,
    /// On success, record the response's `channel` + `ts` in `slack_refs` under this
    /// key (e.g. `REQ-1042/requester`), so later updates can find the message.
    #[serde(default)]
    pub record_ref: Option<String>,
    /// Before sending, fill `channel` and `ts` from the `slack_refs` entry under this
    /// key: "edit the message recorded there".
    #[serde(default)]
    pub update_ref: Option<String>,
    /// When Slack refuses the call for good, who is told and what. The call is one
    /// of many (one invite per person) and the rest go on regardless.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_refused: Option<IfRefused>,
}

/// The `method` of an answer through a `response_url` ([`OutboxMessage::respond`]).
pub const RESPONSE_URL: &str = "response_url";

/// A word to people when an outbox call is given up: `text`, then Slack's reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfRefused {
    pub tell: Vec<String>,
    /// Slack mrkdwn written by c1bot (no user text unescaped), without a final stop.
    pub text: String,
}

impl OutboxMessage {
    /// `card` posted to `to` (a user or channel id), its `channel` + `ts` recorded
    /// under `key` so that later edits find it.
    pub fn post(to: &str, card: &Value, key: String) -> OutboxMessage {
        let mut args = card.clone();
        args["channel"] = Value::from(to);
        OutboxMessage {
            method: "chat.postMessage".into(),
            args,
            record_ref: Some(key),
            update_ref: None,
            if_refused: None,
        }
    }

    /// The message recorded under `key` edited to `card`.
    pub fn update(card: &Value, key: String) -> OutboxMessage {
        OutboxMessage {
            method: "chat.update".into(),
            args: card.clone(),
            record_ref: None,
            update_ref: Some(key),
            if_refused: None,
        }
    }

    /// A plain-text message to `to`, never edited afterwards.
    pub fn text(to: &str, text: &str) -> OutboxMessage {
        OutboxMessage {
            method: "chat.postMessage".into(),
            args: serde_json::json!({ "channel": to, "text": text }),
            record_ref: None,
            update_ref: None,
            if_refused: None,
        }
    }

    /// `text` shown only to the person who clicked or typed, through the
    /// interaction's `response_url` (which reaches them wherever they acted).
    pub fn respond(response_url: &str, text: &str) -> OutboxMessage {
        OutboxMessage {
            method: RESPONSE_URL.into(),
            args: serde_json::json!({
                "response_url": response_url,
                "text": text,
                "response_type": "ephemeral",
                "replace_original": false,
            }),
            record_ref: None,
            update_ref: None,
            if_refused: None,
        }
    }

    /// A Web API call whose answer nobody records, e.g. `conversations.invite`.
    pub fn call(method: &str, args: Value) -> OutboxMessage {
        OutboxMessage {
            method: method.into(),
            args,
            record_ref: None,
            update_ref: None,
            if_refused: None,
        }
    }

    /// If Slack refuses this call for good, `text` and the reason go to `tell`.
    pub fn if_refused(mut self, tell: Vec<String>, text: String) -> OutboxMessage {
        self.if_refused = Some(IfRefused { tell, text });
        self
    }

    /// The conversation this call is queued to: its `channel` argument as given (a
    /// user id for a DM), if it has one.
    pub fn queued_to(&self) -> Option<&str> {
        self.args.get("channel").and_then(Value::as_str)
    }

    /// The audit subject: the logical key up to its first `/` (`REQ-1042`).
    pub fn subject(&self) -> &str {
        let key = self.record_ref.as_deref().or(self.update_ref.as_deref());
        key.map(|k| k.split('/').next().unwrap_or(k))
            .unwrap_or(&self.method)
    }
}

/// Where a message was posted: `channel` + `ts`, and any other copies of the same
/// post c1bot learned of (a post that reached Slack twice, found in the
/// conversation's history). An update of the key edits every copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackRef {
    pub channel: String,
    pub ts: String,
    /// Older records have none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub copies: Vec<Posted>,
}

/// One copy of a posted message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

impl SlackRef {
    pub fn new(channel: impl Into<String>, ts: impl Into<String>) -> SlackRef {
        SlackRef {
            channel: channel.into(),
            ts: ts.into(),
            copies: Vec::new(),
        }
    }

    /// Every copy, the recorded one first.
    pub fn all(&self) -> Vec<Posted> {
        let first = Posted {
            channel: self.channel.clone(),
            ts: self.ts.clone(),
        };
        std::iter::once(first)
            .chain(self.copies.iter().cloned())
            .collect()
    }
}

impl Record for SlackRef {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

/// A pending outbox entry with its delivery history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub message: OutboxMessage,
    pub enqueued_at: DateTime<Utc>,
    /// Failed attempts so far (transient failures only; a definitive one ends the entry).
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub first_failed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_failed_at: Option<DateTime<Utc>>,
    /// When the first attempt to post this message started (recorded durably before
    /// the call): no copy of it can be older.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_started_at: Option<DateTime<Utc>>,
    /// An attempt may have reached Slack without c1bot learning where: it was cut by
    /// a crash or ended in a time-out. Before posting again, look for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub maybe_posted: bool,
}

impl Record for OutboxEntry {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

/// A message a change queues, encoded when the change was built: the commit (on
/// sled, inside the store's locked transaction) only wraps it into a new entry
/// ([`Queued::entry_json`]) instead of copying and encoding the message there. Only
/// the text is kept: the message's tree of values is freed when the change is built
/// (for an expiry, while it is prepared ahead), not when a burst's batch commits.
#[derive(Debug, Clone)]
pub(crate) struct Queued {
    /// The conversation it is queued to (see [`OutboxMessage::queued_to`]).
    pub queued_to: Option<String>,
    json: Box<RawValue>,
}

/// A new entry as [`OutboxEntry`] stores it, around a message already encoded.
#[derive(Serialize)]
struct NewEntry<'a> {
    message: &'a RawValue,
    enqueued_at: DateTime<Utc>,
    attempts: u32,
    last_error: Option<String>,
    first_failed_at: Option<DateTime<Utc>>,
    last_failed_at: Option<DateTime<Utc>>,
}

impl Queued {
    pub fn new(message: OutboxMessage) -> Result<Queued, serde_json::Error> {
        let json = serde_json::value::to_raw_value(&message)?;
        Ok(Queued {
            queued_to: message.queued_to().map(str::to_owned),
            json,
        })
    }

    /// What `OutboxEntry::new(message, enqueued_at).encode()` gives, without encoding
    /// the message again.
    pub fn entry_json(&self, enqueued_at: DateTime<Utc>) -> Result<String, serde_json::Error> {
        serde_json::to_string(&NewEntry {
            message: &self.json,
            enqueued_at,
            attempts: 0,
            last_error: None,
            first_failed_at: None,
            last_failed_at: None,
        })
    }
}

impl OutboxEntry {
    pub(crate) fn new(message: OutboxMessage, enqueued_at: DateTime<Utc>) -> Self {
        Self {
            message,
            enqueued_at,
            attempts: 0,
            last_error: None,
            first_failed_at: None,
            last_failed_at: None,
            attempt_started_at: None,
            maybe_posted: false,
        }
    }
}

impl SledStore {
    /// Removes entry `id`, records where it landed under its `record_ref` (every copy
    /// found), and audits the notification, in one flushed transaction. An unknown id
    /// is a no-op (already settled), so a retried settlement is harmless.
    pub async fn outbox_delivered(
        &self,
        id: u64,
        posted: Option<SlackRef>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let removed = self
            .transact(|tx| {
                let key = seq_key(id);
                let Some(entry) = tx.read::<OutboxEntry, StoreError>(Table::Outbox, &key)? else {
                    return Ok(None);
                };
                let message = &entry.data.message;
                tx.tree(Table::Outbox).remove(key.as_slice())?;
                if let (Some(ref_key), Some(posted)) = (&message.record_ref, &posted) {
                    tx.put::<_, StoreError>(Table::SlackRefs, ref_key.as_bytes(), posted)?;
                }
                let event = AuditEvent {
                    actor: "c1bot".into(),
                    action: "notification.sent".into(),
                    subject: message.subject().to_owned(),
                    detail: json!({
                        "outbox_id": id,
                        "method": message.method,
                        "ref": message.record_ref.as_ref().or(message.update_ref.as_ref()),
                        "channel": posted.as_ref().map(|p| &p.channel),
                        "ts": posted.as_ref().map(|p| &p.ts),
                        "copies": posted.as_ref().map_or(0, |p| p.copies.len()),
                    }),
                };
                tx.append_audit::<StoreError>(&event, now)?;
                Ok(Some(message.queued_to().map(str::to_owned)))
            })
            .await?;
        if let Some(channel) = removed {
            self.inner.outbox_index.settled(channel.as_deref());
        }
        self.flush().await
    }

    /// Records a failed attempt of entry `id`. With `give_up`, the entry is removed and
    /// the failure audited as `notification.failed`; otherwise its attempt count, error
    /// and failure times are updated for the sender's backoff, and `maybe_posted` says
    /// whether the attempt may have reached Slack all the same (a time-out, not a
    /// refusal). `then` (the entry's [`IfRefused`] words) is queued in the same
    /// transaction when giving up.
    pub async fn outbox_failed(
        &self,
        id: u64,
        error: &str,
        give_up: bool,
        maybe_posted: bool,
        now: DateTime<Utc>,
        then: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let shared = self.inner.gate.read().await;
        let order = self.inner.outbox_index.lock_order();
        let settled = self.transact_under(&shared, |tx| {
            let key = seq_key(id);
            let Some(stored) = tx.read::<OutboxEntry, StoreError>(Table::Outbox, &key)? else {
                return Ok(None);
            };
            let mut entry = stored.data;
            entry.attempts += 1;
            entry.last_error = Some(error.to_owned());
            entry.first_failed_at.get_or_insert(now);
            entry.last_failed_at = Some(now);
            entry.maybe_posted = maybe_posted;
            if !give_up {
                tx.put::<_, StoreError>(Table::Outbox, &key, &entry)?;
                return Ok(None);
            }
            tx.tree(Table::Outbox).remove(key.as_slice())?;
            let message = &entry.message;
            let event = AuditEvent {
                actor: "c1bot".into(),
                action: "notification.failed".into(),
                subject: message.subject().to_owned(),
                detail: json!({
                    "outbox_id": id,
                    "method": message.method,
                    "ref": message.record_ref.as_ref().or(message.update_ref.as_ref()),
                    "channel": message.args.get("channel"),
                    "error": error,
                    "attempts": entry.attempts,
                }),
            };
            tx.append_audit::<StoreError>(&event, now)?;
            let queued = tx.queue_outbox::<StoreError>(then, now)?;
            Ok(Some((message.queued_to().map(str::to_owned), queued)))
        })?;
        let queued = match settled {
            Some((channel, queued)) => {
                self.note_outbox(&queued);
                self.inner.outbox_index.settled(channel.as_deref());
                !queued.is_empty()
            }
            None => false,
        };
        drop(order);
        drop(shared);
        self.flush().await?;
        if queued {
            self.inner.outbox_ready.notify_one();
        }
        Ok(())
    }

    /// Where the message recorded under `key` was posted.
    pub fn slack_ref(&self, key: &str) -> Result<Option<SlackRef>, StoreError> {
        Ok(self.get::<SlackRef>(Table::SlackRefs, key)?.map(|r| r.data))
    }

    /// Every recorded message whose key starts with `prefix` (e.g. every copy of
    /// `REQ-1042/`), in key order.
    pub fn slack_refs(&self, prefix: &str) -> Result<Vec<(String, SlackRef)>, StoreError> {
        Ok(self
            .scan_prefix::<SlackRef>(Table::SlackRefs, prefix)?
            .into_iter()
            .map(|(k, r)| (k, r.data))
            .collect())
    }

    /// Resolves after a commit that queued outbox messages. A commit made while nobody
    /// waits is remembered (one permit), so the sender never misses a wake-up.
    pub async fn outbox_changed(&self) {
        self.inner.outbox_ready.notified().await;
    }
}
