//! The one Web API client: every outgoing call to Slack goes through [`WebApi::call`].
//!
//! It owns the wire details (bearer token per method, GET query vs JSON body, Slack's
//! `{ok, error, warning, response_metadata}` envelope) and the retry policy: HTTP 429
//! waits for `Retry-After`; 5xx and connection failures are retried with bounded
//! backoff; a definitive `ok: false` is never retried. Calls are paced per method
//! (see [`pacing`]). Callers get typed errors that keep Slack's error code.

pub mod answers;
pub mod deadline;
pub mod error;
pub mod methods;
pub mod pacing;
pub mod respond;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;

pub use error::{in_words, WebApiError};
pub use methods::{ApiMethod, TokenKind, Verb};

use crate::slack::backoff::Backoff;
use pacing::Pacer;

/// A token that never prints.
#[derive(Clone)]
struct Bearer(String);

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer(redacted)")
    }
}

/// How the client is set up.
#[derive(Debug, Clone)]
pub struct WebApiOptions {
    /// Base URL ending in `/`, e.g. `https://slack.com/api/`.
    pub base_url: String,
    pub app_token: Option<String>,
    pub bot_token: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Where call results and 429s are counted.
    pub metrics: Option<crate::metrics::Metrics>,
    /// Told each time Slack answers `missing_scope`, with the scope(s) it needs.
    pub on_missing_scope: Option<MissingScopeHook>,
}

/// Called with the scope Slack said a call needs (its `needed`, else the method's
/// scopes joined with commas), so the features that need it can be switched off.
#[derive(Clone)]
pub struct MissingScopeHook(pub Arc<dyn Fn(&str) + Send + Sync>);

impl fmt::Debug for MissingScopeHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MissingScopeHook")
    }
}

/// How hard the client tries before giving up on a call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay between attempts after a 5xx or a connection failure.
    pub backoff: Backoff,
    /// A `Retry-After` longer than this is cut to it, so one call cannot stall for an hour.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            backoff: Backoff {
                initial: Duration::from_millis(250),
                max: Duration::from_secs(4),
            },
            max_retry_after: Duration::from_secs(120),
        }
    }
}

impl WebApiOptions {
    pub fn new(
        base_url: impl Into<String>,
        app_token: Option<String>,
        bot_token: Option<String>,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            app_token,
            bot_token,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            metrics: None,
            on_missing_scope: None,
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub body: Value,
    /// Granted scopes, from the `x-oauth-scopes` header, where Slack sent it.
    pub scopes: Option<Vec<String>>,
    /// Slack's `warning` field (e.g. `already_in_channel` on a repeated join).
    pub warning: Option<String>,
}

/// Cheap to clone; clones share the connection pool and the pacer.
#[derive(Clone, Debug)]
pub struct WebApi {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base_url: String,
    app_token: Option<Bearer>,
    bot_token: Option<Bearer>,
    retry: RetryPolicy,
    pacer: PacerHandle,
    metrics: Option<crate::metrics::Metrics>,
    on_missing_scope: Option<MissingScopeHook>,
}

#[derive(Clone, Default)]
struct PacerHandle(Pacer);

impl fmt::Debug for PacerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pacer")
    }
}

/// What one HTTP attempt came to.
enum Attempt {
    Done(Result<ApiResponse, WebApiError>),
    RateLimited(Duration),
    Retryable(WebApiError),
}

impl WebApi {
    pub fn new(options: WebApiOptions) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(options.timeout)
            .user_agent(concat!("c1bot/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("building the HTTP client: {e}"))?;
        let mut base_url = options.base_url;
        if !base_url.ends_with('/') {
            base_url.push('/');
        }
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base_url,
                app_token: options.app_token.map(Bearer),
                bot_token: options.bot_token.map(Bearer),
                retry: options.retry,
                pacer: PacerHandle::default(),
                metrics: options.metrics,
                on_missing_scope: options.on_missing_scope,
            }),
        })
    }

    /// Calls `method` with `args` (a JSON object) and returns Slack's answer. Inside
    /// [`deadline::within`] the call (retries included) ends at that deadline.
    pub async fn call(
        &self,
        method: &'static ApiMethod,
        args: Value,
    ) -> Result<ApiResponse, WebApiError> {
        match deadline::current() {
            Some(at) => tokio::time::timeout_at(at, self.call_unbounded(method, args))
                .await
                .unwrap_or(Err(WebApiError::Deadline {
                    method: method.name,
                })),
            None => self.call_unbounded(method, args).await,
        }
    }

    async fn call_unbounded(
        &self,
        method: &'static ApiMethod,
        args: Value,
    ) -> Result<ApiResponse, WebApiError> {
        let channel = args
            .get("channel")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let retry = self.inner.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.inner.pacer.0.wait(method, channel.as_deref()).await;
            let outcome = self.attempt_counted(method, &args, attempt).await;
            match outcome {
                Attempt::Done(result) => return result,
                Attempt::RateLimited(retry_after) => {
                    let retry_after = retry_after.min(retry.max_retry_after);
                    tracing::warn!(
                        method = method.name,
                        attempt,
                        retry_after_s = retry_after.as_secs(),
                        "rate limited by Slack (429)"
                    );
                    if attempt >= retry.max_attempts {
                        return Err(WebApiError::RateLimited {
                            method: method.name,
                            retry_after,
                            attempts: attempt,
                        });
                    }
                    // The pacer makes this and every concurrent caller wait out Retry-After.
                    self.inner
                        .pacer
                        .0
                        .rate_limited(method, channel.as_deref(), retry_after);
                }
                Attempt::Retryable(error) => {
                    if attempt >= retry.max_attempts {
                        return Err(with_attempts(error, attempt));
                    }
                    let delay = retry.backoff.random_delay(attempt);
                    tracing::warn!(method = method.name, attempt, delay_ms = delay.as_millis() as u64, error = %error, "Web API call failed; retrying");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// Waits for the pacer's next slot for `method` (to `channel`, for methods paced
    /// per channel) and takes it, for a caller that then makes one attempt with
    /// [`WebApi::call_once`] and schedules its own retries.
    pub async fn pace(&self, method: &'static ApiMethod, channel: Option<&str>) {
        self.inner.pacer.0.wait(method, channel).await;
    }

    /// One attempt at `method`, without pacing (the caller took its slot with
    /// [`WebApi::pace`]) and without retries: a 429 comes back as
    /// [`WebApiError::RateLimited`] (and blocks the pacer for `Retry-After`), a 5xx or a
    /// transport failure as its error. For the outbox sender, which must not hold a
    /// delivery slot while waiting to retry.
    pub async fn call_once(
        &self,
        method: &'static ApiMethod,
        args: Value,
    ) -> Result<ApiResponse, WebApiError> {
        match self.attempt_counted(method, &args, 1).await {
            Attempt::Done(result) => result,
            Attempt::Retryable(error) => Err(error),
            Attempt::RateLimited(retry_after) => {
                let retry_after = retry_after.min(self.inner.retry.max_retry_after);
                let channel = args.get("channel").and_then(Value::as_str);
                self.inner
                    .pacer
                    .0
                    .rate_limited(method, channel, retry_after);
                Err(WebApiError::RateLimited {
                    method: method.name,
                    retry_after,
                    attempts: 1,
                })
            }
        }
    }

    /// One attempt, logged and counted in the metrics.
    async fn attempt_counted(
        &self,
        method: &'static ApiMethod,
        args: &Value,
        attempt: u32,
    ) -> Attempt {
        let started = Instant::now();
        let outcome = self.attempt(method, args).await;
        tracing::debug!(
            method = method.name,
            attempt,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Web API call"
        );
        if let (Some(hook), Attempt::Done(Err(WebApiError::Slack { code, needed, .. }))) =
            (&self.inner.on_missing_scope, &outcome)
        {
            if code == "missing_scope" {
                let needed = needed.clone().unwrap_or_else(|| method.scopes.join(","));
                (hook.0)(&needed);
            }
        }
        if let Some(metrics) = &self.inner.metrics {
            match &outcome {
                Attempt::Done(Ok(_)) => metrics.web_call(method.name, "ok"),
                Attempt::Done(Err(e)) | Attempt::Retryable(e) => {
                    metrics.web_call(method.name, &result_label(e))
                }
                Attempt::RateLimited(_) => {
                    metrics.rate_limited();
                    metrics.web_call(method.name, "ratelimited");
                }
            }
        }
        outcome
    }

    /// Calls `method` and decodes the body into `R` (an answer of [`answers`]).
    pub async fn call_as<R: DeserializeOwned>(
        &self,
        method: &'static ApiMethod,
        args: Value,
    ) -> Result<R, WebApiError> {
        let response = self.call(method, args).await?;
        serde_json::from_value(response.body).map_err(|e| WebApiError::Decode {
            method: method.name,
            detail: e.to_string(),
        })
    }

    async fn attempt(&self, method: &'static ApiMethod, args: &Value) -> Attempt {
        let token = match method.token {
            TokenKind::App => self.inner.app_token.as_ref(),
            TokenKind::Bot => self.inner.bot_token.as_ref(),
        };
        let Some(token) = token else {
            return Attempt::Done(Err(WebApiError::MissingToken {
                method: method.name,
                kind: match method.token {
                    TokenKind::App => "app (xapp-)",
                    TokenKind::Bot => "bot (xoxb-)",
                },
            }));
        };
        let url = format!("{}{}", self.inner.base_url, method.name);
        let request = match method.verb {
            Verb::Get => self.inner.http.get(url).query(&query_pairs(args)),
            Verb::Post => self.inner.http.post(url).json(args),
        }
        .bearer_auth(&token.0);

        let response = match request.send().await {
            Ok(response) => response,
            Err(source) => {
                return Attempt::Retryable(WebApiError::Transport {
                    method: method.name,
                    attempts: 1,
                    source,
                })
            }
        };
        let status = response.status().as_u16();
        if status == 429 {
            return Attempt::RateLimited(retry_after(response.headers()));
        }
        if status != 200 {
            let error = WebApiError::Http {
                method: method.name,
                status,
                attempts: 1,
            };
            return if status >= 500 {
                Attempt::Retryable(error)
            } else {
                Attempt::Done(Err(error))
            };
        }
        let scopes = response
            .headers()
            .get("x-oauth-scopes")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            });
        let body: Value = match response.json().await {
            Ok(body) => body,
            Err(source) if source.is_decode() => {
                return Attempt::Done(Err(WebApiError::Decode {
                    method: method.name,
                    detail: source.to_string(),
                }))
            }
            Err(source) => {
                return Attempt::Retryable(WebApiError::Transport {
                    method: method.name,
                    attempts: 1,
                    source,
                })
            }
        };
        Attempt::Done(interpret(method.name, body, scopes))
    }
}

/// Reads Slack's envelope: `ok` decides; `ok: false` becomes a typed error.
fn interpret(
    method: &'static str,
    body: Value,
    scopes: Option<Vec<String>>,
) -> Result<ApiResponse, WebApiError> {
    match body.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(ApiResponse {
            warning: body
                .get("warning")
                .and_then(Value::as_str)
                .map(str::to_owned),
            body,
            scopes,
        }),
        Some(false) => {
            let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
            Err(WebApiError::Slack {
                method,
                code: text("error").unwrap_or_else(|| "unknown_error".to_owned()),
                needed: text("needed"),
                provided: text("provided"),
                messages: body
                    .pointer("/response_metadata/messages")
                    .and_then(Value::as_array)
                    .map(|m| {
                        m.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        }
        None => Err(WebApiError::Decode {
            method,
            detail: "the body has no boolean `ok` field".to_owned(),
        }),
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
        // Slack always sends it; if a proxy strips it, one second is the polite guess.
        .unwrap_or(Duration::from_secs(1))
}

/// GET arguments: scalars as text, anything structured as its JSON text (Slack's rule
/// for form and query arguments).
fn query_pairs(args: &Value) -> Vec<(String, String)> {
    let Some(object) = args.as_object() else {
        return Vec::new();
    };
    object
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

/// The `result` label of a failed call: Slack's code, or the kind of failure.
fn result_label(error: &WebApiError) -> String {
    match error {
        WebApiError::Slack { code, .. } => code.clone(),
        WebApiError::Http { status, .. } => format!("http_{status}"),
        WebApiError::RateLimited { .. } => "ratelimited".to_owned(),
        WebApiError::Transport { .. } => "transport".to_owned(),
        WebApiError::Decode { .. } => "decode".to_owned(),
        WebApiError::MissingToken { .. } => "missing_token".to_owned(),
        WebApiError::Deadline { .. } => "deadline".to_owned(),
    }
}

fn with_attempts(error: WebApiError, attempts: u32) -> WebApiError {
    match error {
        WebApiError::Http { method, status, .. } => WebApiError::Http {
            method,
            status,
            attempts,
        },
        WebApiError::Transport { method, source, .. } => WebApiError::Transport {
            method,
            attempts,
            source,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ok_false_keeps_slacks_error_code_and_scope_details() {
        let err = interpret(
            "chat.postMessage",
            json!({"ok": false, "error": "missing_scope", "needed": "chat:write", "provided": "users:read"}),
            None,
        )
        .expect_err("ok:false is an error");
        assert_eq!(err.slack_code(), Some("missing_scope"));
        assert_eq!(
            err.to_string(),
            "chat.postMessage failed: missing_scope (needs scope chat:write)"
        );
    }

    #[test]
    fn validation_messages_are_kept() {
        let err = interpret(
            "views.open",
            json!({"ok": false, "error": "invalid_arguments", "response_metadata": {"messages": ["invalid `trigger_id`"]}}),
            None,
        )
        .expect_err("ok:false");
        assert!(err.to_string().contains("invalid `trigger_id`"));
    }

    #[test]
    fn a_body_without_ok_is_a_decode_error() {
        assert!(matches!(
            interpret("auth.test", json!({"url": "x"}), None),
            Err(WebApiError::Decode { .. })
        ));
    }

    #[test]
    fn warnings_are_surfaced_on_success() {
        let ok = interpret(
            "conversations.join",
            json!({"ok": true, "warning": "already_in_channel"}),
            Some(vec!["chat:write".into()]),
        )
        .expect("ok");
        assert_eq!(ok.warning.as_deref(), Some("already_in_channel"));
        assert_eq!(ok.scopes, Some(vec!["chat:write".to_owned()]));
    }

    #[test]
    fn query_arguments_flatten_structured_values_to_json_text() {
        let pairs = query_pairs(&json!({"user": "U1", "limit": 5, "skip": null, "x": {"a": 1}}));
        assert!(pairs.contains(&("user".into(), "U1".into())));
        assert!(pairs.contains(&("limit".into(), "5".into())));
        assert!(pairs.contains(&("x".into(), r#"{"a":1}"#.into())));
        assert_eq!(pairs.len(), 3);
    }

    #[test]
    fn tokens_never_appear_in_debug_output() {
        let api = WebApi::new(WebApiOptions::new(
            "http://127.0.0.1:1/api/",
            Some("xapp-1-A0-123-secretsecret".into()),
            Some("xoxb-123-456-secretsecret".into()),
        ))
        .expect("client");
        let debug = format!("{api:?}");
        assert!(!debug.contains("secretsecret"), "{debug}");
    }
}
