//! What a feature is given and gives back for an envelope: who sent it and where
//! ([`Sender`], and how to tell them something), what processing a journaled
//! envelope came to ([`Outcome`]), and the rows being processed in this process
//! ([`InFlight`]). Shared by the journal (`crate::app::journal`), which owns their life,
//! and every feature, which must not depend on the journal itself.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::slack::frame::Envelope;
use crate::slack::inbound::origin;
use crate::store::{JournalId, OutboxMessage};

/// What processing a journaled envelope came to.
#[derive(Debug)]
pub enum Outcome {
    /// The change was committed, completing the journal row in the same commit.
    Committed,
    /// Nothing to change (a message that needs no answer): the row is completed alone.
    Nothing,
    /// Refused for good: the row is completed and the person is told this sentence.
    Refused(String),
    /// Could not be done now (Slack or the store failed): tried again later; the
    /// sentence is what the person is told if it is finally given up.
    Retry(String),
}

/// Journal rows being processed in this process, so the loop never takes one the
/// envelope's own task is still working on. Cheap to clone.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashSet<JournalId>>>);

impl InFlight {
    pub(crate) fn claim(&self, id: JournalId) -> bool {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id)
    }

    pub(crate) fn release(&self, id: JournalId) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
    }
}

/// Who sent an envelope, and where they are: the person c1bot answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub user: String,
    /// The conversation the person acted in (`None`: unknown, e.g. inside a modal).
    pub channel: Option<String>,
    /// The command's or click's `response_url`, where there is one.
    pub response_url: Option<String>,
}

impl Sender {
    /// A line only this person sees, where they acted: through the `response_url`
    /// (it reaches them in a channel they never joined or a DM that is not theirs,
    /// where `chat.postEphemeral` is refused), else an ephemeral where they acted,
    /// else in their DM with c1bot.
    pub fn tell(&self, text: &str) -> OutboxMessage {
        match (&self.response_url, &self.channel) {
            // A response_url lasts 30 minutes: an answer that comes later (after a
            // restart) goes to the person's DM instead.
            (Some(url), _) => OutboxMessage::respond(url, text).if_refused(
                vec![self.user.clone()],
                text.trim_end_matches('.').to_owned(),
            ),
            (None, Some(channel)) => OutboxMessage::call(
                "chat.postEphemeral",
                json!({ "channel": channel, "user": self.user, "text": text }),
            ),
            (None, None) => OutboxMessage::text(&self.user, text),
        }
    }
}

/// The person behind `envelope` (`slack::inbound::origin`).
pub fn person(envelope: &Envelope) -> Option<Sender> {
    origin(envelope).map(|origin| Sender {
        user: origin.user,
        channel: origin.channel,
        response_url: origin.response_url,
    })
}
