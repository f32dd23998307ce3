//! The campaign buttons: those that open a modal (*Add channel*, *Reassign*) and
//! those that decide, journaled, with the access a campaign collects when it starts.

use std::collections::BTreeMap;

use super::commit::{self, commit, Acting};
use super::review_checks::{actor_for, close_ended, may_review_own, reviewers_policy_allows};
use super::{channel, reassign, stored};
use crate::app::shared::services::Services;
use crate::campaign::items::{self, ActiveGrant, Reviewers, Sources, StandingMember};
use crate::campaign::{Campaign, CampaignAction, ReviewerRule};
use crate::controls::CampaignButton;
use crate::store::Change;
use crate::workflow::grant::GrantState;

/// A campaign button that opens a modal (*Add channel*, *Reassign*), after the ack.
/// A refusal is answered through the click's `response_url` (see [`Services::answer`]).
pub fn open(
    services: &Services,
    sender: crate::app::shared::journaled::Sender,
    trigger_id: String,
    button: CampaignButton,
    value: String,
) {
    let services = services.clone();
    tokio::spawn(async move {
        let user = sender.user.clone();
        let id = value.split_once(':').map_or(value.as_str(), |(id, _)| id);
        let opened = match button {
            CampaignButton::AddChannel => {
                channel::open_modal(&services, &user, &trigger_id, id).await
            }
            CampaignButton::Reassign => {
                reassign::open_modal(&services, &user, &trigger_id, id).await
            }
            // Deciding buttons are journaled (`campaigns::act`), never opened here.
            _ => Err("That button is not c1bot's.".into()),
        };
        if let Err(message) = opened {
            services.answer(&sender, &message);
        }
    });
}

/// A campaign button that decides (value: `CMP-1`, or `CMP-1:<item>` on an item),
/// journaled: `also` (the journal row's completion) commits with the action.
pub async fn act(
    services: &Services,
    user: &str,
    trigger_id: &str,
    button: CampaignButton,
    value: &str,
    also: &Change,
) -> crate::app::shared::journaled::Outcome {
    use crate::app::shared::journaled::Outcome;
    let (id, item) = match value.split_once(':') {
        Some((id, item)) => (id, item.parse::<u32>().ok()),
        None => (value, None),
    };
    let action = match (button, item) {
        (CampaignButton::Start, _) => {
            let stored = match stored(services, id).await {
                Ok(stored) => stored,
                Err(message) => return Outcome::Refused(message),
            };
            match collect(services, &stored.data).await {
                Ok(items) => match reviewers_policy_allows(services, items).await {
                    Ok(items) => CampaignAction::Start { items },
                    Err(message) => return Outcome::Retry(message),
                },
                Err(message) => return Outcome::Retry(message),
            }
        }
        (CampaignButton::End, _) => CampaignAction::End,
        (CampaignButton::CertifyAll, _) => CampaignAction::CertifyAll,
        (CampaignButton::Certify, Some(item)) => CampaignAction::Certify { item },
        (CampaignButton::Revoke, Some(item)) => CampaignAction::Revoke { item },
        (CampaignButton::ChannelDeactivate, _) => CampaignAction::DeactivateChannel,
        (CampaignButton::ChannelActivate, _) => CampaignAction::ActivateChannel,
        (CampaignButton::ChannelRemove, _) => CampaignAction::RemoveChannel,
        (CampaignButton::MarkRemoved, Some(item)) => CampaignAction::MarkRemoved { item },
        (CampaignButton::AddChannel | CampaignButton::Reassign, _) => {
            let sender = crate::app::shared::journaled::Sender {
                user: user.to_owned(),
                channel: None,
                response_url: None,
            };
            open(
                services,
                sender,
                trigger_id.to_owned(),
                button,
                value.to_owned(),
            );
            return Outcome::Nothing;
        }
        // An item's button whose value names no item.
        (CampaignButton::Certify | CampaignButton::Revoke | CampaignButton::MarkRemoved, None) => {
            return Outcome::Refused("That button is not c1bot's.".into())
        }
    };
    if let Err(message) = close_ended(services, user, id, &action).await {
        return Outcome::Retry(message);
    }
    let actor = match actor_for(services, user, id, &action).await {
        Ok(actor) => actor,
        Err(message) => return Outcome::Refused(message),
    };
    let audit = format!("campaign.{}", button.id().trim_start_matches("campaign_"));
    match commit(services, id, action, &Acting::new(actor, audit).also(also)).await {
        Ok(_) => Outcome::Committed,
        Err(failure @ commit::Failure::Refused(_)) => Outcome::Refused(failure.message(id)),
        Err(failure) => Outcome::Retry(failure.message(id)),
    }
}

/// The access in the campaign's scope now: active grants and the catalog's members.
async fn collect(
    services: &Services,
    campaign: &Campaign,
) -> Result<Vec<crate::campaign::Item>, String> {
    // Only the resources the scope can reach are read, through the index of active
    // access: a review costs what is in it, not what the store holds.
    let scope = &campaign.scope;
    let mut grants = Vec::new();
    for resource in services.catalog.resources() {
        let id = resource.id.as_str();
        let reachable = scope.resources.iter().any(|r| r == id)
            || scope.entitlements.iter().any(|(r, _)| r == id)
            || scope.spaces.iter().any(|s| s == resource.space.as_str());
        if !reachable {
            continue;
        }
        for r in crate::app::shared::request_index::active_on(services, id).await {
            if r.grant
                .as_ref()
                .is_some_and(|g| g.state == GrantState::Active)
            {
                grants.push(ActiveGrant {
                    request_id: r.id,
                    beneficiary: r.beneficiary,
                    resource: r.resource,
                    entitlement: r.entitlement,
                });
            }
        }
    }
    let mut sources = Sources {
        grants,
        ..Sources::default()
    };
    for resource in services.catalog.resources() {
        let id = resource.id.as_str().to_owned();
        sources
            .space_of
            .insert(id.clone(), resource.space.as_str().to_owned());
        sources.owners_of.insert(
            id.clone(),
            resource.owners.iter().map(|o| o.to_string()).collect(),
        );
        for entitlement in &resource.entitlements {
            for member in &entitlement.members {
                sources.standing.push(StandingMember {
                    beneficiary: member.to_string(),
                    resource: id.clone(),
                    entitlement: entitlement.id.as_str().to_owned(),
                });
            }
        }
    }
    let mut members = BTreeMap::new();
    if let ReviewerRule::Groups(groups) = &campaign.reviewers {
        for group in groups {
            let found = services.directory.group_members(group).await.map_err(|error| {
                tracing::warn!(%error, group, "cannot read a user group");
                format!("c1bot could not read the members of <!subteam^{group}> just now; nothing started. Try again in a moment.")
            })?;
            members.insert(group.clone(), found);
        }
    }
    let reviewers = Reviewers::resolve(&campaign.reviewers, &members);
    let mut collected = items::collect(&campaign.scope, &reviewers, &sources);
    // Where only the person with the access could review it, they get it only if
    // policy lets them; otherwise it waits unassigned for an owner to reassign.
    for item in collected.iter_mut().filter(|i| i.is_self_review()) {
        if !may_review_own(services, &item.beneficiary, &[item]).await? {
            item.reviewer = None;
        }
    }
    Ok(collected)
}
