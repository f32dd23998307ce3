//! `views.open`, `views.update`, `views.push` and `views.publish`: trigger ids
//! (single use, short-lived), view validation, modal stacks per person, hashes
//! for optimistic concurrency, and the App Home.

use serde_json::{json, Map, Value};

use super::{err, ApiError, Args, MethodSpec, Needs, Reply};
use crate::simulator::message::assign_ids;
use crate::simulator::state::{ViewRecord, World};
use crate::simulator::Inner;

pub(super) const METHODS: &[MethodSpec] = &[
    MethodSpec {
        name: "views.open",
        token: Needs::Bot,
        scope: "",
        handler: open,
    },
    MethodSpec {
        name: "views.update",
        token: Needs::Bot,
        scope: "",
        handler: update,
    },
    MethodSpec {
        name: "views.push",
        token: Needs::Bot,
        scope: "",
        handler: push,
    },
    MethodSpec {
        name: "views.publish",
        token: Needs::Bot,
        scope: "",
        handler: publish,
    },
];

fn invalid(message: &str) -> ApiError {
    let mut e = err("invalid_arguments");
    e.extra.insert(
        "response_metadata".into(),
        json!({"messages": [format!("[ERROR] {message}")]}),
    );
    e
}

fn text_len(v: &Value) -> usize {
    v["text"].as_str().map(|s| s.chars().count()).unwrap_or(0)
}

/// Slack's view limits (protocol doc §3): type, title / submit / close ≤ 24
/// characters, ≤ 100 blocks, `submit` required with an input block.
pub(crate) fn validate_view(view: &Value, want_type: &str) -> Result<(), ApiError> {
    if view["type"] != want_type {
        return Err(invalid(&format!(
            "must be a `{want_type}` view [json-pointer:/view/type]"
        )));
    }
    let blocks = view["blocks"]
        .as_array()
        .ok_or_else(|| invalid("missing required field: blocks [json-pointer:/view/blocks]"))?;
    if blocks.len() > 100 {
        return Err(invalid(
            "no more than 100 items allowed [json-pointer:/view/blocks]",
        ));
    }
    if want_type != "modal" {
        return Ok(());
    }
    if view["title"]["text"].as_str().is_none() {
        return Err(invalid(
            "missing required field: title [json-pointer:/view/title]",
        ));
    }
    for key in ["title", "submit", "close"] {
        if text_len(&view[key]) > 24 {
            return Err(invalid(&format!(
                "must be less than 25 characters [json-pointer:/view/{key}/text]"
            )));
        }
    }
    let has_input = blocks.iter().any(|b| b["type"] == "input");
    if has_input && view["submit"].is_null() {
        return Err(invalid(
            "submit is required when an input block is present [json-pointer:/view/submit]",
        ));
    }
    let pm = view["private_metadata"].as_str().map(|s| s.chars().count());
    if pm.unwrap_or(0) > 3000 {
        return Err(invalid(
            "must be less than 3001 characters [json-pointer:/view/private_metadata]",
        ));
    }
    Ok(())
}

fn new_hash() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("{}.{}", chrono::Utc::now().timestamp(), &hex[..8])
}

/// The stored view object for `view` with Slack's added fields.
fn stored_view(w: &World, id: &str, view: &Value, root: &str, previous: Option<&str>) -> Value {
    let mut blocks = view["blocks"].clone();
    assign_ids(&mut blocks);
    let s = |k: &str| view[k].as_str().unwrap_or("").to_string();
    json!({
        "id": id,
        "team_id": w.ws.team_id,
        "type": view["type"],
        "title": view["title"],
        "submit": view["submit"],
        "close": view["close"],
        "blocks": blocks,
        "private_metadata": s("private_metadata"),
        "callback_id": s("callback_id"),
        "external_id": s("external_id"),
        "state": {"values": {}},
        "hash": new_hash(),
        "clear_on_close": view["clear_on_close"].as_bool().unwrap_or(false),
        "notify_on_close": view["notify_on_close"].as_bool().unwrap_or(false),
        "previous_view_id": previous,
        "root_view_id": root,
        "app_id": w.ws.app_id,
        "app_installed_team_id": w.ws.team_id,
        "bot_id": w.ws.bot_id,
    })
}

fn check_external_id(w: &World, view: &Value, except: Option<&str>) -> Result<(), ApiError> {
    let Some(ext) = view["external_id"].as_str().filter(|e| !e.is_empty()) else {
        return Ok(());
    };
    let taken = w
        .views
        .iter()
        .any(|(id, r)| Some(id.as_str()) != except && r.view["external_id"] == ext);
    if taken {
        return Err(err("duplicate_external_id"));
    }
    Ok(())
}

fn view_arg(args: &Args) -> Result<Value, ApiError> {
    args.json("view")
        .filter(|v| v.is_object())
        .cloned()
        .ok_or_else(|| invalid("missing required field: view"))
}

fn insert(w: &mut World, user: &str, view: Value) -> Value {
    let id = view["id"].as_str().unwrap_or_default().to_string();
    let record = ViewRecord {
        values: initial_values(&view["blocks"]),
        view: view.clone(),
        user: user.to_string(),
    };
    w.views.insert(id, record);
    view
}

fn open(inner: &Inner, args: &Args) -> Reply {
    let trigger = args
        .str("trigger_id")
        .ok_or_else(|| invalid("invalid `trigger_id`"))?;
    let view = view_arg(args)?;
    validate_view(&view, "modal")?;
    let mut w = inner.world();
    check_external_id(&w, &view, None)?;
    let user = w
        .use_trigger(&trigger, inner.options.trigger_ttl)
        .map_err(err)?;
    let id = w.next_id("V");
    let stored = stored_view(&w, &id, &view, &id, None);
    let stored = insert(&mut w, &user, stored);
    w.modal_stacks.insert(user, vec![id]);
    Ok(json!({"ok": true, "view": stored}))
}

fn push(inner: &Inner, args: &Args) -> Reply {
    let trigger = args
        .str("trigger_id")
        .ok_or_else(|| invalid("invalid `trigger_id`"))?;
    let view = view_arg(args)?;
    validate_view(&view, "modal")?;
    let mut w = inner.world();
    check_external_id(&w, &view, None)?;
    let user = w
        .use_trigger(&trigger, inner.options.trigger_ttl)
        .map_err(err)?;
    let stored = push_view(&mut w, &user, &view)?;
    Ok(json!({"ok": true, "view": stored}))
}

/// Pushes `view` onto `user`'s modal stack (views.push, `response_action: push`).
pub(crate) fn push_view(w: &mut World, user: &str, view: &Value) -> Result<Value, ApiError> {
    let stack = w.modal_stacks.get(user).cloned().unwrap_or_default();
    let (Some(root), Some(top)) = (stack.first(), stack.last()) else {
        // UNVERIFIED: Slack's error for a push with no modal open.
        return Err(err("not_found"));
    };
    if stack.len() >= 3 {
        return Err(err("push_limit_reached"));
    }
    let id = w.next_id("V");
    let stored = stored_view(w, &id, view, root, Some(top));
    let stored = insert(w, user, stored);
    w.modal_stacks.entry(user.to_string()).or_default().push(id);
    Ok(stored)
}

fn update(inner: &Inner, args: &Args) -> Reply {
    let view = view_arg(args)?;
    let mut w = inner.world();
    let id = match (args.str("view_id"), args.str("external_id")) {
        (Some(id), _) => id,
        (None, Some(ext)) => w
            .views
            .iter()
            .find(|(_, r)| r.view["external_id"] == ext.as_str())
            .map(|(id, _)| id.clone())
            .ok_or_else(|| err("not_found"))?,
        (None, None) => return Err(invalid("either view_id or external_id is required")),
    };
    let old = w.views.get(&id).cloned().ok_or_else(|| err("not_found"))?;
    let kind = old.view["type"].as_str().unwrap_or("modal").to_string();
    validate_view(&view, &kind)?;
    check_external_id(&w, &view, Some(&id))?;
    if let Some(hash) = args.str("hash") {
        if old.view["hash"] != hash.as_str() {
            return Err(err("hash_conflict"));
        }
    }
    let view = replace_view(&mut w, &id, &view).ok_or_else(|| err("not_found"))?;
    Ok(json!({"ok": true, "view": view}))
}

/// Replaces view `id` in place (views.update, `response_action: update`): same
/// id, new hash, input kept where block_id / action_id still match.
pub(crate) fn replace_view(w: &mut World, id: &str, view: &Value) -> Option<Value> {
    let old = w.views.get(id).cloned()?;
    let root = old.view["root_view_id"].as_str().unwrap_or(id).to_string();
    let previous = old.view["previous_view_id"].as_str().map(str::to_string);
    let stored = stored_view(w, id, view, &root, previous.as_deref());
    let mut values = initial_values(&stored["blocks"]);
    // What the person entered wins over the new view's initial values.
    for (block_id, actions) in keep_matching_values(&old.values, &stored["blocks"]) {
        values.insert(block_id, actions);
    }
    let record = ViewRecord {
        view: stored,
        user: old.user,
        values,
    };
    w.views.insert(id.to_string(), record);
    w.view_json(id)
}

/// `state.values` as Slack fills it from input elements' initial values
/// (`initial_option(s)`, `initial_value`, `initial_user`, `initial_conversation`,
/// `initial_channel`, `initial_date`, `initial_time`, `initial_date_time`), before
/// anyone types.
fn initial_values(blocks: &Value) -> Map<String, Value> {
    let mut values = Map::new();
    for block in blocks.as_array().into_iter().flatten() {
        if block["type"] != "input" {
            continue;
        }
        let (Some(block_id), element) = (block["block_id"].as_str(), &block["element"]) else {
            continue;
        };
        let Some(action_id) = element["action_id"].as_str() else {
            continue;
        };
        let kind = element["type"].as_str().unwrap_or_default();
        let state = if !element["initial_option"].is_null() {
            json!({"type": kind, "selected_option": element["initial_option"]})
        } else if let Some(text) = element["initial_value"].as_str() {
            json!({"type": kind, "value": text})
        } else if let Some(user) = element["initial_user"].as_str() {
            json!({"type": kind, "selected_user": user})
        } else if let Some(channel) = element["initial_conversation"].as_str() {
            json!({"type": kind, "selected_conversation": channel})
        } else if let Some(channel) = element["initial_channel"].as_str() {
            json!({"type": kind, "selected_channel": channel})
        } else if element["initial_options"].is_array() {
            json!({"type": kind, "selected_options": element["initial_options"]})
        } else if let Some(date) = element["initial_date"].as_str() {
            json!({"type": kind, "selected_date": date})
        } else if let Some(time) = element["initial_time"].as_str() {
            json!({"type": kind, "selected_time": time})
        } else if let Some(secs) = element["initial_date_time"].as_i64() {
            json!({"type": kind, "selected_date_time": secs})
        } else {
            continue;
        };
        values.insert(block_id.to_owned(), json!({ action_id: state }));
    }
    values
}

/// Input survives an update when the block_id / action_id pair still exists.
fn keep_matching_values(values: &Map<String, Value>, blocks: &Value) -> Map<String, Value> {
    let mut kept = Map::new();
    for block in blocks.as_array().into_iter().flatten() {
        let Some(block_id) = block["block_id"].as_str() else {
            continue;
        };
        let Some(Value::Object(actions)) = values.get(block_id) else {
            continue;
        };
        let elements: Vec<&Value> = match block["type"].as_str() {
            Some("input") => vec![&block["element"]],
            Some("actions") => block["elements"].as_array().into_iter().flatten().collect(),
            Some("section") => vec![&block["accessory"]],
            _ => vec![],
        };
        let mut keep = Map::new();
        for el in elements {
            if let Some(v) = el["action_id"].as_str().and_then(|a| actions.get(a)) {
                keep.insert(
                    el["action_id"].as_str().unwrap_or_default().into(),
                    v.clone(),
                );
            }
        }
        if !keep.is_empty() {
            kept.insert(block_id.to_string(), Value::Object(keep));
        }
    }
    kept
}

fn publish(inner: &Inner, args: &Args) -> Reply {
    let user = args
        .str("user_id")
        .ok_or_else(|| invalid("invalid `user_id`"))?;
    let view = view_arg(args)?;
    validate_view(&view, "home")?;
    let mut w = inner.world();
    if !w.ws.users.iter().any(|u| u.id == user) {
        return Err(invalid("invalid `user_id`"));
    }
    let existing = w.homes.get(&user).cloned();
    if let (Some(hash), Some(id)) = (args.str("hash"), existing.as_ref()) {
        let current = w.views.get(id).map(|r| r.view["hash"].clone());
        if current != Some(Value::from(hash)) {
            return Err(err("hash_conflict"));
        }
    }
    let id = match existing {
        Some(id) => id,
        None => w.next_id("V"),
    };
    let stored = stored_view(&w, &id, &view, &id, None);
    let stored = insert(&mut w, &user, stored);
    w.homes.insert(user, id);
    Ok(json!({"ok": true, "view": stored}))
}
