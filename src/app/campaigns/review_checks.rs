//! Who may review what, asked before a campaign decision commits: policy's
//! `review` for each person assigned items, `review_own_access` for a reviewer's own
//! items, and whether an item's access is still there to decide (an item whose
//! grant ended during the review is closed first).

use serde_json::json;

use crate::app::campaigns::commit::{self, commit, Acting};
use crate::app::campaigns::stored;
use crate::app::shared::services::Services;
use crate::campaign::{Actor, CampaignAction};
use crate::policy::Action as PolicyAction;
use crate::workflow::grant::GrantState;

/// Before a reviewer's Certify, Revoke or Certify all: closes the undecided items it
/// covers whose access ended during the review (the grant is no longer active), so
/// nobody certifies access that is gone or revokes it again. One read per item.
pub(super) async fn close_ended(
    services: &Services,
    user: &str,
    id: &str,
    action: &CampaignAction,
) -> Result<(), String> {
    let stored = stored(services, id).await?;
    let covered: Vec<&crate::campaign::Item> = match action {
        CampaignAction::Certify { item } | CampaignAction::Revoke { item } => {
            stored.data.item(*item).into_iter().collect()
        }
        CampaignAction::CertifyAll => stored
            .data
            .items
            .iter()
            .filter(|i| i.reviewer.as_deref() == Some(user))
            .collect(),
        _ => return Ok(()),
    };
    let mut ended = Vec::new();
    for item in covered.into_iter().filter(|i| !i.is_decided()) {
        let crate::campaign::Source::Grant { request_id } = &item.source else {
            continue;
        };
        let active = match services.load_request(request_id).await {
            Ok(found) => {
                found.is_some_and(|r| r.data.grant.is_some_and(|g| g.state == GrantState::Active))
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read a reviewed request");
                return Err("c1bot could not check that access just now; try again.".into());
            }
        };
        if !active {
            ended.push(item.id);
        }
    }
    if ended.is_empty() {
        return Ok(());
    }
    let acting =
        Acting::new(Actor::new("c1bot"), "campaign.access_ended").detail(json!({ "items": ended }));
    match commit(
        services,
        id,
        CampaignAction::CloseEnded { items: ended },
        &acting,
    )
    .await
    {
        Ok(_) | Err(commit::Failure::Refused(_)) => Ok(()),
        Err(failure) => Err(failure.message(id)),
    }
}

/// The person acting, with policy's word on reviewing their own access where the
/// action would do that (asked per resource; *Certify all* needs it for every one).
pub(super) async fn actor_for(
    services: &Services,
    user: &str,
    id: &str,
    action: &CampaignAction,
) -> Result<Actor, String> {
    let stored = stored(services, id).await?;
    let own: Vec<&crate::campaign::Item> = match action {
        CampaignAction::Certify { item } | CampaignAction::Revoke { item } => {
            stored.data.item(*item).into_iter().collect()
        }
        CampaignAction::CertifyAll => stored
            .data
            .items
            .iter()
            .filter(|i| i.reviewer.as_deref() == Some(user) && !i.is_decided())
            .collect(),
        _ => Vec::new(),
    };
    let own: Vec<_> = own.into_iter().filter(|i| i.beneficiary == user).collect();
    if own.is_empty() {
        return Ok(Actor::new(user));
    }
    let allowed = may_review_own(services, user, &own).await?;
    Ok(if allowed {
        Actor::new(user).allowed_self_review()
    } else {
        Actor::new(user)
    })
}

/// `items` with the reviewers policy refuses (`review`: the shipped policy refuses
/// guests) taken off, so the owners are told to reassign those items.
pub(super) async fn reviewers_policy_allows(
    services: &Services,
    mut items: Vec<crate::campaign::Item>,
) -> Result<Vec<crate::campaign::Item>, String> {
    let reviewers: std::collections::BTreeSet<String> =
        items.iter().filter_map(|i| i.reviewer.clone()).collect();
    let mut refused = std::collections::BTreeSet::new();
    for reviewer in reviewers {
        if let Err(why) = may_review(services, &reviewer).await? {
            tracing::info!(reviewer = %reviewer, why = %why, "policy refuses a reviewer; their items wait for reassignment");
            refused.insert(reviewer);
        }
    }
    for item in &mut items {
        if item.reviewer.as_ref().is_some_and(|r| refused.contains(r)) {
            item.reviewer = None;
        }
    }
    Ok(items)
}

/// Policy's `review` for `user`: `Ok(Err(reasons))` when refused; `Err` when the
/// profile cannot be read.
pub(super) async fn may_review(
    services: &Services,
    user: &str,
) -> Result<Result<(), String>, String> {
    let person = services.directory.person(user).await.map_err(|error| {
        tracing::warn!(%error, "cannot read a profile");
        "c1bot could not check a reviewer's Slack account just now; try again in a moment."
            .to_owned()
    })?;
    let decision = services.decide(PolicyAction::Review, &person, "", None, None);
    Ok(if decision.allowed {
        Ok(())
    } else {
        Err(decision.reasons.join("; "))
    })
}

/// Policy's `review_own_access` for `user` on each of these items' resources.
pub(super) async fn may_review_own(
    services: &Services,
    user: &str,
    items: &[&crate::campaign::Item],
) -> Result<bool, String> {
    let person = services.directory.person(user).await.map_err(|error| {
        tracing::warn!(%error, "cannot read a profile");
        "c1bot could not check your Slack account just now; try again in a moment.".to_owned()
    })?;
    Ok(items.iter().all(|item| {
        let target = services.catalog.resource(&item.resource).and_then(|r| {
            r.entitlements
                .iter()
                .find(|e| e.id.as_str() == item.entitlement)
                .map(|e| (r, e))
        });
        target.is_some_and(|target| {
            services
                .decide(
                    PolicyAction::ReviewOwnAccess,
                    &person,
                    "",
                    Some(target),
                    None,
                )
                .allowed
        })
    }))
}
