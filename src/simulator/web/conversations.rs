//! `conversations.*`: open DMs, create / invite / join / archive channels, set
//! purpose and topic, info and a cursor-paginated list. Membership and naming
//! rules follow Slack's documented errors.

use serde_json::{json, Value};

use super::{err, ApiError, Args, MethodSpec, Needs, Reply};
use crate::simulator::state::World;
use crate::simulator::workspace::Channel;
use crate::simulator::Inner;

pub(super) const METHODS: &[MethodSpec] = &[
    spec("conversations.open", "im:write", open),
    spec("conversations.create", "channels:manage", create),
    spec(
        "conversations.invite",
        "channels:manage,groups:write",
        invite,
    ),
    spec("conversations.join", "channels:join", join),
    spec("conversations.setPurpose", "channels:manage", set_purpose),
    spec("conversations.setTopic", "channels:manage", set_topic),
    spec("conversations.info", "channels:read,groups:read", info),
    spec("conversations.list", "channels:read,groups:read", list),
    spec("conversations.archive", "channels:manage", archive),
];

const fn spec(name: &'static str, scope: &'static str, handler: super::Handler) -> MethodSpec {
    MethodSpec {
        name,
        token: Needs::Bot,
        scope,
        handler,
    }
}

/// A conversation object as Slack returns it, seen by the bot.
pub(crate) fn conversation_json(c: &Channel, bot: &str) -> Value {
    let mut v = json!({
        "id": c.id,
        "created": c.created,
        "is_archived": c.is_archived,
        "is_im": c.is_im,
        "is_org_shared": false,
        "is_shared": false,
        "is_ext_shared": false,
        "is_pending_ext_shared": false,
        "context_team_id": "T0C1TEAM01",
        "updated": c.created * 1000,
    });
    if c.is_im {
        v["user"] = json!(c.im_user);
        v["is_open"] = json!(true);
        v["priority"] = json!(0);
        return v;
    }
    let extra = json!({
        "name": c.name, "name_normalized": c.name, "is_channel": !c.is_private,
        "is_group": c.is_private, "is_mpim": false, "is_private": c.is_private,
        "is_general": c.name == "general", "unlinked": 0, "creator": c.creator,
        "is_member": c.members.contains(bot), "num_members": c.members.len(),
        "topic": {"value": c.topic, "creator": "", "last_set": 0},
        "purpose": {"value": c.purpose, "creator": "", "last_set": 0},
        "previous_names": [], "pending_shared": [],
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

/// The channel named by `channel`, as the bot may see it: private channels the
/// bot is not in are `channel_not_found`, like in Slack.
fn visible<'a>(w: &'a World, args: &Args) -> Result<&'a Channel, ApiError> {
    let key = args
        .str("channel")
        .ok_or_else(|| err("channel_not_found"))?;
    let c =
        w.ws.channels
            .iter()
            .find(|c| c.id == key)
            .ok_or_else(|| err("channel_not_found"))?;
    if c.is_private && !c.is_im && !c.members.contains(&w.ws.bot_user_id) {
        return Err(err("channel_not_found"));
    }
    Ok(c)
}

fn open(inner: &Inner, args: &Args) -> Reply {
    let users = args.list("users");
    let mut w = inner.world();
    let user_id = match users.as_slice() {
        [] => {
            let c = visible(&w, args).map_err(|_| err("users_list_not_supplied"))?;
            c.im_user.clone().ok_or_else(|| err("channel_not_found"))?
        }
        [one] => one.clone(),
        // MPIMs are not simulated.
        _ => return Err(err("not_supported_by_simulator")),
    };
    let user =
        w.ws.users
            .iter()
            .find(|u| u.id == user_id)
            .ok_or_else(|| err("user_not_found"))?;
    if user.deleted {
        return Err(err("user_disabled"));
    }
    let existed =
        w.ws.channels
            .iter()
            .any(|c| c.im_user.as_deref() == Some(&user_id));
    let id = w.ensure_dm(&user_id);
    if !args.bool("return_im") {
        return Ok(json!({"ok": true, "channel": {"id": id}}));
    }
    let bot = w.ws.bot_user_id.clone();
    let c = w
        .resolve_channel(&id)
        .ok_or_else(|| err("channel_not_found"))?;
    let mut out = json!({"ok": true, "channel": conversation_json(c, &bot)});
    if existed {
        out["no_op"] = json!(true);
        out["already_open"] = json!(true);
    }
    Ok(out)
}

/// Slack's channel-name rules: lowercase letters (any script), digits, `-`, `_`;
/// at most 80 characters; not punctuation only.
pub(crate) fn validate_channel_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("invalid_name_required");
    }
    if name.chars().count() > 80 {
        return Err("invalid_name_maxlength");
    }
    let allowed = |c: char| {
        c == '-' || c == '_' || c.is_numeric() || (c.is_alphabetic() && !c.is_uppercase())
    };
    if !name.chars().all(allowed) {
        return Err("invalid_name_specials");
    }
    if name.chars().all(|c| c == '-' || c == '_') {
        return Err("invalid_name_punctuation");
    }
    Ok(())
}

fn create(inner: &Inner, args: &Args) -> Reply {
    let name = args.str("name").unwrap_or_default();
    validate_channel_name(&name).map_err(err)?;
    let mut w = inner.world();
    if w.ws.channels.iter().any(|c| c.name == name) {
        return Err(err("name_taken"));
    }
    let bot = w.ws.bot_user_id.clone();
    let id = w.next_id("C");
    let mut c = Channel::new(&id, &name, args.bool("is_private"), &[bot.as_str()]);
    c.created = chrono::Utc::now().timestamp();
    c.creator = bot.clone();
    let out = json!({"ok": true, "channel": conversation_json(&c, &bot)});
    w.ws.channels.push(c);
    Ok(out)
}

fn invite(inner: &Inner, args: &Args) -> Reply {
    let users = args.list("users");
    if users.is_empty() {
        return Err(err("no_user"));
    }
    let mut w = inner.world();
    let bot = w.ws.bot_user_id.clone();
    let c = visible(&w, args)?;
    if c.is_im {
        return Err(err("method_not_supported_for_channel_type"));
    }
    if c.is_archived {
        return Err(err("is_archived"));
    }
    if !c.members.contains(&bot) {
        return Err(err("not_in_channel"));
    }
    let mut errors = Vec::new();
    for u in &users {
        let code = match w.ws.users.iter().find(|x| &x.id == u) {
            _ if *u == bot => Some("cant_invite_self"),
            None => Some("user_not_found"),
            Some(x) if x.deleted => Some("cant_invite"),
            Some(_) if c.members.contains(u) => Some("already_in_channel"),
            // A single-channel guest is already in their one channel.
            Some(x) if x.is_ultra_restricted => Some("ura_max_channels"),
            Some(_) => None,
        };
        if let Some(code) = code {
            errors.push((u.clone(), code));
        }
    }
    if let Some((_, first)) = errors.first() {
        // UNVERIFIED: with several users, any failure fails the call and nobody
        // is invited; the per-user `errors` array follows the 2021 spec.
        let mut e = err(first);
        if users.len() > 1 {
            let list: Vec<Value> = errors
                .iter()
                .map(|(u, code)| json!({"ok": false, "error": code, "user": u}))
                .collect();
            e.extra.insert("errors".into(), Value::Array(list));
        }
        return Err(e);
    }
    let id = c.id.clone();
    let c = w.channel_mut(&id).ok_or_else(|| err("channel_not_found"))?;
    c.members.extend(users);
    Ok(json!({"ok": true, "channel": conversation_json(c, &bot)}))
}

fn join(inner: &Inner, args: &Args) -> Reply {
    let key = args
        .str("channel")
        .ok_or_else(|| err("channel_not_found"))?;
    let mut w = inner.world();
    let bot = w.ws.bot_user_id.clone();
    let c = w
        .channel_mut(&key)
        .ok_or_else(|| err("channel_not_found"))?;
    if c.is_private || c.is_im {
        return Err(err("method_not_supported_for_channel_type"));
    }
    if c.is_archived {
        return Err(err("is_archived"));
    }
    let already = !c.members.insert(bot.clone());
    let mut out = json!({"ok": true, "channel": conversation_json(c, &bot)});
    if already {
        out["warning"] = json!("already_in_channel");
        out["response_metadata"] = json!({"warnings": ["already_in_channel"]});
    }
    Ok(out)
}

fn set_text(inner: &Inner, args: &Args, key: &str) -> Reply {
    let value = args.str(key).unwrap_or_default();
    let mut w = inner.world();
    let bot = w.ws.bot_user_id.clone();
    let id = visible(&w, args)?.id.clone();
    let c = w.channel_mut(&id).ok_or_else(|| err("channel_not_found"))?;
    if c.is_archived {
        return Err(err("is_archived"));
    }
    if !c.members.contains(&bot) {
        return Err(err("not_in_channel"));
    }
    // UNVERIFIED: the length limit; 250 characters is what Slack's UI allows.
    if value.chars().count() > 250 {
        return Err(err("too_long"));
    }
    if key == "purpose" {
        c.purpose = value.clone();
    } else {
        c.topic = value.clone();
    }
    Ok(json!({"ok": true, key: value, "channel": conversation_json(c, &bot)}))
}

fn set_purpose(inner: &Inner, args: &Args) -> Reply {
    set_text(inner, args, "purpose")
}

fn set_topic(inner: &Inner, args: &Args) -> Reply {
    set_text(inner, args, "topic")
}

fn info(inner: &Inner, args: &Args) -> Reply {
    let w = inner.world();
    let c = visible(&w, args)?;
    Ok(json!({"ok": true, "channel": conversation_json(c, &w.ws.bot_user_id)}))
}

fn list(inner: &Inner, args: &Args) -> Reply {
    let types = args.str("types").unwrap_or_else(|| "public_channel".into());
    let limit = args
        .str("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(100)
        .min(1000);
    let offset = match args.str("cursor") {
        None => 0,
        Some(c) => c
            .strip_prefix("sim_")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| err("invalid_cursor"))?,
    };
    let w = inner.world();
    let bot = &w.ws.bot_user_id;
    let wanted = |c: &Channel| {
        let kind = if c.is_im {
            "im"
        } else if c.is_private {
            "private_channel"
        } else {
            "public_channel"
        };
        let visible = !c.is_private || c.members.contains(bot);
        types.split(',').any(|t| t.trim() == kind)
            && visible
            && !(args.bool("exclude_archived") && c.is_archived)
    };
    let all: Vec<&Channel> = w.ws.channels.iter().filter(|c| wanted(c)).collect();
    let page: Vec<Value> = all
        .iter()
        .skip(offset)
        .take(limit)
        .map(|c| conversation_json(c, bot))
        .collect();
    let next = if offset + limit < all.len() {
        format!("sim_{}", offset + limit)
    } else {
        String::new()
    };
    Ok(json!({"ok": true, "channels": page, "response_metadata": {"next_cursor": next}}))
}

fn archive(inner: &Inner, args: &Args) -> Reply {
    let mut w = inner.world();
    let bot = w.ws.bot_user_id.clone();
    let id = visible(&w, args)?.id.clone();
    let c = w.channel_mut(&id).ok_or_else(|| err("channel_not_found"))?;
    if c.is_im {
        return Err(err("method_not_supported_for_channel_type"));
    }
    if c.is_archived {
        return Err(err("already_archived"));
    }
    if c.name == "general" {
        return Err(err("cant_archive_general"));
    }
    if !c.members.contains(&bot) {
        return Err(err("not_in_channel"));
    }
    c.is_archived = true;
    Ok(json!({"ok": true}))
}

#[cfg(test)]
mod tests {
    use super::validate_channel_name;

    #[test]
    fn channel_names_follow_slack_rules() {
        let cases = [
            ("c1-review_q4", Ok(())),
            ("доступ-2024", Ok(())),
            ("접근", Ok(())),
            ("", Err("invalid_name_required")),
            (&"a".repeat(81), Err("invalid_name_maxlength")),
            (&"a".repeat(80), Ok(())),
            ("Review", Err("invalid_name_specials")),
            ("has space", Err("invalid_name_specials")),
            ("dot.name", Err("invalid_name_specials")),
            ("--__", Err("invalid_name_punctuation")),
        ];
        for (name, want) in cases {
            assert_eq!(validate_channel_name(name), want, "{name:?}");
        }
    }
}
