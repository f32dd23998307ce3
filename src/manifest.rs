//! The Slack app manifest c1bot needs ("Create an app from a manifest"), built from
//! the code's own registries: the Web API methods it may call
//! ([`methods::ALL`](crate::slack::web::methods::ALL)), the events its handler
//! answers, and the slash command's configured name. Nothing here is a hand-kept list
//! of scopes, so the manifest cannot drift from what the code calls.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::app::handler::HANDLED_EVENTS;
use crate::slack::web::methods::{self, TokenKind};

/// Scopes that come from features rather than Web API methods.
const FEATURE_SCOPES: &[(&str, &str)] = &[
    ("commands", "receive the slash command"),
    (
        "im:history",
        "read the messages people write to c1bot (message.im)",
    ),
];

/// Bot scopes c1bot needs, each with the reason, sorted by scope. A method's
/// `optional_scopes` are left out: c1bot works without them (least privilege).
pub fn bot_scopes() -> Vec<(String, String)> {
    let mut scopes: BTreeSet<(String, String)> = FEATURE_SCOPES
        .iter()
        .map(|(s, why)| ((*s).to_owned(), (*why).to_owned()))
        .collect();
    for method in methods::ALL.iter().filter(|m| m.token == TokenKind::Bot) {
        for scope in method.scopes {
            scopes.insert(((*scope).to_owned(), format!("call {}", method.name)));
        }
    }
    // One line per scope, with every method that needs it.
    let mut merged: Vec<(String, String)> = Vec::new();
    for (scope, why) in scopes {
        match merged.last_mut() {
            Some((last, reasons)) if *last == scope => {
                reasons.push_str(", ");
                reasons.push_str(why.trim_start_matches("call "));
            }
            _ => merged.push((scope, why)),
        }
    }
    merged
}

/// The manifest, as JSON (Slack accepts JSON or YAML).
pub fn manifest(command: &str) -> Value {
    let scopes: Vec<String> = bot_scopes().into_iter().map(|(s, _)| s).collect();
    json!({
        "display_information": {
            "name": "c1bot",
            "description": "Just-in-time access requests, decided in Slack",
            "background_color": "#1d3557"
        },
        "features": {
            "app_home": {
                "home_tab_enabled": true,
                "messages_tab_enabled": true,
                "messages_tab_read_only_enabled": false
            },
            "bot_user": { "display_name": "c1bot", "always_online": true },
            "slash_commands": [{
                "command": command,
                "description": "Request access, see its status, get help",
                "usage_hint": "help",
                "should_escape": true
            }]
        },
        "oauth_config": { "scopes": { "bot": scopes } },
        "settings": {
            "event_subscriptions": { "bot_events": HANDLED_EVENTS },
            "interactivity": { "is_enabled": true },
            "org_deploy_enabled": false,
            "socket_mode_enabled": true,
            "token_rotation_enabled": false
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_enables_socket_mode_interactivity_and_the_home_tab() {
        let m = manifest("/c1");
        assert_eq!(m["settings"]["socket_mode_enabled"], true);
        assert_eq!(m["settings"]["interactivity"]["is_enabled"], true);
        assert_eq!(m["features"]["app_home"]["home_tab_enabled"], true);
        assert_eq!(m["features"]["slash_commands"][0]["command"], "/c1");
    }

    #[test]
    fn every_scope_a_called_method_needs_is_requested() {
        let m = manifest("/c1");
        let requested: BTreeSet<&str> = m["oauth_config"]["scopes"]["bot"]
            .as_array()
            .expect("scope list")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for method in methods::ALL.iter().filter(|m| m.token == TokenKind::Bot) {
            for scope in method.scopes {
                assert!(requested.contains(scope), "{} needs {scope}", method.name);
            }
        }
        assert!(requested.contains("commands"));
    }

    #[test]
    fn every_handled_event_is_subscribed() {
        let m = manifest("/c1");
        let events: Vec<&str> = m["settings"]["event_subscriptions"]["bot_events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(events, HANDLED_EVENTS);
    }

    #[test]
    fn optional_scopes_are_never_requested() {
        let requested: Vec<String> = bot_scopes().into_iter().map(|(s, _)| s).collect();
        for method in methods::ALL {
            for scope in method.optional_scopes {
                assert!(
                    !requested.iter().any(|r| r == scope),
                    "{} asks for optional {scope}",
                    method.name
                );
            }
        }
        assert!(requested.iter().any(|r| r == "im:history"));
    }

    #[test]
    fn no_scope_is_requested_without_a_reason() {
        assert!(bot_scopes().iter().all(|(_, why)| !why.is_empty()));
    }
}
