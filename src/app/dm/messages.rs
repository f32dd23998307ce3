//! A message that is not a keyword: the answer to the open conversation, or the
//! start of a new one (seeded with what the message asked for, if it reads as a
//! request), committed through the one decide-and-commit path with its step message.

use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::journaled::Outcome;
use crate::app::shared::services::Services;
use crate::catalog::{Entitlement, Resource};
use crate::intake::conversation::{Conversation, Menu};
use crate::store::Change;

use super::render;
use super::Closing;
use super::{durations, expires, load, people, saved, step_message, Incoming};

/// A message that is not a keyword: the answer to the open conversation, or the
/// start of a new one (seeded with what the message asked for, if it reads as a request).
pub(super) async fn converse(
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
pub(super) fn settled(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_open_a_conversation_and_anything_else_unread_is_not_understood() {
        for greeting in ["hi", "Hello!", "hey", "help", "Good morning.", ""] {
            assert!(is_greeting(greeting), "{greeting}");
        }
        for gibberish in ["asdf qwer", "???", "lorem ipsum dolor"] {
            assert!(!is_greeting(gibberish), "{gibberish}");
        }
        assert!(not_understood("asdf").starts_with("I didn't understand \"asdf\"."));
    }
}
