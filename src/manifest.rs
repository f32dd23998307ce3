//! The Slack app manifest c1bot needs ("Create an app from a manifest"), built from
//! the feature registry ([`crate::features`]): the bot scopes and events of the
//! features turned on, and the slash command's configured name. Nothing here is a
//! hand-kept list of scopes, so the manifest cannot drift from what the code calls,
//! and a feature turned off asks for nothing.

use serde_json::{json, Value};

use crate::features::Enabled;

/// Bot scopes the turned-on features need, sorted. A method's `optional_scopes` are
/// left out: c1bot works without them (least privilege).
pub fn bot_scopes(enabled: &Enabled) -> Vec<String> {
    enabled.scopes().into_keys().map(str::to_owned).collect()
}

/// The manifest, as JSON (Slack accepts JSON or YAML).
pub fn manifest(command: &str, enabled: &Enabled) -> Value {
    let scopes = bot_scopes(enabled);
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
                "messages_tab_read_only_enabled": !enabled.contains(crate::features::FeatureId::DmRequests)
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
            "event_subscriptions": { "bot_events": enabled.events() },
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
    use crate::app::handler::HANDLED_EVENTS;
    use crate::features::FeatureId;
    use crate::slack::web::methods::{self, TokenKind};

    fn requested(m: &Value) -> Vec<&str> {
        m["oauth_config"]["scopes"]["bot"]
            .as_array()
            .expect("scope list")
            .iter()
            .filter_map(Value::as_str)
            .collect()
    }

    #[test]
    fn the_manifest_enables_socket_mode_interactivity_and_the_home_tab() {
        let m = manifest("/c1", &Enabled::all());
        assert_eq!(m["settings"]["socket_mode_enabled"], true);
        assert_eq!(m["settings"]["interactivity"]["is_enabled"], true);
        assert_eq!(m["features"]["app_home"]["home_tab_enabled"], true);
        assert_eq!(m["features"]["slash_commands"][0]["command"], "/c1");
    }

    #[test]
    fn with_everything_on_every_scope_a_called_method_needs_is_requested() {
        let m = manifest("/c1", &Enabled::all());
        let requested = requested(&m);
        for method in methods::ALL.iter().filter(|m| m.token == TokenKind::Bot) {
            for scope in method.scopes {
                assert!(requested.contains(scope), "{} needs {scope}", method.name);
            }
        }
        assert!(requested.contains(&"commands"));
        let events: Vec<&str> = m["settings"]["event_subscriptions"]["bot_events"]
            .as_array()
            .expect("events")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(events, HANDLED_EVENTS);
    }

    #[test]
    fn with_only_the_core_the_manifest_asks_for_the_core_scopes_and_no_dm_messages() {
        let m = manifest("/c1", &Enabled::with([]));
        assert_eq!(requested(&m), ["chat:write", "commands", "users:read"]);
        assert_eq!(
            m["settings"]["event_subscriptions"]["bot_events"],
            json!(["app_home_opened"])
        );
        assert_eq!(
            m["features"]["app_home"]["messages_tab_read_only_enabled"],
            true
        );
    }

    #[test]
    fn without_campaign_channels_no_channel_scope_is_requested() {
        let m = manifest(
            "/c1",
            &Enabled::with([
                FeatureId::AccessReviews,
                FeatureId::DmRequests,
                FeatureId::UserGroups,
            ]),
        );
        let requested = requested(&m);
        assert!(
            requested
                .iter()
                .all(|s| !s.starts_with("channels:") && !s.starts_with("groups:")),
            "{requested:?}"
        );
        assert!(requested.contains(&"usergroups:read"));
    }

    #[test]
    fn optional_scopes_are_never_requested() {
        let requested = bot_scopes(&Enabled::all());
        for method in methods::ALL {
            for scope in method.optional_scopes {
                assert!(
                    !requested.iter().any(|r| r == scope),
                    "{} asks for optional {scope}",
                    method.name
                );
            }
        }
    }
}
