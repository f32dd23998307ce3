//! Every envelope's payload decoded once, purely, into what c1bot reads
//! ([`Inbound`]): a slash command, an interaction (a click with its buttons, a
//! modal's submission with its input, typeahead), a person's message in their DM,
//! App Home opened; or what is not for c1bot, or does not decode. Small serde
//! structs and c1bot's own readers throughout: nothing above `slack` sees Slack's
//! JSON.

use serde::Deserialize;
use serde_json::Value;

use super::frame::{Envelope, EnvelopeKind};
use super::interaction::Interaction;

/// What an envelope brings c1bot.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Command(SlashCommand),
    Interaction(Interaction),
    /// Someone opened c1bot's App Home.
    HomeOpened {
        user: String,
    },
    /// A person's own new message in their DM with c1bot.
    DirectMessage(DirectMessage),
    /// Decoded, and not for c1bot: another event, an app's message (c1bot's own
    /// included), an edit or a deletion, a message outside a DM.
    NotForC1bot {
        what: String,
    },
    /// The payload does not decode as its envelope kind says; acked, logged, counted.
    Unreadable {
        kind: EnvelopeKind,
        why: String,
    },
}

/// A slash command, as far as c1bot reads one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SlashCommand {
    pub user_id: String,
    pub channel_id: String,
    /// The command's name, e.g. `/c1`.
    pub command: String,
    #[serde(default)]
    pub text: String,
    pub trigger_id: String,
    /// Where an answer may go in the next 30 minutes.
    #[serde(deserialize_with = "a_url")]
    pub response_url: String,
}

/// A person's new message in their DM with c1bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectMessage {
    pub user: String,
    pub channel: String,
    pub text: String,
    pub ts: String,
}

#[derive(Deserialize)]
struct Callback {
    #[serde(rename = "type")]
    kind: String,
    event: Value,
}

#[derive(Deserialize)]
struct HomeOpened {
    user: String,
}

impl Inbound {
    /// Decodes `envelope`'s payload by its kind.
    pub fn decode(envelope: &Envelope) -> Inbound {
        let payload = &envelope.payload;
        let unreadable = |why: String| Inbound::Unreadable {
            kind: envelope.kind,
            why,
        };
        match envelope.kind {
            // An interaction type c1bot does not know stays an interaction
            // (`Interaction::Other`): nothing handles it, which is counted as such.
            EnvelopeKind::Interactive => Inbound::Interaction(Interaction::parse(payload)),
            EnvelopeKind::SlashCommands => match SlashCommand::deserialize(payload) {
                Ok(command) => Inbound::Command(command),
                Err(error) => unreadable(error.to_string()),
            },
            EnvelopeKind::EventsApi => match Callback::deserialize(payload) {
                Ok(callback) if callback.kind == "event_callback" => event(&callback.event)
                    .unwrap_or_else(|why| unreadable(format!("{why}: {}", callback.event))),
                Ok(callback) => {
                    unreadable(format!("events_api payload of type {:?}", callback.kind))
                }
                Err(error) => unreadable(error.to_string()),
            },
        }
    }
}

/// An event: the ones c1bot reads, or what it is when c1bot does not read it.
fn event(event: &Value) -> Result<Inbound, String> {
    let kind = event
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    match kind {
        "app_home_opened" => HomeOpened::deserialize(event)
            .map(|opened| Inbound::HomeOpened { user: opened.user })
            .map_err(|error| error.to_string()),
        "message" => Ok(direct_message(event).map_or_else(
            || Inbound::NotForC1bot {
                what: "a message c1bot does not read".into(),
            },
            Inbound::DirectMessage,
        )),
        "" => Err("an event without a type".into()),
        other => Ok(Inbound::NotForC1bot {
            what: format!("event {other}"),
        }),
    }
}

/// The message c1bot should answer, or `None` for anything it must not read: edits
/// and deletions (any `subtype`), messages from apps (c1bot's own included: they
/// carry `bot_id`), anything outside a DM, and blank messages.
fn direct_message(event: &Value) -> Option<DirectMessage> {
    let text = |key: &str| event.get(key).and_then(Value::as_str);
    if text("channel_type") != Some("im")
        || event.get("subtype").is_some()
        || event.get("bot_id").is_some()
        || event.get("bot_profile").is_some()
    {
        return None;
    }
    let message = DirectMessage {
        user: text("user")?.to_owned(),
        channel: text("channel")?.to_owned(),
        text: text("text").unwrap_or_default().to_owned(),
        ts: text("ts")?.to_owned(),
    };
    (!message.text.trim().is_empty()).then_some(message)
}

/// Who sent an envelope and where they acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub user: String,
    /// The conversation they acted in (`None`: unknown, e.g. inside a modal).
    pub channel: Option<String>,
    /// The command's or click's `response_url`, where there is one.
    pub response_url: Option<String>,
}

/// Who sent `envelope`, read even from a payload that does not decode in full (so
/// a journal row that fails can still tell its person); `None` when it names nobody.
pub fn origin(envelope: &Envelope) -> Option<Origin> {
    let payload = &envelope.payload;
    let text = |pointer: &str| {
        payload
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (user, channel) = match envelope.kind {
        EnvelopeKind::SlashCommands => (text("/user_id")?, text("/channel_id")),
        EnvelopeKind::Interactive => (
            text("/user/id")?,
            text("/channel/id").or_else(|| text("/container/channel_id")),
        ),
        EnvelopeKind::EventsApi => (text("/event/user")?, text("/event/channel")),
    };
    Some(Origin {
        user,
        channel,
        response_url: text("/response_url"),
    })
}

/// What the person did, as they would name it (their own text, not escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deed {
    /// The command line they typed (`/c1 request …`).
    Command(String),
    /// The title of the form they submitted.
    Form(String),
    /// The text of the button they clicked.
    Click(String),
    Message,
}

/// What `envelope`'s person did, read even from a payload that does not decode.
pub fn deed(envelope: &Envelope) -> Deed {
    let payload = &envelope.payload;
    let text = |pointer: &str| payload.pointer(pointer).and_then(Value::as_str);
    match envelope.kind {
        EnvelopeKind::SlashCommands => Deed::Command(format!(
            "{} {}",
            text("/command").unwrap_or("/c1"),
            text("/text").unwrap_or_default()
        )),
        EnvelopeKind::Interactive if text("/type") == Some("view_submission") => {
            Deed::Form(text("/view/title/text").unwrap_or("a form").to_owned())
        }
        EnvelopeKind::Interactive => Deed::Click(
            text("/actions/0/text/text")
                .unwrap_or("a button")
                .to_owned(),
        ),
        EnvelopeKind::EventsApi => Deed::Message,
    }
}

/// A `response_url` must be a URL: c1bot posts to it.
fn a_url<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    match url::Url::parse(&text) {
        Ok(_) => Ok(text),
        Err(error) => Err(serde::de::Error::custom(format!(
            "response_url {text:?} is not a URL: {error}"
        ))),
    }
}

#[cfg(test)]
#[path = "inbound_tests.rs"]
mod tests;
