//! Socket Mode wire shapes, built exactly as Slack sends them (protocol doc
//! §1.2–1.8): `hello`, `disconnect`, the envelope wrapper, `event_callback`,
//! slash command and interaction payloads. Pure builders; no I/O.

use serde_json::{json, Value};

use super::workspace::User;
use super::Inner;

/// Placeholder verification token Slack still puts in payloads.
const TOKEN: &str = "sim-verification-token";

pub fn hello(inner: &Inner, conn: u64, num_connections: usize, debug_reconnects: bool) -> Value {
    let app_id = inner.world().ws.app_id.clone();
    json!({
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {
            "host": format!("applink-sim-{conn}"),
            "started": chrono::Utc::now().format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
            "build_number": 54,
            "approximate_connection_time": if debug_reconnects { 360 } else { 18060 },
        },
        "connection_info": {"app_id": app_id},
    })
}

pub fn disconnect(reason: &str, host: &str) -> Value {
    json!({"type": "disconnect", "reason": reason, "debug_info": {"host": host}})
}

/// The envelope around a payload; `accepts_response_payload` per type as Slack
/// sets it (events_api false, slash_commands true, interactive: per payload type).
pub fn envelope(kind: &str, payload: Value) -> Value {
    let accepts = match kind {
        "slash_commands" => true,
        "interactive" => matches!(
            payload["type"].as_str(),
            Some("view_submission") | Some("block_suggestion")
        ),
        _ => false,
    };
    json!({
        "envelope_id": uuid::Uuid::new_v4().to_string(),
        "type": kind,
        "accepts_response_payload": accepts,
        "payload": payload,
        "retry_attempt": 0,
        "retry_reason": "",
    })
}

/// The `event_callback` wrapper Slack puts around an Events API event.
pub fn event_callback(inner: &Inner, mut event: Value) -> Value {
    let (team_id, app_id, bot_user) = {
        let w = inner.world();
        (
            w.ws.team_id.clone(),
            w.ws.app_id.clone(),
            w.ws.bot_user_id.clone(),
        )
    };
    let now = chrono::Utc::now();
    if event.get("event_ts").is_none() {
        let ts = format!("{}.{:06}", now.timestamp(), now.timestamp_subsec_micros());
        event["event_ts"] = Value::from(ts);
    }
    let event_id = format!(
        "Ev{}",
        &uuid::Uuid::new_v4().simple().to_string()[..10].to_uppercase()
    );
    json!({
        "token": TOKEN,
        "team_id": team_id,
        "api_app_id": app_id,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": now.timestamp(),
        "authorizations": [{
            "enterprise_id": null, "team_id": team_id, "user_id": bot_user,
            "is_bot": true, "is_enterprise_install": false
        }],
        "is_ext_shared_channel": false,
        "event_context": format!("4-{}", uuid::Uuid::new_v4().simple()),
        "event": event,
    })
}

pub struct Team<'a> {
    pub id: &'a str,
    pub domain: &'a str,
    pub app_id: &'a str,
}

fn user_obj(team: &Team, user: &User) -> Value {
    json!({"id": user.id, "username": user.name, "name": user.name, "team_id": team.id})
}

pub struct SlashArgs<'a> {
    pub command: &'a str,
    pub text: &'a str,
    pub channel_id: &'a str,
    pub channel_name: &'a str,
    pub trigger_id: &'a str,
    pub response_url: &'a str,
}

pub fn slash_command(team: &Team, user: &User, a: &SlashArgs) -> Value {
    json!({
        "token": TOKEN,
        "team_id": team.id,
        "team_domain": team.domain,
        "channel_id": a.channel_id,
        "channel_name": a.channel_name,
        "user_id": user.id,
        "user_name": user.name,
        "command": a.command,
        "text": a.text,
        "api_app_id": team.app_id,
        "is_enterprise_install": "false",
        "response_url": a.response_url,
        "trigger_id": a.trigger_id,
    })
}

/// Where a block action happened: a message (with its channel) or a view.
pub enum ActionSource {
    Message {
        channel_id: String,
        channel_name: String,
        message: Value,
        is_ephemeral: bool,
        response_url: String,
    },
    View {
        view: Value,
    },
}

pub fn block_actions(
    team: &Team,
    user: &User,
    source: &ActionSource,
    trigger_id: &str,
    action: Value,
) -> Value {
    let mut p = json!({
        "type": "block_actions",
        "user": user_obj(team, user),
        "api_app_id": team.app_id,
        "token": TOKEN,
        "trigger_id": trigger_id,
        "team": {"id": team.id, "domain": team.domain},
        "enterprise": null,
        "is_enterprise_install": false,
        "actions": [action],
    });
    match source {
        ActionSource::Message {
            channel_id,
            channel_name,
            message,
            is_ephemeral,
            response_url,
        } => {
            p["container"] = json!({
                "type": "message", "message_ts": message["ts"], "channel_id": channel_id,
                "is_ephemeral": is_ephemeral
            });
            p["channel"] = json!({"id": channel_id, "name": channel_name});
            p["message"] = message.clone();
            p["state"] = json!({"values": {}});
            p["response_url"] = Value::from(response_url.as_str());
        }
        ActionSource::View { view } => {
            p["container"] = json!({"type": "view", "view_id": view["id"]});
            p["view"] = view.clone();
            p["state"] = view["state"].clone();
        }
    }
    p
}

pub fn view_submission(team: &Team, user: &User, view: Value, trigger_id: &str) -> Value {
    json!({
        "type": "view_submission",
        "team": {"id": team.id, "domain": team.domain},
        "user": user_obj(team, user),
        "api_app_id": team.app_id,
        "token": TOKEN,
        "trigger_id": trigger_id,
        "is_enterprise_install": false,
        "enterprise": null,
        "view": view,
        "response_urls": [],
    })
}

pub fn view_closed(team: &Team, user: &User, view: Value) -> Value {
    json!({
        "type": "view_closed",
        "team": {"id": team.id, "domain": team.domain},
        "user": user_obj(team, user),
        "api_app_id": team.app_id,
        "token": TOKEN,
        "is_enterprise_install": false,
        "view": view,
        "is_cleared": false,
    })
}

pub fn block_suggestion(
    team: &Team,
    user: &User,
    view: Value,
    block_id: &str,
    action_id: &str,
    query: &str,
) -> Value {
    json!({
        "type": "block_suggestion",
        "user": user_obj(team, user),
        "team": {"id": team.id, "domain": team.domain},
        "api_app_id": team.app_id,
        "token": TOKEN,
        "container": {"type": "view", "view_id": view["id"]},
        "block_id": block_id,
        "action_id": action_id,
        "value": query,
        "view": view,
    })
}
