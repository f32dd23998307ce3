//! The live world behind the simulator: the workspace as it changes, messages,
//! ephemerals, views and modal stacks, trigger ids, and the records tests read
//! (Web API calls, acks, person errors). Plain data under one mutex; no I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::time::Instant;

use super::delivery::AckRecord;
use super::message::Message;
use super::workspace::{dm_channel_id, Channel, Workspace};

/// Which kind of token authenticated a Web API call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    App,
    Bot,
    None,
}

/// One Web API request as the simulator saw it.
#[derive(Debug, Clone)]
pub struct ApiCall {
    pub method: String,
    /// Query, form and JSON arguments merged; JSON-string `blocks` / `view` parsed.
    pub args: Value,
    pub token_kind: TokenKind,
    pub at: Instant,
    pub http_status: u16,
    /// `error` of the response body, if `ok` was false.
    pub error: Option<String>,
}

/// Something a person would have seen fail in Slack.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonError {
    pub user: String,
    /// `slash_command`, `block_actions`, `view_submission`, `block_suggestion`, ...
    pub kind: String,
    pub envelope_id: String,
    /// What Slack would show, or why the ack was refused.
    pub message: String,
}

/// A view (modal or home) with the person's current input.
#[derive(Debug, Clone)]
pub struct ViewRecord {
    /// The full view object as Slack returns it; `state` is rebuilt from `values`.
    pub view: Value,
    pub user: String,
    /// block_id -> action_id -> state value object (`{"type":…, "value":…}`).
    pub values: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct Trigger {
    pub user: String,
    pub created: Instant,
    pub used: bool,
}

/// Where a `response_url` posts to.
#[derive(Debug, Clone)]
pub struct ResponseTarget {
    pub user: String,
    pub channel: String,
    pub message_ts: Option<String>,
}

pub struct World {
    pub ws: Workspace,
    /// channel id -> messages, oldest first.
    pub messages: BTreeMap<String, Vec<Message>>,
    /// user id -> ephemerals shown to them, oldest first.
    pub ephemerals: BTreeMap<String, Vec<Message>>,
    pub views: BTreeMap<String, ViewRecord>,
    /// user id -> open modal view ids, root first.
    pub modal_stacks: BTreeMap<String, Vec<String>>,
    /// user id -> published home view id.
    pub homes: BTreeMap<String, String>,
    pub triggers: BTreeMap<String, Trigger>,
    pub response_urls: BTreeMap<String, ResponseTarget>,
    pub calls: Vec<ApiCall>,
    pub acks: Vec<AckRecord>,
    pub person_errors: Vec<PersonError>,
    /// The bot token's scopes now (`SimOptions::granted_scopes` at start).
    pub scopes: Vec<String>,
    last_ts_micros: i64,
    next_id: u64,
}

impl World {
    pub fn new(ws: Workspace, scopes: Vec<String>) -> World {
        World {
            ws,
            messages: BTreeMap::new(),
            ephemerals: BTreeMap::new(),
            views: BTreeMap::new(),
            modal_stacks: BTreeMap::new(),
            homes: BTreeMap::new(),
            triggers: BTreeMap::new(),
            response_urls: BTreeMap::new(),
            calls: Vec::new(),
            acks: Vec::new(),
            person_errors: Vec::new(),
            scopes,
            last_ts_micros: 0,
            next_id: 1,
        }
    }

    /// A fresh, strictly increasing message timestamp (`"1763630100.000200"`).
    pub fn next_ts(&mut self) -> String {
        let now = chrono::Utc::now().timestamp_micros();
        self.last_ts_micros = now.max(self.last_ts_micros + 1);
        format!(
            "{}.{:06}",
            self.last_ts_micros / 1_000_000,
            self.last_ts_micros % 1_000_000
        )
    }

    /// A fresh id with `prefix` padded to Slack's 11-character shape.
    pub fn next_id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}0SIM{:06}", self.next_id)
    }

    /// A new trigger id for `user`, in Slack's `123.456.hex` shape.
    pub fn new_trigger(&mut self, user: &str) -> String {
        self.next_id += 1;
        let hex = uuid::Uuid::new_v4().simple().to_string();
        let id = format!("{}.1000000000.{hex}", 1_000_000_000_000u64 + self.next_id);
        self.triggers.insert(
            id.clone(),
            Trigger {
                user: user.to_string(),
                created: Instant::now(),
                used: false,
            },
        );
        id
    }

    /// Consumes a trigger id: Slack's `invalid_trigger_id` / `expired_trigger_id` /
    /// `exchanged_trigger_id` errors, or the user it belongs to.
    pub fn use_trigger(&mut self, id: &str, ttl: Duration) -> Result<String, &'static str> {
        let Some(t) = self.triggers.get_mut(id) else {
            return Err("invalid_trigger_id");
        };
        if t.used {
            return Err("exchanged_trigger_id");
        }
        if t.created.elapsed() > ttl {
            return Err("expired_trigger_id");
        }
        t.used = true;
        Ok(t.user.clone())
    }

    /// A `response_url` for a person's command or click.
    pub fn new_response_url(&mut self, base: &str, target: ResponseTarget) -> String {
        let key = uuid::Uuid::new_v4().simple().to_string();
        self.response_urls.insert(key.clone(), target);
        format!("{base}hooks/{}/{key}", self.ws.team_id)
    }

    /// A channel (or DM) by id or name; DMs between a user and the bot are
    /// created on first use.
    /// Text as Slack passes it to a command with `should_escape`: each `@handle` of a
    /// member becomes `<@U…|handle>` and each `#name` of a channel `<#C…|name>`;
    /// anything else (unknown names, an email address) is left as typed.
    pub fn escape_mentions(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for (index, word) in text.split(' ').enumerate() {
            if index > 0 {
                out.push(' ');
            }
            let name_end = |rest: &str| {
                rest.find(|c: char| !(c.is_alphanumeric() || c == '.' || c == '-' || c == '_'))
                    .unwrap_or(rest.len())
            };
            let escaped = if let Some(rest) = word.strip_prefix('@') {
                let name = rest[..name_end(rest)].trim_end_matches('.');
                self.ws
                    .users
                    .iter()
                    .find(|u| !name.is_empty() && u.name == name)
                    .map(|u| format!("<@{}|{}>{}", u.id, u.name, &rest[name.len()..]))
            } else if let Some(rest) = word.strip_prefix('#') {
                let name = rest[..name_end(rest)].trim_end_matches('.');
                self.ws
                    .channels
                    .iter()
                    .find(|c| !name.is_empty() && !c.is_im && c.name == name)
                    .map(|c| format!("<#{}|{}>{}", c.id, c.name, &rest[name.len()..]))
            } else {
                None
            };
            out.push_str(escaped.as_deref().unwrap_or(word));
        }
        out
    }

    pub fn resolve_channel(&self, name_or_id: &str) -> Option<&Channel> {
        self.ws.channel(name_or_id)
    }

    pub fn channel_mut(&mut self, id: &str) -> Option<&mut Channel> {
        self.ws.channels.iter_mut().find(|c| c.id == id)
    }

    /// The bot's DM with `user_id`, created on first use.
    pub fn ensure_dm(&mut self, user_id: &str) -> String {
        let id = dm_channel_id(user_id);
        if self.ws.channel(&id).is_none() {
            let bot = self.ws.bot_user_id.clone();
            let mut dm = Channel::new(&id, &id, true, &[user_id, bot.as_str()]);
            dm.is_im = true;
            dm.im_user = Some(user_id.to_string());
            dm.created = chrono::Utc::now().timestamp();
            self.ws.channels.push(dm);
        }
        id
    }

    pub fn record_person_error(&mut self, user: &str, kind: &str, envelope_id: &str, msg: &str) {
        tracing::info!(
            user,
            kind,
            envelope_id,
            msg,
            "simulator: person sees an error"
        );
        self.person_errors.push(PersonError {
            user: user.to_string(),
            kind: kind.to_string(),
            envelope_id: envelope_id.to_string(),
            message: msg.to_string(),
        });
    }

    /// The view object with `state.values` rebuilt from the person's input.
    pub fn view_json(&self, view_id: &str) -> Option<Value> {
        let rec = self.views.get(view_id)?;
        let mut v = rec.view.clone();
        v["state"] = serde_json::json!({"values": rec.values});
        Some(v)
    }

    /// The top of `user`'s modal stack.
    pub fn top_modal(&self, user: &str) -> Option<String> {
        self.modal_stacks.get(user).and_then(|s| s.last().cloned())
    }

    /// Finds a message by channel and ts. Messages are kept oldest first and every ts
    /// comes from [`World::next_ts`] (same width, increasing), so a binary search
    /// finds it in a busy channel; anything else is looked for one by one.
    pub fn message_mut(&mut self, channel: &str, ts: &str) -> Option<&mut Message> {
        let msgs = self.messages.get_mut(channel)?;
        let at = match msgs.binary_search_by(|m| m.ts.as_str().cmp(ts)) {
            Ok(at) => at,
            Err(_) => msgs.iter().position(|m| m.ts == ts)?,
        };
        msgs.get_mut(at)
    }
}
