//! Requests by direct message to c1bot (the app's Messages tab, `message.im`).
//!
//! A person's messages and clicks move one [`Conversation`] (stored in sled under
//! `dm/<user>`) through its steps; its one step message is edited in place through
//! the outbox, in the same commit as the state. A request is created only from the
//! stored conversation on *Submit*, through the same `requests::create` as the form.
//! `help`, `status` and `cancel` work as after the slash command. A conversation
//! left unanswered expires (timer `dm-expire`) and says so.
//!
//! Only people's own new messages in a DM are read: c1bot's and other apps'
//! messages, edits, deletions and anything outside a DM are ignored.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

mod render;

use super::requests::{self, Prefill};
use super::services::Services;
use crate::catalog::{Entitlement, Resource};
use crate::intake::conversation::{Conversation, Menu};
use crate::policy::Action;
use crate::store::{Change, CommitError, OutboxMessage, Record, Table, TimerEntry, Versioned};
use crate::workflow::submit::Form;

/// The timer that ends a conversation left unanswered; its subject is the user id.
pub const TIMER: &str = "dm-expire";
/// Commits retried at most this often when the person acts twice at once.
const ATTEMPTS: usize = 5;

impl Record for Conversation {
    const VERSION: u32 = 1;
}

/// A person's new message in their DM with c1bot, as far as c1bot reads one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub user: String,
    pub channel: String,
    pub text: String,
    pub ts: String,
}

/// The message in a `message` event that c1bot should answer, or `None` for
/// anything it must not read: edits and deletions (any `subtype`), messages from
/// apps (c1bot's own included: they carry `bot_id`), and anything outside a DM.
pub fn incoming(event: &Value) -> Option<Incoming> {
    let text = |key: &str| event.get(key).and_then(Value::as_str);
    if text("type") != Some("message")
        || text("channel_type") != Some("im")
        || event.get("subtype").is_some()
        || event.get("bot_id").is_some()
        || event.get("bot_profile").is_some()
    {
        return None;
    }
    let message = Incoming {
        user: text("user")?.to_owned(),
        channel: text("channel")?.to_owned(),
        text: text("text").unwrap_or_default().to_owned(),
        ts: text("ts")?.to_owned(),
    };
    (!message.text.trim().is_empty()).then_some(message)
}

fn key(user: &str) -> String {
    format!("dm/{user}")
}

/// Answers one message (after the ack).
pub async fn received(services: &Services, message: Incoming) {
    let word = message.text.trim().to_lowercase();
    let outcome = match word.as_str() {
        "help" | "?" => post_help(services, &message).await,
        "status" => post_status(services, &message).await,
        "cancel" | "stop" => cancel(services, &message).await,
        _ => converse(services, &message).await,
    };
    if let Err(error) = outcome {
        tracing::error!(%error, user = %message.user, "could not answer a direct message");
    }
}

async fn post_help(services: &Services, message: &Incoming) -> anyhow::Result<()> {
    let text = format!(
        "{}\n\nOr write to me here, for example `request aws-prod readonly for 2h because incident 4711`, or just `hi` and I'll ask step by step. `status` and `cancel` work here too.",
        super::commands::usage(&services.command, None)
    );
    reply(services, OutboxMessage::text(&message.channel, &text)).await
}

async fn post_status(services: &Services, message: &Incoming) -> anyhow::Result<()> {
    let mut card = super::status::status_message(services, &message.user);
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
    reply(services, post).await
}

/// A new message in the DM, through the outbox like every message.
async fn reply(services: &Services, post: OutboxMessage) -> anyhow::Result<()> {
    services
        .store
        .commit(Change::new().at(services.now()).outbox(post))
        .await?;
    Ok(())
}

/// The policy-filtered choices for `user`, as the conversation asks them.
struct People<'a> {
    services: &'a Services,
    person: super::directory::Person,
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
    super::request_form::duration_choices(None, max, entitlement.permanent_allowed)
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

/// A message that is not a keyword: the answer to the open conversation, or the
/// start of a new one (seeded with what the message asked for, if it reads as a request).
async fn converse(services: &Services, message: &Incoming) -> anyhow::Result<()> {
    let who = people(services, &message.user, &message.channel).await?;
    let allow = |r: &Resource, e: &Entitlement| who.may_request(r, e);
    let menu = Menu {
        catalog: &services.catalog,
        may_request: &allow,
        durations: &durations,
    };
    for _ in 0..ATTEMPTS {
        let now = services.now();
        let stored = load(services, &message.user)?;
        // An expired one not yet swept is replaced; its rev must still match.
        let rev = stored.as_ref().map(|s| s.rev);
        let (conversation, fresh) = match stored.filter(|s| s.data.expires_at > now) {
            Some(stored) => {
                let mut conversation = stored.data.clone();
                if !conversation.answer(&message.text, &message.ts, &menu, expires(services)) {
                    return Ok(());
                }
                (conversation, false)
            }
            None => {
                let parsed = crate::intake::parse_message(&message.text, &services.catalog);
                let conversation = Conversation::start(
                    &message.user,
                    &message.channel,
                    &message.ts,
                    parsed.as_ref(),
                    &menu,
                    expires(services),
                );
                (conversation, true)
            }
        };
        match save(services, &conversation, rev, fresh).await {
            Err(CommitError::Conflict { .. }) => continue,
            other => return other.map(|_| ()).map_err(Into::into),
        }
    }
    anyhow::bail!("the conversation kept changing under this message")
}

fn load(services: &Services, user: &str) -> anyhow::Result<Option<Versioned<Conversation>>> {
    Ok(services
        .store
        .get::<Conversation>(Table::Sessions, &key(user))?)
}

/// Stores the conversation with its step message (posted when `fresh`, else edited).
async fn save(
    services: &Services,
    conversation: &Conversation,
    rev: Option<u64>,
    fresh: bool,
) -> Result<(), CommitError> {
    let card = match render::render(services, conversation) {
        Ok(card) => card,
        Err(error) => {
            tracing::error!(%error, "cannot render the DM conversation");
            return Ok(());
        }
    };
    let now = services.now();
    let user_key = key(&conversation.user);
    let change = Change::new()
        .at(now)
        .expect(Table::Sessions, user_key.clone(), rev)
        .put(Table::Sessions, user_key, conversation)
        .outbox(step_message(conversation, card, fresh))
        .timer(
            conversation.expires_at,
            TimerEntry {
                kind: TIMER.into(),
                subject: conversation.user.clone(),
            },
        );
    services.store.commit(change).await.map(|_| ())
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
pub(super) enum Closing {
    Cancelled,
    Expired,
    Submitted,
    InForm,
}

/// `cancel` written in the DM: ends the open conversation, or says there is none.
async fn cancel(services: &Services, message: &Incoming) -> anyhow::Result<()> {
    match take(services, &message.user, None).await? {
        Some(conversation) => finish(services, &conversation, Closing::Cancelled).await,
        None => {
            let text = "There is nothing to cancel.";
            reply(services, OutboxMessage::text(&message.channel, text)).await
        }
    }
}

/// Deletes the stored conversation (expecting `rev` when given), so that exactly one
/// of two racing clicks goes on with it.
async fn take(
    services: &Services,
    user: &str,
    message_key: Option<&str>,
) -> anyhow::Result<Option<Conversation>> {
    for _ in 0..ATTEMPTS {
        let Some(stored) = load(services, user)? else {
            return Ok(None);
        };
        if message_key.is_some_and(|k| k != stored.data.message_key) {
            return Ok(None);
        }
        let change = Change::new()
            .at(services.now())
            .expect(Table::Sessions, key(user), Some(stored.rev))
            .delete(Table::Sessions, key(user));
        match services.store.commit(change).await {
            Ok(_) => return Ok(Some(stored.data)),
            Err(CommitError::Conflict { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Ok(None)
}

async fn finish(
    services: &Services,
    conversation: &Conversation,
    how: Closing,
) -> anyhow::Result<()> {
    let card = render::closed(services, conversation, how)?;
    let change = Change::new()
        .at(services.now())
        .outbox(step_message(conversation, card, false));
    services.store.commit(change).await?;
    Ok(())
}

/// A click on a DM step message: `dm_pick`, `dm_submit`, `dm_edit` or `dm_cancel`.
pub async fn clicked(
    services: &Services,
    user: &str,
    channel: &str,
    trigger_id: &str,
    action_id: &str,
    value: &str,
) -> anyhow::Result<()> {
    match action_id {
        "dm_pick" => pick(services, user, channel, value).await,
        "dm_cancel" => match take(services, user, Some(value)).await? {
            Some(conversation) => finish(services, &conversation, Closing::Cancelled).await,
            None => {
                services.tell(channel, user, over());
                Ok(())
            }
        },
        "dm_edit" => match take(services, user, Some(value)).await? {
            Some(conversation) => {
                let prefill = Prefill {
                    resource: conversation.resource.clone(),
                    entitlement: conversation.entitlement.clone(),
                    duration: conversation.duration.clone(),
                    reason: conversation.reason.clone(),
                    on_behalf_of: None,
                    problems: Vec::new(),
                };
                requests::open_prefilled(
                    services,
                    trigger_id.to_owned(),
                    conversation.channel.clone(),
                    user.to_owned(),
                    String::new(),
                    prefill,
                );
                finish(services, &conversation, Closing::InForm).await
            }
            None => {
                services.tell(channel, user, over());
                Ok(())
            }
        },
        "dm_submit" => submit(services, user, channel, value).await,
        _ => Ok(()),
    }
}

fn over() -> String {
    "This conversation is over; write to me to start a new request.".into()
}

async fn pick(services: &Services, user: &str, channel: &str, value: &str) -> anyhow::Result<()> {
    let who = people(services, user, channel).await?;
    let allow = |r: &Resource, e: &Entitlement| who.may_request(r, e);
    let menu = Menu {
        catalog: &services.catalog,
        may_request: &allow,
        durations: &durations,
    };
    for _ in 0..ATTEMPTS {
        let now = services.now();
        let Some(stored) = load(services, user)?.filter(|s| s.data.expires_at > now) else {
            services.tell(channel, user, over());
            return Ok(());
        };
        let mut conversation = stored.data.clone();
        if let Err(refusal) = conversation.pick(value, &menu, expires(services)) {
            services.tell(channel, user, refusal);
            return Ok(());
        }
        match save(services, &conversation, Some(stored.rev), false).await {
            Err(CommitError::Conflict { .. }) => continue,
            other => return other.map_err(Into::into),
        }
    }
    Ok(())
}

/// Submit: the stored conversation is taken first, so a second click finds nothing;
/// a request the workflow refuses puts the conversation back with the reason.
async fn submit(
    services: &Services,
    user: &str,
    channel: &str,
    message_key: &str,
) -> anyhow::Result<()> {
    let Some(conversation) = take(services, user, Some(message_key)).await? else {
        services.tell(channel, user, over());
        return Ok(());
    };
    let Some(complete) = conversation.complete() else {
        return restore(
            services,
            conversation,
            "Answer the questions above first.".into(),
        )
        .await;
    };
    let form = Form {
        resource: Some(complete.resource),
        entitlement: Some(complete.entitlement),
        duration: Some(complete.duration.to_value()),
        justification: Some(complete.reason),
        on_behalf_of: None,
    };
    match requests::create(services, user, &conversation.channel, &form, None, "dm").await {
        Ok(()) => finish(services, &conversation, Closing::Submitted).await,
        Err(errors) => {
            let mut problems: Vec<String> = errors.into_values().collect();
            problems.dedup();
            restore(
                services,
                conversation,
                format!("Nothing was submitted: {}", problems.join(" ")),
            )
            .await
        }
    }
}

async fn restore(
    services: &Services,
    mut conversation: Conversation,
    problem: String,
) -> anyhow::Result<()> {
    conversation.problem = Some(problem);
    conversation.expires_at = expires(services);
    let rev = load(services, &conversation.user)?.map(|s| s.rev);
    save(services, &conversation, rev, false).await?;
    Ok(())
}

/// The `dm-expire` timer: ends the conversation if it is still unanswered by now
/// (an answer since moved its expiry on, and scheduled a timer of its own).
pub async fn expire(services: &Services, user: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    let Some(stored) = load(services, user)? else {
        return Ok(());
    };
    if stored.data.expires_at > now {
        return Ok(());
    }
    if let Some(conversation) = take(services, user, Some(&stored.data.message_key)).await? {
        finish(services, &conversation, Closing::Expired).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(extra: Value) -> Value {
        let mut event = json!({
            "type": "message", "channel": "D0ALICE001", "user": "U0ALICE001",
            "text": "hi", "ts": "1763630100.000200", "channel_type": "im"
        });
        if let (Some(event), Some(extra)) = (event.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                event.insert(k.clone(), v.clone());
            }
        }
        event
    }

    #[test]
    fn a_persons_own_message_in_a_dm_is_read() {
        let message = incoming(&event(json!({}))).expect("read");
        assert_eq!(message.user, "U0ALICE001");
        assert_eq!(message.channel, "D0ALICE001");
        assert_eq!(message.text, "hi");
    }

    #[test]
    fn apps_edits_deletions_and_channels_are_not_read() {
        for extra in [
            json!({"bot_id": "B0C1BOT001", "user": "U0C1BOT001"}),
            json!({"subtype": "bot_message", "bot_id": "B0OTHER001"}),
            json!({"subtype": "message_changed", "message": {"text": "edited"}}),
            json!({"subtype": "message_deleted"}),
            json!({"channel_type": "channel", "channel": "C0GENERAL1"}),
            json!({"text": "   "}),
        ] {
            assert_eq!(incoming(&event(extra.clone())), None, "{extra}");
        }
    }
}
