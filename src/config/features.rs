//! `[features]`: which optional features are turned on (all by default). Each one
//! turned off asks Slack for nothing (`c1bot manifest`) and answers people who try it
//! with a sentence. The activity channel is on when `[activity] channel` is set.
//!
//! Owns these keys and their one cross-check: user groups turned off while the
//! catalog names a group would leave steps without approvers, so that is an error.

use super::file::ParsedFile;
use super::{invalid, ConfigError};
use crate::catalog::Catalog;
use crate::features::{Enabled, FeatureId};

pub(super) fn features_config(
    file: &ParsedFile,
    catalog: &Catalog,
    activity_channel: bool,
) -> Result<Enabled, ConfigError> {
    let raw = &file.raw.features;
    let on = |value: Option<bool>| value.unwrap_or(true);
    let mut features = Vec::new();
    for (value, id) in [
        (raw.dm_requests, FeatureId::DmRequests),
        (raw.access_reviews, FeatureId::AccessReviews),
        (raw.campaign_channels, FeatureId::CampaignChannels),
        (raw.user_groups, FeatureId::UserGroups),
    ] {
        if on(value) {
            features.push(id);
        }
    }
    if activity_channel {
        features.push(FeatureId::ActivityChannel);
    }
    if !on(raw.user_groups) {
        if let Some(group) = first_group(catalog) {
            return Err(invalid(
                file.origin("features.user_groups"),
                format_args!("cannot be false while the catalog names user group {group}: keep user groups on, or name people instead"),
            ));
        }
    }
    Ok(Enabled::with(features))
}

/// A user group the catalog names anywhere (approvers, escalation, assignees).
fn first_group(catalog: &Catalog) -> Option<String> {
    catalog
        .resources()
        .iter()
        .flat_map(|r| &r.entitlements)
        .flat_map(|e| {
            let steps = e.steps.iter().flat_map(|s| {
                s.approvers
                    .groups
                    .iter()
                    .chain(s.escalation.iter().flat_map(|x| &x.to.groups))
            });
            steps.chain(&e.provisioner.assignees.groups)
        })
        .map(|g| g.as_str().to_owned())
        .next()
}
