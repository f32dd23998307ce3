//! The durable outbox: Web API calls committed with the state change that caused
//! them, read back in order by the sender, and settled (delivered or given up) in
//! a transaction that also records where the message landed and audits it.
//!
//! Owns the outbox entry format and the `slack_refs` table. Must not call Slack: the
//! delivery loop is `crate::outbox_sender`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::audit::AuditEvent;
use super::keys::{seq_from_key, seq_key, OUTBOX_COUNTER};
use super::records::{self, Record};
use super::{Store, StoreError, Table};

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

    /// The audit subject: the logical key up to its first `/` (`REQ-1042`).
    pub fn subject(&self) -> &str {
        let key = self.record_ref.as_deref().or(self.update_ref.as_deref());
        key.map(|k| k.split('/').next().unwrap_or(k))
            .unwrap_or(&self.method)
    }
}

/// Where a message was posted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackRef {
    pub channel: String,
    pub ts: String,
}

impl Record for SlackRef {
    const VERSION: u32 = 1;
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
}

impl Record for OutboxEntry {
    const VERSION: u32 = 1;
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
        }
    }
}

impl Store {
    /// Every undelivered entry, oldest first (by outbox id, i.e. commit order).
    pub fn pending_outbox(&self) -> Result<Vec<(u64, OutboxEntry)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree(Table::Outbox).iter() {
            let (key, bytes) = item.map_err(|e| StoreError::storage("reading the outbox", e))?;
            let id = seq_from_key(&key)
                .ok_or_else(|| StoreError::decode(Table::Outbox, &key, "not a sequence key"))?;
            let entry = records::decode::<OutboxEntry>(&bytes)
                .map_err(|e| StoreError::decode(Table::Outbox, &key, e))?;
            out.push((id, entry.data));
        }
        Ok(out)
    }

    /// Removes entry `id`, records where it landed under its `record_ref`, and audits
    /// the notification, in one flushed transaction. An unknown id is a no-op (already
    /// settled), so a retried settlement is harmless.
    pub async fn outbox_delivered(
        &self,
        id: u64,
        posted: Option<SlackRef>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.transact(|tx| {
            let key = seq_key(id);
            let Some(entry) = tx.read::<OutboxEntry, StoreError>(Table::Outbox, &key)? else {
                return Ok(());
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
                }),
            };
            tx.append_audit::<StoreError>(&event, now)?;
            Ok(())
        })
        .await?;
        self.flush().await
    }

    /// Records a failed attempt of entry `id`. With `give_up`, the entry is removed and
    /// the failure audited as `notification.failed`; otherwise its attempt count, error
    /// and failure times are updated for the sender's backoff; `then` (the entry's
    /// [`IfRefused`] words) is queued in the same transaction.
    pub async fn outbox_failed(
        &self,
        id: u64,
        error: &str,
        give_up: bool,
        now: DateTime<Utc>,
        then: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        let queued = give_up && !then.is_empty();
        self.transact(|tx| {
            let key = seq_key(id);
            let Some(stored) = tx.read::<OutboxEntry, StoreError>(Table::Outbox, &key)? else {
                return Ok(());
            };
            let mut entry = stored.data;
            entry.attempts += 1;
            entry.last_error = Some(error.to_owned());
            entry.first_failed_at.get_or_insert(now);
            entry.last_failed_at = Some(now);
            if !give_up {
                tx.put::<_, StoreError>(Table::Outbox, &key, &entry)?;
                return Ok(());
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
            for message in then {
                let next = tx.next_counter::<StoreError>(OUTBOX_COUNTER, 1)?;
                tx.put::<_, StoreError>(
                    Table::Outbox,
                    &seq_key(next),
                    &OutboxEntry::new(message.clone(), now),
                )?;
            }
            Ok(())
        })
        .await?;
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
