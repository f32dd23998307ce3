//! An existing channel attached to a campaign after the modal closed: the
//! submission was journaled before its ack ([`crate::app::campaigns::channel::screen`] said [`crate::app::campaigns::channel::Screened::Later`]),
//! and this is its processing from the journal. c1bot looks the channel up
//! (`conversations.list`, page by page), joins it if it is public and c1bot is not in
//! it, and attaches it in a commit that completes the journal row and DMs the owner
//! that it is attached. Anything that stops it (no such channel, a private channel
//! c1bot is not in, archived, refused by Slack, the review moved on) is told to the
//! owner by DM; Slack or store trouble is retried by the journal.
//!
//! It must not decide anything the campaign's rules decide: those are asked again on
//! the stored campaign, before joining and in the commit.

use serde_json::json;

use crate::app::campaigns::channel::{
    attach_allowed, attaching, read_form, scope_refusal, trouble,
};
use crate::app::campaigns::commit::{commit, Failure};
use crate::app::shared::journaled::Outcome;
use crate::app::shared::services::Services;
use crate::campaign::channel_name::ChannelName;
use crate::campaign::CampaignAction;
use crate::slack::web::answers::{Conversation, ConversationsPage};
use crate::slack::web::{in_words, methods, WebApiError};
use crate::store::{Change, OutboxMessage};

/// `conversations.list` pages read looking for an existing channel (200 each).
const LIST_PAGES: usize = 50;

/// Why a channel could not be found or joined.
enum Problem {
    /// For good: the owner is told this sentence.
    Refused(String),
    /// Slack trouble: tried again later.
    Trouble(String),
}

/// Finds, joins and attaches the existing channel the journaled submission names,
/// for `user`; `also` (the journal row's completion) commits with it.
pub async fn attach(
    services: &Services,
    user: &str,
    input: &crate::slack::view_input::ViewInput,
    also: &Change,
) -> Outcome {
    // The campaign id is only a key: everything is checked on the stored campaign.
    let id = input.metadata.clone();
    let form = read_form(input);
    let told = |text: String| Outcome::Refused(format!("Access review {id}: {text}"));
    let name = match ChannelName::parse(&form.name) {
        Ok(name) => name,
        Err(problem) => return told(problem.explain()),
    };
    let stored = match crate::app::campaigns::load(services, &id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return Outcome::Refused(format!("There is no access review {id}.")),
        Err(error) => {
            tracing::error!(%error, campaign = %id, "cannot read a campaign");
            return Outcome::Retry("c1bot could not read the review just now".into());
        }
    };
    if let Err(refusal) = attach_allowed(&stored.data, user, services.now()) {
        return told(format!(
            "#{name} was not attached. {}",
            refusal.message(&id)
        ));
    }
    let channel = match join(services, &name).await {
        Ok(channel) => channel,
        Err(Problem::Refused(text)) => return told(text),
        Err(Problem::Trouble(text)) => return Outcome::Retry(text),
    };
    let mut acting = attaching(user, &channel, &name, false).also(also);
    acting.extra = vec![OutboxMessage::text(
        user,
        &format!("Access review {id}: <#{channel}> is attached; c1bot posts the review's status there and invites its owners and reviewers."),
    )];
    let action = CampaignAction::AttachChannel {
        id: channel,
        name: name.to_string(),
        created: false,
    };
    match commit(services, &id, action, &acting).await {
        Ok(_) => Outcome::Committed,
        Err(failure @ Failure::Refused(_)) => told(format!(
            "#{name} was not attached. {}",
            failure.message(&id)
        )),
        Err(failure) => Outcome::Retry(failure.message(&id)),
    }
}

/// The existing channel named `name`, joined if c1bot is not in it yet: its id.
async fn join(services: &Services, name: &ChannelName) -> Result<String, Problem> {
    let Some(found) = find(services, name).await? else {
        return Err(Problem::Refused(format!(
            "c1bot cannot find a channel named #{name}, so nothing was attached. If it is private, add c1bot to it first; or choose \"Create a new channel\"."
        )));
    };
    let id = found.id;
    if found.is_archived {
        return Err(Problem::Refused(format!(
            "#{name} is archived, so it was not attached; choose another channel."
        )));
    }
    if found.is_member {
        return Ok(id);
    }
    match services
        .web
        .call(methods::CONVERSATIONS_JOIN, json!({ "channel": id }))
        .await
    {
        Ok(_) => Ok(id),
        Err(error) => Err(match error.slack_code() {
            Some("missing_scope") | None => problem(services, "join the channel", &error),
            Some(code) => Problem::Refused(format!(
                "c1bot could not join #{name} ({}), so it was not attached.",
                in_words(code)
            )),
        }),
    }
}

/// The channel called `name` among those c1bot can see (public ones, and private
/// ones it is in), reading `conversations.list` page by page.
async fn find(services: &Services, name: &ChannelName) -> Result<Option<Conversation>, Problem> {
    let mut cursor = String::new();
    for _ in 0..LIST_PAGES {
        let mut args = json!({
            "types": "public_channel,private_channel",
            "exclude_archived": false,
            "limit": 200,
        });
        if !cursor.is_empty() {
            args["cursor"] = json!(cursor);
        }
        let page: ConversationsPage = services
            .web
            .call_as(methods::CONVERSATIONS_LIST, args)
            .await
            .map_err(|error| problem(services, "look the channel up", &error))?;
        if let Some(found) = page.channels.into_iter().find(|c| c.name == name.as_str()) {
            return Ok(Some(found));
        }
        cursor = page.response_metadata.next_cursor;
        if cursor.is_empty() {
            return Ok(None);
        }
    }
    tracing::warn!(pages = LIST_PAGES, "stopped looking for a channel");
    Ok(None)
}

/// A failed call: the feature waiting for an admin's approval of a scope is told
/// (trying again would not help), anything else is tried again later.
fn problem(services: &Services, what: &str, error: &WebApiError) -> Problem {
    match scope_refusal(services, error) {
        Some(waiting) => Problem::Refused(waiting),
        None => Problem::Trouble(trouble(services, what, error)),
    }
}
