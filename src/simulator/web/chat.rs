//! `chat.*`: post, update, delete and ephemeral messages, plus the
//! `response_url` endpoint that slash-command and button payloads point at.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use serde_json::{json, Value};

use super::{err, Args, MethodSpec, Needs, Reply};
use crate::simulator::message::{assign_ids, Message};
use crate::simulator::state::World;
use crate::simulator::Inner;

pub(super) const METHODS: &[MethodSpec] = &[
    MethodSpec {
        name: "chat.postMessage",
        token: Needs::Bot,
        scope: "chat:write",
        handler: post_message,
    },
    MethodSpec {
        name: "chat.update",
        token: Needs::Bot,
        scope: "chat:write",
        handler: update,
    },
    MethodSpec {
        name: "chat.postEphemeral",
        token: Needs::Bot,
        scope: "chat:write",
        handler: post_ephemeral,
    },
    MethodSpec {
        name: "chat.delete",
        token: Needs::Bot,
        scope: "chat:write",
        handler: delete,
    },
];

/// The channel id an app means by `channel`: a channel id or name, a DM id, or
/// a user id (which posts to the bot's DM with that user).
pub(super) fn target_channel(w: &mut World, channel: &str) -> Result<String, super::ApiError> {
    if let Some(c) = w.resolve_channel(channel) {
        return Ok(c.id.clone());
    }
    match w.ws.user(channel) {
        Some(u) if u.id == channel && !u.deleted => Ok(w.ensure_dm(channel)),
        _ => Err(err("channel_not_found")),
    }
}

/// `text` and `blocks` of a message; `no_text` when both are missing.
fn content(args: &Args) -> Result<(String, Value), super::ApiError> {
    let text = args.str("text").unwrap_or_default();
    let mut blocks = args.json("blocks").cloned().unwrap_or(Value::Array(vec![]));
    let no_blocks = blocks.as_array().is_none_or(|b| b.is_empty());
    if text.is_empty() && no_blocks {
        return Err(err("no_text"));
    }
    if !blocks.is_array() {
        return Err(err("invalid_blocks"));
    }
    if blocks.as_array().is_some_and(|b| b.len() > 50) {
        return Err(err("invalid_blocks"));
    }
    assign_ids(&mut blocks);
    Ok((text, blocks))
}

/// The `metadata` argument: an object with a string `event_type` and an object
/// `event_payload` (Slack's `invalid_metadata_format` otherwise).
fn metadata(args: &Args) -> Result<Option<Value>, super::ApiError> {
    let Some(metadata) = args.json("metadata") else {
        return Ok(None);
    };
    let well_formed = metadata["event_type"].is_string() && metadata["event_payload"].is_object();
    if !well_formed {
        return Err(err("invalid_metadata_format"));
    }
    Ok(Some(metadata.clone()))
}

fn post_message(inner: &Inner, args: &Args) -> Reply {
    let channel = args
        .str("channel")
        .ok_or_else(|| err("channel_not_found"))?;
    let mut w = inner.world();
    let id = target_channel(&mut w, &channel)?;
    let bot = w.ws.bot_user_id.clone();
    let c = w
        .resolve_channel(&id)
        .ok_or_else(|| err("channel_not_found"))?;
    if c.is_archived {
        return Err(err("is_archived"));
    }
    if c.is_private && !c.members.contains(&bot) {
        return Err(err("not_in_channel"));
    }
    let (text, blocks) = content(args)?;
    let metadata = metadata(args)?;
    let ts = w.next_ts();
    let msg = Message {
        channel: id.clone(),
        ts: ts.clone(),
        text,
        blocks,
        user: bot.clone(),
        thread_ts: args.str("thread_ts"),
        edited: false,
        metadata,
    };
    let mut json = msg.to_json(&w.ws.team_id, &w.ws.bot_id, &bot);
    json["subtype"] = Value::from("bot_message");
    w.messages.entry(id.clone()).or_default().push(msg);
    Ok(json!({"ok": true, "channel": id, "ts": ts, "message": json}))
}

fn update(inner: &Inner, args: &Args) -> Reply {
    let channel = args
        .str("channel")
        .ok_or_else(|| err("channel_not_found"))?;
    let ts = args.str("ts").ok_or_else(|| err("message_not_found"))?;
    let mut w = inner.world();
    let id = target_channel(&mut w, &channel)?;
    let bot = w.ws.bot_user_id.clone();
    let (team, bot_id) = (w.ws.team_id.clone(), w.ws.bot_id.clone());
    let msg = w
        .message_mut(&id, &ts)
        .ok_or_else(|| err("message_not_found"))?;
    if msg.user != bot {
        return Err(err("cant_update_message"));
    }
    let (text, blocks) = content(args)?;
    msg.text = text.clone();
    msg.blocks = blocks;
    msg.edited = true;
    let json = msg.to_json(&team, &bot_id, &bot);
    Ok(json!({"ok": true, "channel": id, "ts": ts, "text": text, "message": json}))
}

fn post_ephemeral(inner: &Inner, args: &Args) -> Reply {
    let channel = args
        .str("channel")
        .ok_or_else(|| err("channel_not_found"))?;
    let user = args.str("user").ok_or_else(|| err("user_not_found"))?;
    let mut w = inner.world();
    let id = target_channel(&mut w, &channel)?;
    let c = w
        .resolve_channel(&id)
        .ok_or_else(|| err("channel_not_found"))?;
    if c.is_archived {
        return Err(err("is_archived"));
    }
    if !c.members.contains(&user) {
        return Err(err("user_not_in_channel"));
    }
    let (text, blocks) = content(args)?;
    let ts = w.next_ts();
    let msg = Message {
        channel: id,
        ts: ts.clone(),
        text,
        blocks,
        user: w.ws.bot_user_id.clone(),
        thread_ts: args.str("thread_ts"),
        edited: false,
        metadata: None,
    };
    w.ephemerals.entry(user).or_default().push(msg);
    Ok(json!({"ok": true, "message_ts": ts}))
}

fn delete(inner: &Inner, args: &Args) -> Reply {
    let channel = args
        .str("channel")
        .ok_or_else(|| err("channel_not_found"))?;
    let ts = args.str("ts").ok_or_else(|| err("message_not_found"))?;
    let mut w = inner.world();
    let id = target_channel(&mut w, &channel)?;
    let bot = w.ws.bot_user_id.clone();
    let msgs = w
        .messages
        .get_mut(&id)
        .ok_or_else(|| err("message_not_found"))?;
    let pos = msgs
        .iter()
        .position(|m| m.ts == ts)
        .ok_or_else(|| err("message_not_found"))?;
    if msgs[pos].user != bot {
        return Err(err("cant_delete_message"));
    }
    msgs.remove(pos);
    Ok(json!({"ok": true, "channel": id, "ts": ts}))
}

/// `POST /hooks/<team>/<key>`: a `response_url`. Supports `replace_original`,
/// `delete_original`, `response_type: in_channel`, else an ephemeral message.
pub(super) async fn response_url(
    State(inner): State<Arc<Inner>>,
    Path((_team, key)): Path<(String, String)>,
    body: Bytes,
) -> impl IntoResponse {
    let json_type = [(header::CONTENT_TYPE, "application/json")];
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return (
            StatusCode::BAD_REQUEST,
            json_type,
            r#"{"ok":false,"error":"invalid_json"}"#,
        );
    };
    let applied = apply_response(&inner, &key, &body);
    inner.bump();
    match applied {
        Ok(()) => (StatusCode::OK, json_type, r#"{"ok":true}"#),
        Err(_) => (
            StatusCode::NOT_FOUND,
            json_type,
            r#"{"ok":false,"error":"expired_url"}"#,
        ),
    }
}

fn apply_response(inner: &Inner, key: &str, body: &Value) -> Result<(), super::ApiError> {
    let mut w = inner.world();
    let target = w
        .response_urls
        .get(key)
        .cloned()
        .ok_or_else(|| err("expired_url"))?;
    let truthy = |k: &str| body[k] == true || body[k] == "true";
    if truthy("delete_original") {
        let ts = target
            .message_ts
            .clone()
            .ok_or_else(|| err("message_not_found"))?;
        if let Some(msgs) = w.messages.get_mut(&target.channel) {
            msgs.retain(|m| m.ts != ts);
        }
        return Ok(());
    }
    let mut args = serde_json::Map::new();
    for k in ["text", "blocks"] {
        if let Some(v) = body.get(k) {
            args.insert(k.into(), v.clone());
        }
    }
    let (text, blocks) = content(&Args(args))?;
    if truthy("replace_original") {
        let ts = target
            .message_ts
            .clone()
            .ok_or_else(|| err("message_not_found"))?;
        let msg = w
            .message_mut(&target.channel, &ts)
            .ok_or_else(|| err("message_not_found"))?;
        msg.text = text;
        msg.blocks = blocks;
        msg.edited = true;
        return Ok(());
    }
    let ts = w.next_ts();
    let msg = Message {
        channel: target.channel.clone(),
        ts,
        text,
        blocks,
        user: w.ws.bot_user_id.clone(),
        thread_ts: None,
        edited: false,
        metadata: None,
    };
    if body["response_type"] == "in_channel" {
        w.messages.entry(target.channel).or_default().push(msg);
    } else {
        w.ephemerals.entry(target.user).or_default().push(msg);
    }
    Ok(())
}
