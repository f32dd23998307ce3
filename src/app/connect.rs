//! Reaching Slack at start-up: the Web API client and Socket Mode options the config
//! describes, the bot-token check (`auth.test`), and `/readyz`'s view of the features
//! the token's scopes allow.

use std::sync::Arc;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::policy::NamedId;
use crate::slack::backoff::Backoff;
use crate::slack::connection::ConnectionTimings;
use crate::slack::socket::SocketOptions;
use crate::slack::web::{methods, WebApi, WebApiError, WebApiOptions};

use super::scopes;

/// Builds the Web API client the config describes.
pub fn web_api(config: &Config) -> anyhow::Result<WebApi> {
    web_api_with(config, None, None)
}

pub(super) fn web_api_with(
    config: &Config,
    metrics: Option<Metrics>,
    features: Option<&crate::features::Availability>,
) -> anyhow::Result<WebApi> {
    let mut options = WebApiOptions::new(
        config.slack.api_url.as_str(),
        config
            .slack
            .app_token
            .as_ref()
            .map(|t| t.expose().to_owned()),
        config
            .slack
            .bot_token
            .as_ref()
            .map(|t| t.expose().to_owned()),
    );
    options.metrics = metrics;
    options.on_missing_scope = features.map(scopes::hook);
    WebApi::new(options)
}

pub(super) fn socket_options(config: &Config) -> SocketOptions {
    SocketOptions {
        connections: config.slack.connections,
        timings: ConnectionTimings {
            ping_interval: config.socket.ping_interval,
            hello_timeout: config.socket.hello_timeout,
            retire_grace: SocketOptions::default().timings.retire_grace,
        },
        backoff: Backoff {
            initial: config.socket.reconnect_backoff_initial,
            max: config.socket.reconnect_backoff_max,
        },
    }
}

/// `auth.test`: a bad bot token stops start-up with a sentence that says what to fix.
/// Returns the team and the scopes the token holds (`None` when Slack did not say).
pub(super) async fn check_bot_token(
    web: &WebApi,
) -> anyhow::Result<(NamedId, Option<Vec<String>>)> {
    let response = match web.call(methods::AUTH_TEST, serde_json::json!({})).await {
        Ok(response) => response,
        Err(WebApiError::Slack { code, .. }) => anyhow::bail!(
            "Slack refused SLACK_BOT_TOKEN ({code}): copy the Bot User OAuth Token (xoxb-…) again from OAuth & Permissions, and reinstall the app if it was revoked"
        ),
        Err(other) => return Err(anyhow::Error::from(other).context("checking the bot token with auth.test")),
    };
    let who: crate::slack::web::answers::AuthTest =
        serde_json::from_value(response.body).unwrap_or_default();
    let known = |text: String| {
        if text.is_empty() {
            "?".to_owned()
        } else {
            text
        }
    };
    let team = NamedId {
        id: known(who.team_id),
        name: known(who.team),
    };
    tracing::info!(team = %team.name, bot_user = %known(who.user_id), "bot token accepted by Slack");
    Ok((team, response.scopes))
}

/// `/readyz` fails while a core scope is missing (nothing works without it).
pub(super) fn features_check(
    features: &crate::features::Availability,
) -> crate::health::ReadyCheck {
    let features = features.clone();
    Arc::new(
        move || match features.refusal(crate::features::FeatureId::Core) {
            Some(why) => Err(why),
            None => Ok(()),
        },
    )
}

/// `/readyz` names every feature waiting for a scope, while c1bot stays ready.
pub(super) fn features_notes(features: &crate::features::Availability) -> crate::health::ReadyNote {
    let features = features.clone();
    Arc::new(move || features.problems())
}
