//! c1bot's answer to each envelope: the application side of
//! [`EnvelopeHandler`](crate::slack::dispatch::EnvelopeHandler).
//!
//! It decides the ack payload from the envelope alone (fast, no I/O) and spawns any
//! Web API work after, so a slow Slack never delays an ack.

use serde_json::{json, Value};
use slack_morphism::prelude::{SlackCommandEvent, SlackEventCallbackBody};

use super::commands::{usage, Command};
use crate::slack::dispatch::EnvelopeHandler;
use crate::slack::frame::{Envelope, Inbound};
use crate::slack::web::{methods, WebApi};

/// Bot events c1bot answers; the manifest subscribes to exactly these.
pub const HANDLED_EVENTS: &[&str] = &[APP_HOME_OPENED];
const APP_HOME_OPENED: &str = "app_home_opened";

pub struct C1Handler {
    /// The slash command as configured (`/c1`), for usage text.
    pub command_name: String,
    pub web: WebApi,
}

impl EnvelopeHandler for C1Handler {
    async fn handle(&self, envelope: Envelope) -> Option<Value> {
        match envelope.decode() {
            Inbound::SlashCommand(command) => Some(self.on_command(&command)),
            Inbound::Event(callback) => {
                let event_type = envelope
                    .payload
                    .pointer("/event/type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if HANDLED_EVENTS.contains(&event_type) {
                    self.on_event(callback.event);
                } else {
                    tracing::debug!(event_type, "event c1bot does not subscribe to; acked");
                }
                None
            }
            Inbound::Interaction(interaction) => {
                tracing::debug!(?interaction, "interaction with no handler yet; acked");
                None
            }
            Inbound::Unsupported { kind, detail } => {
                tracing::warn!(kind = kind.as_str(), payload_type = envelope.payload_type(), %detail, "payload of a kind c1bot does not handle; acked and ignored");
                None
            }
        }
    }
}

impl C1Handler {
    fn on_command(&self, command: &SlackCommandEvent) -> Value {
        let text = command.text.as_deref().unwrap_or_default();
        tracing::info!(user = %command.user_id, command = %command.command, "slash command");
        let answer = match Command::parse(text) {
            Command::Help => usage(&self.command_name, None),
            Command::Unknown(word) => usage(&self.command_name, Some(&word)),
        };
        json!({ "response_type": "ephemeral", "text": answer })
    }

    fn on_event(&self, event: SlackEventCallbackBody) {
        match event {
            SlackEventCallbackBody::AppHomeOpened(opened) => {
                let web = self.web.clone();
                let command = self.command_name.clone();
                let user = opened.user.to_string();
                tokio::spawn(async move {
                    if let Err(error) = web
                        .call(
                            methods::VIEWS_PUBLISH,
                            json!({"user_id": user, "view": home_view(&command)}),
                        )
                        .await
                    {
                        tracing::warn!(%error, "could not publish App Home");
                    }
                });
            }
            other => {
                tracing::debug!(event = ?std::mem::discriminant(&other), "event with no handler; acked")
            }
        }
    }
}

/// The App Home tab. Later issues add requests, decisions and tasks to it.
fn home_view(command: &str) -> Value {
    json!({
        "type": "home",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "c1bot"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("Just-in-time access, decided in Slack. Type `{command} help` in any channel to see what c1bot can do.")}}
        ]
    })
}
