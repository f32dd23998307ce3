//! `conversations.history`: a conversation's messages newest first, as Slack pages
//! them (`oldest` / `latest` / `inclusive`, `limit`, an opaque `cursor`, `has_more`,
//! `response_metadata.next_cursor`), with each message's `metadata` when
//! `include_all_metadata` is set. The history scope must match the conversation's
//! type (`im:history`, `channels:history`, `groups:history`), else `missing_scope`.

use serde_json::{json, Value};

use super::{err, ApiError, Args, MethodSpec, Needs, Reply};
use crate::simulator::workspace::Channel;
use crate::simulator::Inner;

pub(super) const METHODS: &[MethodSpec] = &[MethodSpec {
    name: "conversations.history",
    token: Needs::Bot,
    scope: "channels:history,groups:history,im:history,mpim:history",
    handler: history,
}];

const CURSOR_PREFIX: &str = "bmV4dF90czo";

/// A ts as a sortable number pair (`"1763630100.000200"` → `(1763630100, 200)`).
fn ts_key(ts: &str) -> Option<(u64, u64)> {
    let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
    Some((secs.parse().ok()?, micros.parse().ok()?))
}

/// The scope reading `c` takes.
fn scope_for(c: &Channel) -> &'static str {
    if c.is_im {
        "im:history"
    } else if c.is_private {
        "groups:history"
    } else {
        "channels:history"
    }
}

pub(super) fn missing_scope(needed: &str, granted: &[String]) -> ApiError {
    let mut e = err("missing_scope");
    e.extra.insert("needed".into(), json!(needed));
    e.extra.insert("provided".into(), json!(granted.join(",")));
    e
}

fn history(inner: &Inner, args: &Args) -> Reply {
    let key = args
        .str("channel")
        .ok_or_else(|| err("channel_not_found"))?;
    let parse = |name: &str, default: (u64, u64)| match args.str(name) {
        None => Ok(default),
        Some(ts) => ts_key(&ts).ok_or_else(|| err(&format!("invalid_ts_{name}"))),
    };
    let oldest = parse("oldest", (0, 0))?;
    let latest = parse("latest", (u64::MAX, 0))?;
    let inclusive = args.bool("inclusive");
    let limit = args
        .str("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(100)
        .min(999);
    let below = match args.str("cursor") {
        None => None,
        Some(cursor) => Some(
            cursor
                .strip_prefix(CURSOR_PREFIX)
                .and_then(ts_key)
                .ok_or_else(|| err("invalid_cursor"))?,
        ),
    };
    let w = inner.world();
    let bot = &w.ws.bot_user_id;
    let c =
        w.ws.channels
            .iter()
            .find(|c| c.id == key)
            .ok_or_else(|| err("channel_not_found"))?;
    let member = c.members.contains(bot);
    if c.is_private && !member {
        return Err(err("channel_not_found"));
    }
    let granted = &w.scopes;
    let needed = scope_for(c);
    if !granted.iter().any(|g| g == needed) {
        return Err(missing_scope(needed, granted));
    }
    if !member {
        return Err(err("not_in_channel"));
    }
    let in_range = |ts: (u64, u64)| {
        let after = if inclusive { ts >= oldest } else { ts > oldest };
        let before = if inclusive { ts <= latest } else { ts < latest };
        after && before && below.is_none_or(|b| ts <= b)
    };
    let mut newest_first: Vec<(&crate::simulator::Message, (u64, u64))> = w
        .messages
        .get(&c.id)
        .into_iter()
        .flatten()
        .filter(|m| m.thread_ts.as_ref().is_none_or(|t| *t == m.ts))
        .filter_map(|m| Some((m, ts_key(&m.ts)?)))
        .filter(|(_, ts)| in_range(*ts))
        .collect();
    newest_first.reverse();
    let include_metadata = args.bool("include_all_metadata");
    let page: Vec<Value> = newest_first
        .iter()
        .take(limit)
        .map(|(m, _)| {
            let mut json = m.to_json(&w.ws.team_id, &w.ws.bot_id, bot);
            if m.user == *bot {
                json["app_id"] = json!(w.ws.app_id);
            }
            if let (true, Some(metadata)) = (include_metadata, &m.metadata) {
                json["metadata"] = metadata.clone();
            }
            json
        })
        .collect();
    let next = newest_first.get(limit).map(|(m, _)| m.ts.clone());
    let mut out = json!({
        "ok": true,
        "messages": page,
        "has_more": next.is_some(),
        "pin_count": 0,
        "channel_actions_ts": null,
        "channel_actions_count": 0,
    });
    if let Some(ts) = next {
        out["response_metadata"] = json!({"next_cursor": format!("{CURSOR_PREFIX}{ts}")});
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::ts_key;

    #[test]
    fn timestamps_compare_as_numbers() {
        assert!(ts_key("9.000001") < ts_key("10.000000"));
        assert!(ts_key("10.000001") > ts_key("10.000000"));
        assert_eq!(ts_key("12"), Some((12, 0)));
        assert_eq!(ts_key("x.1"), None);
    }
}
