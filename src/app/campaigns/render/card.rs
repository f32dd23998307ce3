//! The owners' card (its *Start* / *End*, *Reassign* and channel buttons) and the
//! status message in the campaign's channel, which both say what the campaign covers.

use super::message;
use crate::app::shared::services::Services;
use crate::campaign::progress::status_line;
use crate::campaign::{Campaign, CampaignState};
use crate::controls::CampaignButton;
use crate::features::{FeatureId, Status};
use crate::store::OutboxMessage;
use crate::templates::Vars;

/// The card every owner has in their DM (posted when `fresh`, else edited).
pub(in crate::app::campaigns) fn owner_cards(
    services: &Services,
    campaign: &Campaign,
    fresh: bool,
) -> anyhow::Result<Vec<OutboxMessage>> {
    let button = |action: CampaignButton, label: &str| {
        Vars::new()
            .text("action", action.id())
            .text("label", label)
            .text("campaign_id", &campaign.id)
    };
    let mut buttons = match campaign.state {
        CampaignState::Draft => vec![button(CampaignButton::Start, "Start")],
        CampaignState::Running { .. } => vec![
            button(CampaignButton::End, "End"),
            button(CampaignButton::Reassign, "Reassign"),
        ],
        CampaignState::Completed { .. } => Vec::new(),
    };
    let completed = matches!(campaign.state, CampaignState::Completed { .. });
    match (&campaign.channel, completed) {
        (_, true) => {}
        // Turned off in the config: no button. Waiting for a scope: the button stays,
        // and says so when clicked.
        (None, false) => {
            if services.features.status(FeatureId::CampaignChannels) != Status::Off {
                buttons.push(button(CampaignButton::AddChannel, "Add channel"));
            }
        }
        (Some(channel), false) => {
            buttons.push(if channel.active {
                button(CampaignButton::ChannelDeactivate, "Deactivate channel")
            } else {
                button(CampaignButton::ChannelActivate, "Activate channel")
            });
            buttons.push(button(CampaignButton::ChannelRemove, "Remove channel"));
        }
    }
    let channel = match &campaign.channel {
        None => Vars::new()
            .text("channel", "None")
            .text("channel_state", ""),
        Some(c) => Vars::new().mention("channel", &c.id).text(
            "channel_state",
            if c.active {
                ""
            } else {
                " (deactivated: nothing is posted)"
            },
        ),
    };
    let state = match campaign.state {
        CampaignState::Draft => "Draft: not started",
        CampaignState::Running { .. } => "Running",
        CampaignState::Completed { .. } => "Completed",
    };
    let vars = channel
        .text("campaign_id", &campaign.id)
        .text("name", &campaign.name)
        .text("scope", scope_line(services, campaign))
        .text("state", state)
        .text("progress", status_line(campaign))
        .date("due", campaign.due.timestamp())
        .mentions("owners", &campaign.owners)
        .list("buttons", buttons);
    let card = services.templates().render("campaign_card", &vars)?;
    Ok(campaign
        .owners
        .iter()
        .map(|owner| {
            message(
                card.clone(),
                owner,
                format!("{}/owner/{owner}", campaign.id),
                fresh,
            )
        })
        .collect())
}

/// "Reviews access to AWS production, ReadOnly on Grafana, the Production space".
fn scope_line(services: &Services, campaign: &Campaign) -> String {
    let catalog = &services.catalog;
    let resource_name = |id: &str| {
        catalog
            .resource(id)
            .map_or(id.to_owned(), |r| r.name.clone())
    };
    let scope = &campaign.scope;
    let mut parts: Vec<String> = scope.resources.iter().map(|id| resource_name(id)).collect();
    parts.extend(scope.entitlements.iter().map(|(resource, entitlement)| {
        let name = catalog
            .resource(resource)
            .and_then(|r| r.entitlements.iter().find(|e| e.id.as_str() == entitlement))
            .map_or(entitlement.clone(), |e| e.name.clone());
        format!("{name} on {}", resource_name(resource))
    }));
    parts.extend(scope.spaces.iter().map(|id| {
        let name = catalog.space(id).map_or(id.clone(), |s| s.name.clone());
        format!("the {name} space")
    }));
    format!("Reviews access to {}", parts.join(", "))
}

/// The status message in the campaign's channel (posted when `fresh`, else edited),
/// under the key of the channel's attachment so a re-added channel gets its own.
pub(in crate::app::campaigns) fn status_message(
    services: &Services,
    campaign: &Campaign,
    channel: &str,
    fresh: bool,
) -> anyhow::Result<OutboxMessage> {
    let state = match campaign.state {
        CampaignState::Draft => "Not started yet",
        CampaignState::Running { .. } => "Running",
        CampaignState::Completed { .. } => "Completed",
    };
    // After Deactivate or Remove this is the message's last edit: say so.
    let state = match &campaign.channel {
        Some(posting) if posting.id == channel && posting.active => state.to_owned(),
        Some(paused) if paused.id == channel => {
            format!("{state} · updates paused: an owner deactivated this channel")
        }
        _ => format!("{state} · updates stopped: this channel was removed from the review"),
    };
    let vars = Vars::new()
        .text("campaign_id", &campaign.id)
        .text("name", &campaign.name)
        .text("scope", scope_line(services, campaign))
        .text("state", state)
        .text("progress", status_line(campaign))
        .date("due", campaign.due.timestamp())
        .text("reminders", campaign.reminders.to_string())
        .mentions("owners", &campaign.owners)
        .date("updated_at", services.now().timestamp());
    let card = services.templates().render("campaign_status", &vars)?;
    let key = format!("{}/status/{}", campaign.id, campaign.channels_attached);
    Ok(message(card, channel, key, fresh))
}
