//! The bot token's scopes against the features turned on: checked at start-up,
//! watched at run time (`missing_scope` from any call), and looked at again while a
//! feature waits, so an admin's approval brings it back without a restart.
//!
//! Only the core scopes are required to start; any other missing scope switches off
//! the features that need it, with one log line per scope. Owns those log lines and
//! the recheck loop; the state is [`crate::features::Availability`].

use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::features::{feature, Availability, Change, CORE_SCOPES};
use crate::slack::web::{methods, MissingScopeHook, WebApi};
use crate::supervise::Heartbeat;

/// How often the token's scopes are read again while a feature waits.
pub const RECHECK_EVERY: Duration = Duration::from_secs(300);
/// The recheck loop beats at least this often.
pub const RECHECK_STALE_AFTER: Duration = Duration::from_secs(900);

/// Start-up: refuses a token without a core scope; otherwise the features lacking a
/// scope wait (logged). `None`: Slack did not list the scopes, and `missing_scope`
/// answers will say instead.
pub fn check_at_start(
    availability: &Availability,
    granted: Option<&[String]>,
) -> anyhow::Result<()> {
    let Some(granted) = granted else {
        tracing::warn!("Slack did not say which scopes the bot token has (no x-oauth-scopes header); features are switched off only when Slack answers missing_scope");
        return Ok(());
    };
    let core_missing: Vec<&str> = CORE_SCOPES
        .iter()
        .copied()
        .filter(|s| !granted.iter().any(|g| g == s))
        .collect();
    if !core_missing.is_empty() {
        anyhow::bail!(
            "the bot token lacks scopes c1bot cannot run without: {}. Add them under OAuth & Permissions → Bot Token Scopes (or recreate the app from `c1bot manifest`), reinstall the app to the workspace (an admin may need to approve it), then restart c1bot",
            core_missing.join(", ")
        );
    }
    log(&availability.granted(granted));
    Ok(())
}

/// One line per scope that went missing or came back.
pub fn log(changes: &[Change]) {
    for change in changes {
        let names: Vec<&str> = change.features.iter().map(|f| feature(*f).name).collect();
        let features = names.join(", ");
        if change.missing {
            tracing::warn!(scope = change.scope, %features, "the bot token lacks scope {}: {features} stay off until a workspace admin approves it (everything else works)", change.scope);
        } else {
            tracing::info!(scope = change.scope, %features, "scope {} approved: {features} work again", change.scope);
        }
    }
}

/// For the Web API client: a `missing_scope` answer switches off what needs it.
pub fn hook(availability: &Availability) -> MissingScopeHook {
    let availability = availability.clone();
    MissingScopeHook(std::sync::Arc::new(move |needed: &str| {
        log(&availability.scope_missing(needed));
    }))
}

/// The supervised loop: while a feature waits, reads the token's scopes again every
/// [`RECHECK_EVERY`].
pub async fn recheck(
    web: WebApi,
    availability: Availability,
    beat: Heartbeat,
    stop: CancellationToken,
) {
    while !stop.is_cancelled() {
        beat.beat();
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RECHECK_EVERY) => {}
        }
        if !availability.any_waiting() {
            continue;
        }
        match web.call(methods::AUTH_TEST, json!({})).await {
            Ok(response) => {
                if let Some(granted) = response.scopes {
                    log(&availability.granted(&granted));
                }
            }
            Err(error) => tracing::warn!(%error, "could not read the bot token's scopes again"),
        }
    }
}
