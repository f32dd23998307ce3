//! `apps.connections.open` (app token: one-time websocket tickets) and
//! `auth.test` (bot token: who am I).

use serde_json::{json, Value};

use super::{err, Args, MethodSpec, Needs, Reply};
use crate::simulator::Inner;

pub(super) const METHODS: &[MethodSpec] = &[
    MethodSpec {
        name: "apps.connections.open",
        token: Needs::App,
        scope: "connections:write",
        handler: connections_open,
    },
    MethodSpec {
        name: "auth.test",
        token: Needs::Bot,
        scope: "",
        handler: auth_test,
    },
];

/// A one-time `ws://` URL that already carries a query string, so clients can
/// append `&debug_reconnects=true`.
fn connections_open(inner: &Inner, _args: &Args) -> Reply {
    let ticket = uuid::Uuid::new_v4().to_string();
    let app_id = inner.world().ws.app_id.clone();
    let mut s = inner.sockets();
    if s.link_disabled {
        // UNVERIFIED: what Slack answers once Socket Mode was switched off.
        return Err(err("invalid_auth"));
    }
    s.tickets.insert(ticket.clone(), ());
    s.opened_total += 1;
    let url = format!(
        "ws://127.0.0.1:{}/link/?ticket={ticket}&app_id={app_id}",
        inner.ws_port
    );
    Ok(json!({"ok": true, "url": url}))
}

fn auth_test(inner: &Inner, _args: &Args) -> Reply {
    let w = inner.world();
    let ws = &w.ws;
    Ok(json!({
        "ok": true,
        "url": format!("https://{}.slack.com/", ws.domain),
        "team": ws.team_name,
        "user": ws.bot_name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": Value::from(ws.app_id.as_str()),
        "is_enterprise_install": false,
    }))
}
