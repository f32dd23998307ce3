//! Requests by direct message to c1bot (the app's Messages tab, `message.im`).
//!
//! A person's messages and clicks move one [`Conversation`] (stored in sled under
//! `dm/<user>`) through its steps; its one step message is edited in place through
//! the outbox, in the same commit as the state. A request is created only from the
//! stored conversation on *Submit*, through the same `requests::create` as the form.
//! `help`, `status` and `cancel` work as after the slash command. A conversation
//! left unanswered expires (timer `dm-expire`) and says so.
//!
//! Only people's own new messages in a DM are read (`slack::inbound` decides): c1bot's and other apps'
//! messages, edits, deletions and anything outside a DM are ignored.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

mod clicks;
mod messages;
mod render;

use clicks::cancel;
pub use clicks::{clicked, expire};
use messages::converse;

use crate::app::shared::journaled::Outcome;
use crate::app::shared::services::Services;
use crate::catalog::{Entitlement, Resource};
use crate::intake::conversation::Conversation;
use crate::policy::Action;
use crate::store::{Change, OutboxMessage, Record, Table, TimerEntry, Versioned};

/// The timer that ends a conversation left unanswered; its subject is the user id.
pub const TIMER: &str = "dm-expire";

impl Record for Conversation {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

/// A person's new message in their DM with c1bot (which ones c1bot reads is
/// `slack::inbound`'s).
pub use crate::slack::inbound::DirectMessage as Incoming;

fn key(user: &str) -> String {
    format!("dm/{user}")
}

/// Messages c1bot may have queued to one person's DM before it stops answering new
/// ones: a person writing faster than Slack lets c1bot reply (about one message a
/// second) cannot make the queue, or anyone else's wait, grow without bound.
pub const QUEUED_REPLIES_CAP: usize = 20;

/// Answers one message, journaled: every answer commits with `also` (the journal
/// row's completion), so a crash never answers twice or not at all. Past
/// [`QUEUED_REPLIES_CAP`] replies still waiting for Slack, the message is read but
/// not answered (counted in `c1bot_dm_replies_capped_total`).
pub async fn received(services: &Services, message: Incoming, also: Change) -> Outcome {
    let queued = services.store.outbox_queued_to(&message.channel)
        + services.store.outbox_queued_to(&message.user);
    if queued >= QUEUED_REPLIES_CAP {
        tracing::warn!(user = %message.user, queued, "a person's DM has too many replies waiting for Slack; this message is not answered");
        services.metrics.inc(
            "c1bot_dm_replies_capped_total",
            "DM messages left unanswered because the person's replies were still queued.",
            &[],
        );
        return Outcome::Nothing;
    }
    let word = message.text.trim().to_lowercase();
    let outcome = match word.as_str() {
        "help" | "?" => post_help(services, &message, also).await,
        "status" => post_status(services, &message, also).await,
        "cancel" | "stop" => cancel(services, &message, also).await,
        _ => converse(services, &message, also).await,
    };
    outcome.unwrap_or_else(|error| {
        tracing::error!(error = format!("{error:#}"), user = %message.user, "could not answer a direct message");
        Outcome::Retry("c1bot could not answer just now".into())
    })
}

async fn post_help(
    services: &Services,
    message: &Incoming,
    also: Change,
) -> anyhow::Result<Outcome> {
    let text = format!(
        "{}\n\nOr write to me here, for example `request aws-prod readonly for 2h because incident 4711`, or just `hi` and I'll ask step by step. `status` and `cancel` work here too.",
        crate::app::shared::commands::usage(&services.command, None)
    );
    reply(services, OutboxMessage::text(&message.channel, &text), also).await
}

async fn post_status(
    services: &Services,
    message: &Incoming,
    also: Change,
) -> anyhow::Result<Outcome> {
    let mut card = crate::app::status::status_message(services, &message.user).await;
    if let Some(object) = card.as_object_mut() {
        object.remove("response_type");
    }
    card["channel"] = json!(message.channel);
    let post = OutboxMessage {
        method: "chat.postMessage".into(),
        args: card,
        record_ref: None,
        update_ref: None,
        if_refused: None,
    };
    reply(services, post, also).await
}

/// A new message in the DM, through the outbox like every message.
async fn reply(services: &Services, post: OutboxMessage, also: Change) -> anyhow::Result<Outcome> {
    let change = Change::new().at(services.now()).outbox(post).and(also);
    commit(services, change).await
}

/// Commits a conversation's change; one that finds its journal row gone was
/// processed already.
async fn commit(services: &Services, change: Change) -> anyhow::Result<Outcome> {
    match services.store.commit(change).await {
        Ok(_) => Ok(Outcome::Committed),
        Err(error) if error.already_processed() => Ok(Outcome::Committed),
        Err(error) => Err(error.into()),
    }
}

/// The policy-filtered choices for `user`, as the conversation asks them.
struct People<'a> {
    services: &'a Services,
    person: crate::app::shared::directory::Person,
    channel: String,
}

impl People<'_> {
    fn may_request(&self, resource: &Resource, entitlement: &Entitlement) -> bool {
        self.services
            .decide(
                Action::Request,
                &self.person,
                &self.channel,
                Some((resource, entitlement)),
                None,
            )
            .allowed
    }
}

fn durations(entitlement: &Entitlement) -> Vec<(String, String)> {
    let max = entitlement
        .max_duration
        .as_secs()
        .map(std::time::Duration::from_secs);
    crate::app::shared::request_form::duration_choices(None, max, entitlement.permanent_allowed)
}

async fn people<'a>(
    services: &'a Services,
    user: &str,
    channel: &str,
) -> anyhow::Result<People<'a>> {
    Ok(People {
        services,
        person: services.directory.person(user).await?,
        channel: channel.to_owned(),
    })
}

fn expires(services: &Services) -> DateTime<Utc> {
    services.now()
        + chrono::Duration::from_std(services.requests.conversation_expires_after)
            .unwrap_or(chrono::Duration::minutes(30))
}

async fn load(services: &Services, user: &str) -> anyhow::Result<Option<Versioned<Conversation>>> {
    Ok(services
        .store
        .get::<Conversation>(Table::Sessions, &key(user))
        .await?)
}

/// Stores the conversation with its step message (posted when `fresh`, else edited)
/// and `also`. A conflict on the conversation is returned for the caller to retry.
/// The conversation stored (expecting `rev`) with its step message (a new post when
/// `fresh`, else an edit) and its expiry timer.
fn saved(
    services: &Services,
    conversation: &Conversation,
    rev: Option<u64>,
    fresh: bool,
) -> anyhow::Result<Change> {
    let card = render::render(services, conversation)
        .map_err(|error| anyhow::anyhow!("cannot render the DM conversation: {error}"))?;
    let user_key = key(&conversation.user);
    Ok(Change::new()
        .at(services.now())
        .expect(Table::Sessions, user_key.clone(), rev)
        .put(Table::Sessions, user_key, conversation)
        .outbox(step_message(conversation, card, fresh))
        .timer(
            conversation.expires_at,
            TimerEntry::new(TIMER, conversation.user.clone()),
        ))
}

fn step_message(conversation: &Conversation, card: Value, fresh: bool) -> OutboxMessage {
    let key = conversation.message_key.clone();
    if fresh {
        OutboxMessage::post(&conversation.channel, &card, key)
    } else {
        OutboxMessage::update(&card, key)
    }
}

/// How a conversation ended, for its step message.
#[derive(Debug, Clone, Copy)]
pub(super) enum Closing {
    /// The person answered by typing: the next step follows as a new message.
    Answered,
    Cancelled,
    Expired,
    Submitted,
    InForm,
}
