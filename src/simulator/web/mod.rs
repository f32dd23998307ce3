//! The Web API over HTTP (axum): `/api/<method>` by GET query, form or JSON body;
//! token checks, injected faults, the response envelope and headers, and the
//! call log. Each method is one small handler in a family file, listed in a
//! table with its token kind and scope. Also serves `response_url`s (`/hooks/…`).

mod apps;
mod chat;
mod conversations;
mod history;
mod users;
mod views;

pub(crate) use views::{push_view, replace_view, validate_view};

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::faults::FailureKind;
use super::state::{ApiCall, TokenKind};
use super::Inner;

/// Which token a method takes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    App,
    Bot,
}

pub(crate) type Reply = Result<Value, ApiError>;
pub(crate) type Handler = fn(&Inner, &Args) -> Reply;

/// One row of the method table.
pub(crate) struct MethodSpec {
    pub name: &'static str,
    pub token: Needs,
    /// For `x-accepted-oauth-scopes` and the `missing_scope` check: any one of these
    /// (comma-separated) will do; empty when none is needed.
    pub scope: &'static str,
    pub handler: Handler,
}

/// A Slack error body: `{"ok":false,"error":code, ...extra}`.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub code: String,
    pub extra: Map<String, Value>,
}

pub(crate) fn err(code: &str) -> ApiError {
    ApiError {
        code: code.to_string(),
        extra: Map::new(),
    }
}

/// The merged arguments of a call.
pub(crate) struct Args(pub Map<String, Value>);

impl Args {
    /// A non-empty string argument (numbers are accepted as their text).
    pub fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub fn bool(&self, key: &str) -> bool {
        match self.0.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            Some(Value::Number(n)) => n.as_i64() == Some(1),
            _ => false,
        }
    }

    /// A JSON argument (already parsed when it came as a JSON string).
    pub fn json(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    /// A list given as `"a,b"` or `["a","b"]`.
    pub fn list(&self, key: &str) -> Vec<String> {
        match self.0.get(key) {
            Some(Value::String(s)) => s
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        }
    }
}

fn methods() -> impl Iterator<Item = &'static MethodSpec> {
    apps::METHODS
        .iter()
        .chain(chat::METHODS)
        .chain(conversations::METHODS)
        .chain(history::METHODS)
        .chain(users::METHODS)
        .chain(views::METHODS)
}

pub(crate) fn serve(inner: Arc<Inner>, listener: TcpListener) {
    let shutdown = inner.shutdown.clone();
    let app = Router::new()
        .route("/api/{method}", any(api))
        .route("/hooks/{team}/{key}", post(chat::response_url))
        .with_state(inner);
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "simulator: web server stopped");
        }
    });
}

async fn api(
    State(inner): State<Arc<Inner>>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let delay = inner.faults.latency_for(&method);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (args, token_kind, outcome) = handle(&inner, &method, &headers, query, &body);
    let channel = args.get("channel").and_then(Value::as_str);
    let hang = matches!(outcome, Outcome::Ok(_)) && inner.faults.take_hang(&method, channel);
    let (status, mut body, extra_headers) = match outcome {
        Outcome::Ok(v) => (200, v, vec![]),
        Outcome::Slack(e) => {
            let mut m = e.extra;
            m.insert("ok".into(), Value::Bool(false));
            m.insert("error".into(), Value::from(e.code));
            (200, Value::Object(m), vec![])
        }
        Outcome::Http(status, body, hdrs) => (status, body, hdrs),
    };
    if body.get("ok").is_none() {
        body["ok"] = Value::Bool(true);
    }
    let error = body["error"].as_str().map(str::to_string);
    inner.world().calls.push(ApiCall {
        method: method.clone(),
        args: Value::Object(args),
        token_kind,
        at: Instant::now(),
        http_status: status,
        error,
    });
    inner.bump();
    if hang {
        // Slack did it, and the answer never comes (until the simulator stops).
        inner.shutdown.cancelled().await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }

    let mut resp = (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        body.to_string(),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    for (name, value) in extra_headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
    if token_kind == TokenKind::Bot {
        let scopes = inner.world().scopes.join(",");
        if let Ok(v) = HeaderValue::from_str(&scopes) {
            h.insert("x-oauth-scopes", v);
        }
    }
    if let Some(spec) = methods().find(|m| m.name == method && !m.scope.is_empty()) {
        h.insert(
            "x-accepted-oauth-scopes",
            HeaderValue::from_static(spec.scope),
        );
    }
    resp
}

enum Outcome {
    Ok(Value),
    Slack(ApiError),
    Http(u16, Value, Vec<(&'static str, String)>),
}

fn handle(
    inner: &Inner,
    method: &str,
    headers: &HeaderMap,
    query: Option<String>,
    body: &[u8],
) -> (Map<String, Value>, TokenKind, Outcome) {
    let parsed = parse_args(headers, query.as_deref(), body);
    let (mut args, json_token) = match parsed {
        Ok(p) => p,
        Err(code) => return (Map::new(), TokenKind::None, Outcome::Slack(err(code))),
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let form_token = args
        .remove("token")
        .and_then(|t| t.as_str().map(str::to_string));
    let token = bearer.or(if json_token { None } else { form_token });
    let kind = match token.as_deref() {
        None | Some("") => TokenKind::None,
        Some(t) if t == inner.app_token => TokenKind::App,
        Some(t) if t == inner.bot_token => TokenKind::Bot,
        Some(_) => return (args, TokenKind::None, Outcome::Slack(err("invalid_auth"))),
    };
    let outcome = run(inner, method, kind, args.clone());
    (args, kind, outcome)
}

fn run(inner: &Inner, method: &str, kind: TokenKind, args: Map<String, Value>) -> Outcome {
    let Some(spec) = methods().find(|m| m.name == method) else {
        return Outcome::Slack(err("unknown_method"));
    };
    match (kind, spec.token) {
        (TokenKind::None, _) => return Outcome::Slack(err("not_authed")),
        (TokenKind::App, Needs::Bot) | (TokenKind::Bot, Needs::App) => {
            return Outcome::Slack(err("not_allowed_token_type"))
        }
        _ => {}
    }
    if spec.token == Needs::Bot && !spec.scope.is_empty() {
        let w = inner.world();
        let granted = |scope: &str| w.scopes.iter().any(|s| s == scope);
        if !spec.scope.split(',').any(granted) {
            return Outcome::Slack(history::missing_scope(spec.scope, &w.scopes));
        }
    }
    let channel = args.get("channel").and_then(Value::as_str);
    match inner.faults.take_failure(method, channel) {
        Some(FailureKind::RateLimit { retry_after_secs }) => {
            let body = json!({"ok": false, "error": "ratelimited"});
            return Outcome::Http(
                429,
                body,
                vec![("retry-after", retry_after_secs.to_string())],
            );
        }
        Some(FailureKind::Http { status }) => {
            let body = json!({"ok": false, "error": format!("http_{status}")});
            return Outcome::Http(status, body, vec![]);
        }
        Some(FailureKind::Slack { code }) => return Outcome::Slack(err(&code)),
        None => {}
    }
    match (spec.handler)(inner, &Args(args)) {
        Ok(v) => Outcome::Ok(v),
        Err(e) => Outcome::Slack(e),
    }
}

/// Query + body arguments merged. Returns whether a JSON body carried a `token`
/// (which Slack ignores: JSON needs the Authorization header).
fn parse_args(
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
) -> Result<(Map<String, Value>, bool), &'static str> {
    let mut args = Map::new();
    if let Some(q) = query {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(q).map_err(|_| "invalid_arguments")?;
        args.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut json_token = false;
    let trimmed = body.iter().filter(|b| !b.is_ascii_whitespace()).count();
    if trimmed > 0 {
        if content_type.starts_with("application/json") {
            let v: Value = serde_json::from_slice(body).map_err(|_| "invalid_json")?;
            let Value::Object(map) = v else {
                return Err("invalid_json");
            };
            json_token = map.contains_key("token");
            args.extend(map);
        } else {
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(body).map_err(|_| "invalid_form_data")?;
            args.extend(pairs.into_iter().map(|(k, v)| (k, Value::String(v))));
        }
    }
    for key in ["blocks", "view", "attachments", "metadata"] {
        if let Some(Value::String(s)) = args.get(key) {
            if let Ok(parsed) = serde_json::from_str::<Value>(s) {
                args.insert(key.to_string(), parsed);
            }
        }
    }
    Ok((args, json_token))
}
