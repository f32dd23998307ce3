//! Web API failures, typed so callers can branch on Slack's own error code.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum WebApiError {
    /// Slack answered `ok: false`. Definitive: never retried.
    #[error("{method} failed: {code}{}", detail(.needed, .messages))]
    Slack {
        method: &'static str,
        code: String,
        /// For `missing_scope`: the scope the method needs.
        needed: Option<String>,
        /// For `missing_scope`: the scopes the token has.
        provided: Option<String>,
        /// `response_metadata.messages`, e.g. which argument was invalid.
        messages: Vec<String>,
    },
    /// Still rate limited after every retry.
    #[error("{method} was rate limited {attempts} times (last Retry-After {retry_after:?})")]
    RateLimited {
        method: &'static str,
        retry_after: Duration,
        attempts: u32,
    },
    /// A 5xx or other non-200 status, after retries.
    #[error("{method} answered HTTP {status} after {attempts} attempts")]
    Http {
        method: &'static str,
        status: u16,
        attempts: u32,
    },
    /// The request never got an answer (connect, timeout, reset), after retries.
    #[error("{method} could not reach Slack after {attempts} attempts: {source}")]
    Transport {
        method: &'static str,
        attempts: u32,
        #[source]
        source: reqwest::Error,
    },
    /// Slack answered something that is not its JSON envelope.
    #[error("{method} answered a body that is not Slack's JSON envelope: {detail}")]
    Decode {
        method: &'static str,
        detail: String,
    },
    /// The call did not finish before the deadline of the ack it was made for
    /// ([`super::deadline`]); it may still have reached Slack.
    #[error("{method} did not answer before the ack's deadline")]
    Deadline { method: &'static str },
    /// The token this method needs was not configured.
    #[error("{method} needs the {kind} token, which is not configured")]
    MissingToken {
        method: &'static str,
        kind: &'static str,
    },
}

fn detail(needed: &Option<String>, messages: &[String]) -> String {
    let mut out = String::new();
    if let Some(needed) = needed {
        out.push_str(&format!(" (needs scope {needed})"));
    }
    if !messages.is_empty() {
        out.push_str(&format!(" ({})", messages.join("; ")));
    }
    out
}

impl WebApiError {
    /// Slack's error code, where Slack gave one.
    pub fn slack_code(&self) -> Option<&str> {
        match self {
            Self::Slack { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Why Slack refused a call, as a clause a person can act on ("they are already in
/// the channel"). Codes c1bot has no wording for are given as Slack's code.
pub fn in_words(code: &str) -> String {
    match code {
        "already_in_channel" => "they are already in the channel",
        "expired_url" => "(sent here because the answer came too late to show where you clicked)",
        "cant_invite" => "Slack does not let c1bot invite them (a deactivated account, or a guest)",
        "ura_max_channels" => "they are a single-channel guest, already in their one channel",
        "user_not_found" | "user_disabled" => "Slack does not know them any more (deactivated?)",
        "cant_invite_self" => "c1bot cannot invite itself",
        "is_archived" => "the channel is archived",
        "not_in_channel" => "c1bot is not in the channel",
        "channel_not_found" => {
            "c1bot cannot see the channel (deleted, or a private channel c1bot is not in)"
        }
        "method_not_supported_for_channel_type" => {
            "c1bot cannot join a private channel by itself; add c1bot to it first"
        }
        "restricted_action" => "the workspace's settings do not let apps do this",
        other => return format!("Slack answered `{other}`"),
    }
    .to_owned()
}
