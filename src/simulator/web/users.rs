//! `users.info`, `users.lookupByEmail`, `usergroups.list` and
//! `usergroups.users.list`: read-only views of the workspace's people.

use serde_json::{json, Value};

use super::{err, Args, MethodSpec, Needs, Reply};
use crate::simulator::workspace::User;
use crate::simulator::Inner;

pub(super) const METHODS: &[MethodSpec] = &[
    MethodSpec {
        name: "users.info",
        token: Needs::Bot,
        scope: "users:read",
        handler: info,
    },
    MethodSpec {
        name: "users.lookupByEmail",
        token: Needs::Bot,
        scope: "users:read.email",
        handler: lookup_by_email,
    },
    MethodSpec {
        name: "usergroups.list",
        token: Needs::Bot,
        scope: "usergroups:read",
        handler: groups_list,
    },
    MethodSpec {
        name: "usergroups.users.list",
        token: Needs::Bot,
        scope: "usergroups:read",
        handler: group_users,
    },
];

/// The full user object (protocol doc §2.3 users.info).
pub(crate) fn user_json(team_id: &str, u: &User) -> Value {
    json!({
        "id": u.id,
        "team_id": team_id,
        "name": u.name,
        "deleted": u.deleted,
        "color": "9f69e7",
        "real_name": u.real_name,
        "tz": u.tz,
        "tz_label": u.tz_label,
        "tz_offset": u.tz_offset,
        "is_admin": u.is_admin,
        "is_owner": u.is_owner,
        "is_primary_owner": u.is_primary_owner,
        "is_restricted": u.is_restricted,
        "is_ultra_restricted": u.is_ultra_restricted,
        "is_bot": false,
        "is_app_user": false,
        "updated": 1_700_000_000,
        "profile": {
            "real_name": u.real_name,
            "real_name_normalized": u.real_name,
            "display_name": u.name,
            "display_name_normalized": u.name,
            "email": u.email,
            "team": team_id,
            "image_48": format!("https://avatars.example/{}_48.png", u.id),
        },
    })
}

fn info(inner: &Inner, args: &Args) -> Reply {
    let id = args.str("user").ok_or_else(|| err("user_not_found"))?;
    let w = inner.world();
    let user =
        w.ws.users
            .iter()
            .find(|u| u.id == id)
            .ok_or_else(|| err("user_not_found"))?;
    Ok(json!({"ok": true, "user": user_json(&w.ws.team_id, user)}))
}

fn lookup_by_email(inner: &Inner, args: &Args) -> Reply {
    let email = args.str("email").ok_or_else(|| err("users_not_found"))?;
    let w = inner.world();
    let user =
        w.ws.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(&email))
            .ok_or_else(|| err("users_not_found"))?;
    Ok(json!({"ok": true, "user": user_json(&w.ws.team_id, user)}))
}

fn groups_list(inner: &Inner, args: &Args) -> Reply {
    let w = inner.world();
    let include_users = args.bool("include_users");
    let groups: Vec<Value> =
        w.ws.groups
            .iter()
            .map(|g| {
                let mut v = json!({
                    "id": g.id, "team_id": w.ws.team_id, "is_usergroup": true, "is_subteam": true,
                    "name": g.name, "handle": g.handle, "description": "", "is_external": false,
                    "date_create": 1_700_000_000, "date_update": 1_700_000_000, "date_delete": 0,
                    "created_by": "U0FRANK001", "user_count": g.users.len(),
                });
                if include_users {
                    v["users"] = json!(g.users);
                }
                v
            })
            .collect();
    Ok(json!({"ok": true, "usergroups": groups}))
}

fn group_users(inner: &Inner, args: &Args) -> Reply {
    let id = args
        .str("usergroup")
        .ok_or_else(|| err("invalid_arguments"))?;
    let w = inner.world();
    // UNVERIFIED: Slack's error code for an unknown user group.
    let group =
        w.ws.groups
            .iter()
            .find(|g| g.id == id)
            .ok_or_else(|| err("no_such_subteam"))?;
    let include_disabled = args.bool("include_disabled");
    let users: Vec<&String> = group
        .users
        .iter()
        .filter(|id| include_disabled || w.ws.users.iter().any(|u| &u.id == *id && !u.deleted))
        .collect();
    Ok(json!({"ok": true, "users": users}))
}
