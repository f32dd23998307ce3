//! Answers through an interaction's `response_url`: the one place c1bot can reach
//! the person who clicked, wherever the click was (a channel they never joined, a DM
//! that is not theirs), where `chat.postEphemeral` would be refused.
//!
//! A `response_url` comes from outside, so only Slack's own hooks host (or the host
//! c1bot's Web API base points at, for a self-hosted gateway or the simulator) is
//! ever called; no token is sent, since the URL itself is the credential.

use serde_json::Value;

use super::{ApiResponse, WebApi, WebApiError};

/// The name outbox entries and errors use for a `response_url` answer.
pub const RESPONSE_URL: &str = "response_url";

const SLACK_HOOKS_HOST: &str = "hooks.slack.com";

impl WebApi {
    /// POSTs `body` (e.g. `{"text": …, "response_type": "ephemeral"}`) to `url`.
    /// A URL c1bot would not call is [`WebApiError::Slack`] `invalid_response_url`;
    /// one Slack no longer accepts (used 5 times, or older than 30 min) is
    /// `expired_url`; both are definitive.
    pub async fn respond(&self, url: &str, body: &Value) -> Result<ApiResponse, WebApiError> {
        if !self.may_respond_to(url) {
            return Err(refused("invalid_response_url"));
        }
        let sent = self.inner.http.post(url).json(body).send().await;
        let response = sent.map_err(|source| WebApiError::Transport {
            method: RESPONSE_URL,
            attempts: 1,
            source,
        })?;
        let status = response.status().as_u16();
        match status {
            200..=299 => Ok(ApiResponse {
                body: serde_json::json!({ "ok": true }),
                scopes: None,
                warning: None,
            }),
            404 | 410 => Err(refused("expired_url")),
            _ => Err(WebApiError::Http {
                method: RESPONSE_URL,
                status,
                attempts: 1,
            }),
        }
    }

    /// True for `https://hooks.slack.com/…`, or a URL on the Web API base's own
    /// scheme, host and port.
    fn may_respond_to(&self, url: &str) -> bool {
        let Ok(url) = reqwest::Url::parse(url) else {
            return false;
        };
        if url.scheme() == "https" && url.host_str() == Some(SLACK_HOOKS_HOST) {
            return true;
        }
        let Ok(base) = reqwest::Url::parse(&self.inner.base_url) else {
            return false;
        };
        url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
    }
}

fn refused(code: &str) -> WebApiError {
    WebApiError::Slack {
        method: RESPONSE_URL,
        code: code.to_owned(),
        needed: None,
        provided: None,
        messages: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::WebApiOptions;
    use super::*;

    #[test]
    fn only_slacks_hooks_and_the_api_hosts_own_urls_are_called() {
        let web = WebApi::new(WebApiOptions::new("http://127.0.0.1:4000/api/", None, None))
            .expect("client");
        assert!(web.may_respond_to("https://hooks.slack.com/actions/T1/2/abc"));
        assert!(web.may_respond_to("http://127.0.0.1:4000/hooks/T1/abc"));
        assert!(!web.may_respond_to("http://hooks.slack.com/actions/T1/2/abc"));
        assert!(!web.may_respond_to("http://127.0.0.1:4001/hooks/T1/abc"));
        assert!(!web.may_respond_to("https://evil.example/hooks.slack.com"));
        assert!(!web.may_respond_to("not a url"));
    }
}
