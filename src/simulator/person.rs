//! A workspace member acting in Slack: slash commands, button clicks, DMs and
//! the App Home, and reading what they see (DMs, ephemerals, channels). Modal
//! actions (fill / submit / close) are in `modal.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::delivery::{self, Ack, EnvelopeHandle};
use super::message::{find_buttons, ButtonRef, Message};
use super::payloads::{self, ActionSource, SlashArgs, Team};
use super::state::ResponseTarget;
use super::workspace::{dm_channel_id, User};
use super::Inner;

/// Acts as one workspace member. Cheap to clone.
#[derive(Clone)]
pub struct Person {
    pub(crate) inner: Arc<Inner>,
    pub(crate) id: String,
}

/// What a slash command did, as the person saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandOutcome {
    pub acked: bool,
    /// The ack payload, if any.
    pub response: Option<Value>,
    /// The ack payload's `text` (or its visible block text), or "".
    pub response_text: String,
    pub envelope_id: String,
    pub trigger_id: String,
}

/// What a click (or a dispatched input change) did.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionOutcome {
    pub acked: bool,
    pub envelope_id: String,
    pub trigger_id: String,
    /// The ack payload (block_actions acks carry none in practice).
    pub payload: Option<Value>,
}

/// How a modal submission ended, applied to the person's modal stack.
#[derive(Debug, Clone, PartialEq)]
pub enum SubmitOutcome {
    /// Empty ack: the current view closed.
    Closed,
    /// `response_action: errors`: block_id -> message; the modal stays open.
    Errors(BTreeMap<String, String>),
    /// `response_action: update`: the current view was replaced (stored view).
    Updated(Value),
    /// `response_action: push`: a new view on top (stored view).
    Pushed(Value),
    /// `response_action: clear`: the whole stack closed.
    Cleared,
    /// No ack in time, or an ack Slack would refuse; the modal stays open.
    Failed(String),
}

/// Owned team identity, borrowed as [`Team`] by the payload builders.
pub(crate) struct TeamIds {
    pub id: String,
    pub domain: String,
    pub app_id: String,
}

impl TeamIds {
    pub fn team(&self) -> Team<'_> {
        Team {
            id: &self.id,
            domain: &self.domain,
            app_id: &self.app_id,
        }
    }
}

impl Person {
    pub(crate) fn new(inner: Arc<Inner>, id: String) -> Person {
        Person { inner, id }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// This person's user record.
    pub fn user(&self) -> User {
        let w = self.inner.world();
        w.ws.users
            .iter()
            .find(|u| u.id == self.id)
            .cloned()
            .expect("a Person is only created for an existing user")
    }

    pub(crate) fn team_ids(&self) -> TeamIds {
        let w = self.inner.world();
        TeamIds {
            id: w.ws.team_id.clone(),
            domain: w.ws.domain.clone(),
            app_id: w.ws.app_id.clone(),
        }
    }

    fn api_base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.inner.api_port)
    }

    /// Sends an interaction or command envelope and waits up to `ack_timeout`.
    /// No socket, or no ack in time, is recorded as a [`super::PersonError`].
    pub(crate) async fn deliver(&self, kind: &str, envelope: Value, shown: &str) -> Option<Ack> {
        let envelope_id = envelope["envelope_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if delivery::dispatch(&self.inner, envelope).is_none() {
            let msg = format!("{shown} (no open Socket Mode connection)");
            self.inner
                .world()
                .record_person_error(&self.id, kind, &envelope_id, &msg);
            return None;
        }
        let ack =
            delivery::wait_ack(&self.inner, &envelope_id, self.inner.options.ack_timeout).await;
        if ack.is_none() {
            self.inner
                .world()
                .record_person_error(&self.id, kind, &envelope_id, shown);
        }
        ack
    }

    /// Runs `/command text` in `channel` (name or id) and waits for the ack. An ack
    /// payload is shown as an ephemeral (or, with `in_channel`, posted to the channel).
    ///
    /// # Panics
    /// On an unknown channel (a test typo).
    pub async fn slash(&self, command: &str, text: &str, channel: &str) -> CommandOutcome {
        let user = self.user();
        let ids = self.team_ids();
        let (channel_id, channel_name, trigger_id, response_url, text) = {
            let mut w = self.inner.world();
            let c = w
                .resolve_channel(channel)
                .unwrap_or_else(|| panic!("simulator: no channel {channel:?}"));
            let (cid, name) = (
                c.id.clone(),
                if c.is_im {
                    "directmessage".into()
                } else {
                    c.name.clone()
                },
            );
            let text = if self.inner.options.escape_slash_text {
                w.escape_mentions(text)
            } else {
                text.to_owned()
            };
            let trigger = w.new_trigger(&self.id);
            let target = ResponseTarget {
                user: self.id.clone(),
                channel: cid.clone(),
                message_ts: None,
            };
            let url = w.new_response_url(&self.api_base(), target);
            (cid, name, trigger, url, text)
        };
        let args = SlashArgs {
            command,
            text: &text,
            channel_id: &channel_id,
            channel_name: &channel_name,
            trigger_id: &trigger_id,
            response_url: &response_url,
        };
        let payload = payloads::slash_command(&ids.team(), &user, &args);
        let envelope = payloads::envelope("slash_commands", payload);
        let envelope_id = envelope["envelope_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let shown = format!("{command} failed with the error \"operation_timeout\"");
        let ack = self.deliver("slash_command", envelope, &shown).await;
        let response = ack.as_ref().and_then(|a| a.payload.clone());
        let mut response_text = String::new();
        if let Some(p) = response.as_ref().filter(|p| p.is_object()) {
            let msg = self.show_response(&channel_id, p);
            response_text = match p["text"].as_str() {
                Some(t) if !t.is_empty() => t.to_string(),
                _ => msg.visible_text(),
            };
        }
        CommandOutcome {
            acked: ack.is_some(),
            response,
            response_text,
            envelope_id,
            trigger_id,
        }
    }

    /// Records a slash command's ack payload as what the person sees.
    fn show_response(&self, channel: &str, p: &Value) -> Message {
        let mut w = self.inner.world();
        let msg = Message {
            channel: channel.to_string(),
            ts: w.next_ts(),
            text: p["text"].as_str().unwrap_or_default().to_string(),
            blocks: p.get("blocks").cloned().unwrap_or(Value::Array(vec![])),
            user: w.ws.bot_user_id.clone(),
            thread_ts: None,
            edited: false,
            metadata: None,
        };
        if p["response_type"] == "in_channel" {
            w.messages
                .entry(channel.to_string())
                .or_default()
                .push(msg.clone());
        } else {
            w.ephemerals
                .entry(self.id.clone())
                .or_default()
                .push(msg.clone());
        }
        self.inner.bump();
        msg
    }

    /// Clicks the button with this exact visible text in the open modal, or else in
    /// the newest visible message (DMs with the bot, channels, ephemerals).
    pub async fn click(&self, button_text: &str) -> anyhow::Result<ActionOutcome> {
        self.click_where(None, button_text, None).await
    }

    /// Clicks a button in one message.
    pub async fn click_in(
        &self,
        channel: &str,
        ts: &str,
        button_text: &str,
    ) -> anyhow::Result<ActionOutcome> {
        self.click_where(Some((channel, ts)), button_text, None)
            .await
    }

    /// Like [`Person::click`], but the action's `value` is replaced (a forged click).
    pub async fn click_with_value(
        &self,
        button_text: &str,
        forged_value: &str,
    ) -> anyhow::Result<ActionOutcome> {
        self.click_where(None, button_text, Some(forged_value))
            .await
    }

    async fn click_where(
        &self,
        only: Option<(&str, &str)>,
        text: &str,
        forged: Option<&str>,
    ) -> anyhow::Result<ActionOutcome> {
        let (source, button) = self
            .find_button(only, text)
            .ok_or_else(|| anyhow::anyhow!("{}: no visible button {text:?}", self.id))?;
        let mut action = json!({
            "type": "button",
            "action_id": button.action_id,
            "block_id": button.block_id,
            "text": button.text_object,
            "action_ts": action_ts(),
        });
        if let Some(v) = forged.map(str::to_string).or(button.value) {
            action["value"] = Value::from(v);
        }
        self.send_block_actions(source, action).await
    }

    pub(crate) async fn send_block_actions(
        &self,
        source: ActionSource,
        action: Value,
    ) -> anyhow::Result<ActionOutcome> {
        let user = self.user();
        let ids = self.team_ids();
        let trigger_id = self.inner.world().new_trigger(&self.id);
        let payload = payloads::block_actions(&ids.team(), &user, &source, &trigger_id, action);
        let envelope = payloads::envelope("interactive", payload);
        let envelope_id = envelope["envelope_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let ack = self
            .deliver(
                "block_actions",
                envelope,
                "warning icon: the app did not respond",
            )
            .await;
        Ok(ActionOutcome {
            acked: ack.is_some(),
            envelope_id,
            trigger_id,
            payload: ack.and_then(|a| a.payload),
        })
    }

    /// The top modal first, then messages newest first.
    fn find_button(
        &self,
        only: Option<(&str, &str)>,
        text: &str,
    ) -> Option<(ActionSource, ButtonRef)> {
        let matching = |blocks: &Value| find_buttons(blocks).into_iter().find(|b| b.text == text);
        let mut w = self.inner.world();
        if only.is_none() {
            let top = w.top_modal(&self.id).and_then(|id| w.view_json(&id));
            if let Some(view) = top {
                if let Some(b) = matching(&view["blocks"]) {
                    return Some((ActionSource::View { view }, b));
                }
            }
        }
        let mut seen: Vec<(Message, bool)> = self.visible_messages_locked(&w);
        seen.sort_by(|a, b| b.0.ts.cmp(&a.0.ts));
        let (msg, is_ephemeral, button) = seen.into_iter().find_map(|(m, eph)| {
            if let Some((c, ts)) = only {
                let cid = w
                    .resolve_channel(c)
                    .map(|c| c.id.clone())
                    .unwrap_or_else(|| c.to_string());
                if m.channel != cid || m.ts != ts {
                    return None;
                }
            }
            matching(&m.blocks).map(|b| (m, eph, b))
        })?;
        let (team, bot_id, bot) = (
            w.ws.team_id.clone(),
            w.ws.bot_id.clone(),
            w.ws.bot_user_id.clone(),
        );
        let channel_name = match w.resolve_channel(&msg.channel) {
            Some(c) if !c.is_im => c.name.clone(),
            _ => "directmessage".to_string(),
        };
        let target = ResponseTarget {
            user: self.id.clone(),
            channel: msg.channel.clone(),
            message_ts: (!is_ephemeral).then(|| msg.ts.clone()),
        };
        let response_url = w.new_response_url(&self.api_base(), target);
        let source = ActionSource::Message {
            channel_id: msg.channel.clone(),
            channel_name,
            message: msg.to_json(&team, &bot_id, &bot),
            is_ephemeral,
            response_url,
        };
        Some((source, button))
    }

    /// (message, is_ephemeral) for everything this person can see.
    fn visible_messages_locked(&self, w: &super::state::World) -> Vec<(Message, bool)> {
        let mut out = Vec::new();
        for c in &w.ws.channels {
            let sees = if c.is_im {
                c.im_user.as_deref() == Some(&self.id)
            } else {
                !c.is_private || c.members.contains(&self.id)
            };
            if sees {
                for m in w.messages.get(&c.id).into_iter().flatten() {
                    out.push((m.clone(), false));
                }
            }
        }
        for m in w.ephemerals.get(&self.id).into_iter().flatten() {
            out.push((m.clone(), true));
        }
        out
    }

    /// `text` (mrkdwn) as this person reads it: Slack's date tokens in their own
    /// time zone ([`super::dates`]).
    pub fn reads(&self, text: &str) -> String {
        super::dates::in_zone(text, self.user().tz_offset)
    }

    /// Messages in this person's DM with the bot, oldest first, current content.
    pub fn dms(&self) -> Vec<Message> {
        let w = self.inner.world();
        w.messages
            .get(&dm_channel_id(&self.id))
            .cloned()
            .unwrap_or_default()
    }

    pub fn last_dm(&self) -> Option<Message> {
        self.dms().pop()
    }

    /// Ephemeral messages shown to this person (postEphemeral, command acks, response_url).
    pub fn ephemerals(&self) -> Vec<Message> {
        self.inner
            .world()
            .ephemerals
            .get(&self.id)
            .cloned()
            .unwrap_or_default()
    }

    /// Messages in `channel`, if this person can see it (else empty).
    pub fn channel_messages(&self, channel: &str) -> Vec<Message> {
        let w = self.inner.world();
        let Some(c) = w.resolve_channel(channel) else {
            return vec![];
        };
        if c.is_private && !c.members.contains(&self.id) {
            return vec![];
        }
        w.messages.get(&c.id).cloned().unwrap_or_default()
    }

    /// The last view published to this person's App Home.
    pub fn home(&self) -> Option<Value> {
        let w = self.inner.world();
        w.homes.get(&self.id).and_then(|id| w.view_json(id))
    }

    /// Waits until a message this person can see satisfies `pred`; returns it.
    pub async fn wait_for_message(
        &self,
        within: Duration,
        pred: impl Fn(&Message) -> bool,
    ) -> anyhow::Result<Message> {
        let me = self.clone();
        self.inner
            .wait_until(within, |_| {
                let w = me.inner.world();
                let mut all = me.visible_messages_locked(&w);
                all.sort_by(|a, b| b.0.ts.cmp(&a.0.ts));
                all.into_iter().map(|(m, _)| m).find(|m| pred(m))
            })
            .await
            .ok_or_else(|| anyhow::anyhow!("{}: no matching message within {within:?}", self.id))
    }

    /// Sends `app_home_opened` (with the published home view, if any).
    pub async fn open_app_home(&self) -> EnvelopeHandle {
        let mut event = json!({"type": "app_home_opened", "user": self.id, "channel": dm_channel_id(&self.id), "tab": "home"});
        if let Some(view) = self.home() {
            event["view"] = view;
        }
        self.push(event).await
    }

    /// Writes `text` in the DM with the bot (`message` event, `channel_type: im`).
    pub async fn send_dm(&self, text: &str) -> EnvelopeHandle {
        let (channel, ts) = {
            let mut w = self.inner.world();
            let channel = w.ensure_dm(&self.id);
            let ts = w.next_ts();
            let msg = Message {
                channel: channel.clone(),
                ts: ts.clone(),
                text: text.to_string(),
                blocks: Value::Array(vec![]),
                user: self.id.clone(),
                thread_ts: None,
                edited: false,
                metadata: None,
            };
            w.messages.entry(channel.clone()).or_default().push(msg);
            (channel, ts)
        };
        let event = json!({
            "type": "message", "channel": channel, "user": self.id, "text": text, "ts": ts,
            "event_ts": ts, "channel_type": "im", "team": self.team_ids().id,
            "client_msg_id": uuid::Uuid::new_v4().to_string(),
        });
        self.push(event).await
    }

    async fn push(&self, event: Value) -> EnvelopeHandle {
        let sim = super::Simulator {
            inner: self.inner.clone(),
        };
        sim.push_event(event).await
    }
}

pub(crate) fn action_ts() -> String {
    let now = chrono::Utc::now();
    format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros())
}
