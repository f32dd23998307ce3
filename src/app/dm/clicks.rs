//! Ending or moving a conversation by a click or a keyword: *Pick*, *Edit* (the
//! request form opens filled with the answers), *Submit* (the request created in one
//! commit with the conversation's removal), *Cancel* and `cancel`, and the
//! `dm-expire` timer. A click names its conversation by its step message; a stale
//! one is told the conversation is over.

use chrono::{DateTime, Utc};

use crate::app::requests::{self, Prefill};
use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::journaled::Outcome;
use crate::app::shared::services::Services;
use crate::catalog::{Entitlement, Resource};
use crate::controls::DmButton;
use crate::intake::conversation::{Conversation, Menu};
use crate::store::{Change, CommitError, OutboxMessage, Table, Versioned};
use crate::workflow::submit::Form;

use super::messages::settled;
use super::{
    durations, expires, key, load, people, render, reply, saved, step_message, Closing, Incoming,
};

/// `cancel` written in the DM: ends the open conversation, or says there is none.
pub(super) async fn cancel(
    services: &Services,
    message: &Incoming,
    also: Change,
) -> anyhow::Result<Outcome> {
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
