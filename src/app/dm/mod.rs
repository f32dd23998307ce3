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

use crate::app::requests::{self, Prefill};
use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::journaled::Outcome;
use crate::app::shared::services::Services;
use crate::catalog::{Entitlement, Resource};
use crate::controls::DmButton;
use crate::intake::conversation::{Conversation, Menu};
use crate::policy::Action;
use crate::store::{Change, CommitError, OutboxMessage, Record, Table, TimerEntry, Versioned};
use crate::workflow::submit::Form;

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

/// A message that is not a keyword: the answer to the open conversation, or the
/// start of a new one (seeded with what the message asked for, if it reads as a request).
async fn converse(
    services: &Services,
    message: &Incoming,
    also: Change,
) -> anyhow::Result<Outcome> {
    let who = people(services, &message.user, &message.channel).await?;
    let allow = |r: &Resource, e: &Entitlement| who.may_request(r, e);
    let menu = Menu {
        catalog: &services.catalog,
        may_request: &allow,
        durations: &durations,
    };
    let menu = &menu;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        &also,
        move || async move {
            match answered(services, message, menu).await {
                Ok(Some(change)) => Decided::commit(change, Outcome::Committed),
                Ok(None) => Decided::Stop(Ok(Outcome::Nothing)),
                Err(error) => Decided::Stop(Err(error)),
            }
        },
    )
    .await;
    settled(ended, "the conversation kept changing under this message")
}

/// One attempt at [`converse`]: the conversation answered (or started) with its step
/// message, expecting the revision read; `None` when the message answers nothing.
async fn answered(
    services: &Services,
    message: &Incoming,
    menu: &Menu<'_>,
) -> anyhow::Result<Option<Change>> {
    let now = services.now();
    let stored = load(services, &message.user).await?;
    // An expired one not yet swept is replaced; its rev must still match.
    let rev = stored.as_ref().map(|s| s.rev);
    let (conversation, retired) = match stored.filter(|s| s.data.expires_at > now) {
        Some(stored) => {
            let mut conversation = stored.data.clone();
            if !conversation.answer(&message.text, &message.ts, menu, expires(services)) {
                return Ok(None);
            }
            // The person's message is now the newest in the DM: the next step is
            // a new message below it, and the previous one loses its buttons.
            conversation.message_key = format!("dm/{}/{}", conversation.user, message.ts);
            let card = render::closed(services, &stored.data, Closing::Answered)?;
            let retired = step_message(&stored.data, card, false);
            (conversation, Some(retired))
        }
        None => {
            let parsed = crate::intake::parse_message(&message.text, &services.catalog);
            let mut conversation = Conversation::start(
                &message.user,
                &message.channel,
                &message.ts,
                parsed.as_ref(),
                menu,
                expires(services),
            );
            if parsed.is_none() && !is_greeting(&message.text) {
                conversation.problem = Some(not_understood(&message.text));
            }
            (conversation, None)
        }
    };
    let change = saved(services, &conversation, rev, true)?;
    Ok(Some(match retired {
        Some(retired) => change.outbox(retired),
        None => change,
    }))
}

/// What a DM conversation's person is told of how the commit path ended.
fn settled(
    ended: Ended<Outcome, anyhow::Result<Outcome>>,
    changing: &str,
) -> anyhow::Result<Outcome> {
    match ended {
        Ended::Committed(outcome) | Ended::AlreadyDone(outcome) => Ok(outcome),
        Ended::Stopped(stopped) => stopped,
        Ended::Failed(error) => Err(error.into()),
        Ended::KeptChanging => anyhow::bail!("{changing}"),
    }
}

/// A first message that only opens the conversation ("hi", "help", "request").
fn is_greeting(text: &str) -> bool {
    if text.trim().is_empty() {
        return true;
    }
    const OPENERS: [&str; 11] = [
        "hi",
        "hello",
        "hey",
        "hallo",
        "yo",
        "help",
        "request",
        "access",
        "good morning",
        "morning",
        "hi there",
    ];
    let words: String = text
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || c.is_whitespace())
        .collect();
    OPENERS.contains(
        &words
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .as_str(),
    )
}

/// The answer to a first message c1bot could not read: what it saw, then the choices.
fn not_understood(text: &str) -> String {
    let shown: String = text.trim().chars().take(80).collect();
    let cut = if text.trim().chars().count() > 80 {
        "…"
    } else {
        ""
    };
    format!("I didn't understand \"{shown}{cut}\". Pick a resource below or type its name (write help for examples).")
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

/// `cancel` written in the DM: ends the open conversation, or says there is none.
async fn cancel(services: &Services, message: &Incoming, also: Change) -> anyhow::Result<Outcome> {
    match close(
        services,
        &message.user,
        None,
        Closing::Cancelled,
        also.clone(),
    )
    .await?
    {
        Some(outcome) => Ok(outcome),
        None => {
            let text = "There is nothing to cancel.";
            reply(services, OutboxMessage::text(&message.channel, text), also).await
        }
    }
}

/// The stored conversation, if it is the one whose step message is `message_key`
/// (any, when `None`).
async fn current(
    services: &Services,
    user: &str,
    message_key: Option<&str>,
) -> anyhow::Result<Option<Versioned<Conversation>>> {
    Ok(load(services, user)
        .await?
        .filter(|stored| message_key.is_none_or(|k| k == stored.data.message_key)))
}

/// The conversation's removal (expecting `rev`, so exactly one of two racing clicks
/// goes on with it) with its step message closed as `how`.
fn closing(
    services: &Services,
    stored: &Versioned<Conversation>,
    how: Closing,
) -> anyhow::Result<Change> {
    let conversation = &stored.data;
    let card = render::closed(services, conversation, how)?;
    Ok(Change::new()
        .at(services.now())
        .expect(Table::Sessions, key(&conversation.user), Some(stored.rev))
        .delete(Table::Sessions, key(&conversation.user))
        .outbox(step_message(conversation, card, false)))
}

/// Ends the stored conversation (the one of `message_key`, when given) as `how`, in
/// one commit with `also`. `None` when there is no such conversation.
async fn close(
    services: &Services,
    user: &str,
    message_key: Option<&str>,
    how: Closing,
    also: Change,
) -> anyhow::Result<Option<Outcome>> {
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        &also,
        move || async move {
            let closed = match current(services, user, message_key).await {
                Ok(Some(stored)) => closing(services, &stored, how),
                Ok(None) => return Decided::Stop(Ok(None)),
                Err(error) => return Decided::Stop(Err(error)),
            };
            match closed {
                Ok(change) => Decided::commit(change, Some(Outcome::Committed)),
                Err(error) => Decided::Stop(Err(error)),
            }
        },
    )
    .await;
    match ended {
        Ended::Committed(outcome) | Ended::AlreadyDone(outcome) => Ok(outcome),
        Ended::Stopped(stopped) => stopped,
        Ended::Failed(error) => Err(error.into()),
        Ended::KeptChanging => Ok(None),
    }
}

/// A click on a DM step message (*Pick*, *Submit*, *Edit* or *Cancel*: [`DmButton`]),
/// journaled: what it changes commits with `also`.
pub async fn clicked(
    services: &Services,
    user: &str,
    channel: &str,
    trigger_id: &str,
    button: DmButton,
    value: &str,
    also: Change,
) -> Outcome {
    let outcome = match button {
        DmButton::Pick => pick(services, user, channel, value, also).await,
        DmButton::Cancel => close(services, user, Some(value), Closing::Cancelled, also)
            .await
            .map(|closed| closed.unwrap_or_else(|| Outcome::Refused(over()))),
        DmButton::Edit => edit(services, user, trigger_id, value, also).await,
        DmButton::Submit => submit(services, user, value, also).await,
    };
    outcome.unwrap_or_else(|error| {
        tracing::error!(
            error = format!("{error:#}"),
            user,
            "could not answer a click in a DM conversation"
        );
        Outcome::Retry("c1bot could not answer just now".into())
    })
}

fn over() -> String {
    "This conversation is over; write to me to start a new request.".into()
}

/// *Edit*: the conversation ends ("continued in the form") and the request form
/// opens filled with its answers.
async fn edit(
    services: &Services,
    user: &str,
    trigger_id: &str,
    message_key: &str,
    also: Change,
) -> anyhow::Result<Outcome> {
    let Some(stored) = current(services, user, Some(message_key)).await? else {
        return Ok(Outcome::Refused(over()));
    };
    let conversation = stored.data.clone();
    // The form opens first: its trigger lives 3 s from the click.
    let prefill = Prefill {
        resource: conversation.resource.clone(),
        entitlement: conversation.entitlement.clone(),
        duration: conversation.duration.clone(),
        reason: conversation.reason.clone(),
        on_behalf_of: None,
        starts: None,
        problems: Vec::new(),
        emergency: false,
    };
    requests::open_prefilled(
        services,
        trigger_id.to_owned(),
        conversation.channel.clone(),
        user.to_owned(),
        String::new(),
        prefill,
    );
    Ok(
        close(services, user, Some(message_key), Closing::InForm, also)
            .await?
            .unwrap_or_else(|| Outcome::Refused(over())),
    )
}

async fn pick(
    services: &Services,
    user: &str,
    channel: &str,
    value: &str,
    also: Change,
) -> anyhow::Result<Outcome> {
    let who = people(services, user, channel).await?;
    let allow = |r: &Resource, e: &Entitlement| who.may_request(r, e);
    let menu = Menu {
        catalog: &services.catalog,
        may_request: &allow,
        durations: &durations,
    };
    let menu = &menu;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        &also,
        move || async move {
            let now = services.now();
            let stored = match load(services, user).await {
                Ok(Some(stored)) if stored.data.expires_at > now => stored,
                Ok(_) => return Decided::Stop(Ok(Outcome::Refused(over()))),
                Err(error) => return Decided::Stop(Err(error)),
            };
            let mut conversation = stored.data.clone();
            if let Err(refusal) = conversation.pick(value, menu, expires(services)) {
                return Decided::Stop(Ok(Outcome::Refused(refusal)));
            }
            match saved(services, &conversation, Some(stored.rev), false) {
                Ok(change) => Decided::commit(change, Outcome::Committed),
                Err(error) => Decided::Stop(Err(error)),
            }
        },
    )
    .await;
    settled(ended, "the conversation kept changing under this click")
}

/// Submit: the request is created in one commit with the conversation's removal
/// (expecting its revision, so a second click finds nothing) and its closed step
/// message; a request the workflow refuses puts the problem on the conversation.
async fn submit(
    services: &Services,
    user: &str,
    message_key: &str,
    also: Change,
) -> anyhow::Result<Outcome> {
    let Some(stored) = current(services, user, Some(message_key)).await? else {
        return Ok(Outcome::Refused(over()));
    };
    let conversation = stored.data.clone();
    let Some(complete) = conversation.complete() else {
        return restore(
            services,
            &stored,
            "Answer the questions above first.".into(),
            also,
        )
        .await;
    };
    let form = Form {
        resource: Some(complete.resource),
        entitlement: Some(complete.entitlement),
        duration: Some(complete.duration.to_value()),
        justification: Some(complete.reason),
        on_behalf_of: None,
        fields: Default::default(),
        starts_at: None,
        emergency: false,
    };
    let with = closing(services, &stored, Closing::Submitted)?.and(also.clone());
    match requests::create(
        services,
        user,
        &conversation.channel,
        &form,
        None,
        "dm",
        &with,
    )
    .await
    {
        Ok(()) => Ok(Outcome::Committed),
        Err(rejected) if rejected.transient => Ok(Outcome::Retry(rejected.sentence())),
        Err(rejected) => {
            restore(
                services,
                &stored,
                format!("Nothing was submitted: {}", rejected.sentence()),
                also,
            )
            .await
        }
    }
}

/// The conversation kept open with `problem` shown on its step message.
async fn restore(
    services: &Services,
    stored: &Versioned<Conversation>,
    problem: String,
    also: Change,
) -> anyhow::Result<Outcome> {
    let mut conversation = stored.data.clone();
    conversation.problem = Some(problem);
    conversation.expires_at = expires(services);
    let change = saved(services, &conversation, Some(stored.rev), false)?.and(also);
    match services.store.commit(change).await {
        Ok(_) => Ok(Outcome::Committed),
        Err(error) if error.already_processed() => Ok(Outcome::Committed),
        // Changed meanwhile (a second click): that click answers.
        Err(CommitError::Conflict { .. }) => Ok(Outcome::Nothing),
        Err(error) => Err(error.into()),
    }
}

/// The `dm-expire` timer: ends the conversation if it is still unanswered by now
/// (an answer since moved its expiry on, and scheduled a timer of its own).
pub async fn expire(services: &Services, user: &str, now: DateTime<Utc>) -> anyhow::Result<()> {
    let Some(stored) = load(services, user).await? else {
        return Ok(());
    };
    if stored.data.expires_at > now {
        return Ok(());
    }
    let message_key = stored.data.message_key.clone();
    close(
        services,
        user,
        Some(&message_key),
        Closing::Expired,
        Change::new(),
    )
    .await?;
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
    fn greetings_open_a_conversation_and_anything_else_unread_is_not_understood() {
        for greeting in ["hi", "Hello!", "hey", "help", "Good morning.", ""] {
            assert!(super::is_greeting(greeting), "{greeting}");
        }
        for gibberish in ["asdf qwer", "???", "lorem ipsum dolor"] {
            assert!(!super::is_greeting(gibberish), "{gibberish}");
        }
        assert!(super::not_understood("asdf").starts_with("I didn't understand \"asdf\"."));
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
