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
