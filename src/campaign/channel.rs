//! The campaign's channel: attach, deactivate, activate, remove, who is invited, and
//! when the status message may be posted.
//!
//! Architecture invariant: after a campaign completes, nothing here returns an
//! effect that posts to or invites into its channel; [`final_status`] is the one
//! exception, called once by *End*. Owner checks are the caller's ([`super::workflow`]).

use std::collections::BTreeSet;

use super::model::{Campaign, CampaignChannel, CampaignState, UserId};
use super::refusal::Refusal;
use super::workflow::Effect;

pub(super) fn attach(
    next: &mut Campaign,
    id: String,
    name: String,
    created: bool,
) -> Result<Vec<Effect>, Refusal> {
    not_completed(next)?;
    if let Some(existing) = &next.channel {
        return Err(Refusal::ChannelAlreadyAttached {
            name: existing.name.clone(),
        });
    }
    next.channel = Some(CampaignChannel {
        id,
        name,
        created_by_c1bot: created,
        active: true,
        invited: BTreeSet::new(),
    });
    next.channels_attached += 1;
    let mut effects: Vec<Effect> = invite_missing(next).into_iter().collect();
    effects.extend(status_update(next));
    Ok(effects)
}

pub(super) fn deactivate(next: &mut Campaign) -> Result<Vec<Effect>, Refusal> {
    let channel = next.channel.as_mut().ok_or(Refusal::NoChannel)?;
    if !channel.active {
        return Err(Refusal::ChannelAlreadyInactive);
    }
    channel.active = false;
    // One last edit, so the status message does not read "Running" forever.
    let id = channel.id.clone();
    Ok(last_word(next, id))
}

pub(super) fn activate(next: &mut Campaign) -> Result<Vec<Effect>, Refusal> {
    not_completed(next)?;
    let channel = next.channel.as_mut().ok_or(Refusal::NoChannel)?;
    if channel.active {
        return Err(Refusal::ChannelAlreadyActive);
    }
    channel.active = true;
    // Reviewers assigned while it was inactive were not invited then.
    let mut effects: Vec<Effect> = invite_missing(next).into_iter().collect();
    effects.extend(status_update(next));
    Ok(effects)
}

/// c1bot stays in the channel (leaving is the channel's members' call); it only
/// stops reporting there.
pub(super) fn remove(next: &mut Campaign) -> Result<Vec<Effect>, Refusal> {
    let channel = next.channel.take().ok_or(Refusal::NoChannel)?;
    Ok(last_word(next, channel.id))
}

/// The status message's last edit in `channel` when c1bot stops posting there (it
/// then says so), unless the campaign has completed and said its final word.
fn last_word(campaign: &Campaign, channel: String) -> Vec<Effect> {
    if is_completed(campaign) {
        return Vec::new();
    }
    vec![Effect::UpdateStatusMessage { channel }]
}

/// Invites owners and reviewers not yet invited, when the channel is posting.
pub(super) fn invite_missing(campaign: &mut Campaign) -> Option<Effect> {
    if is_completed(campaign) {
        return None;
    }
    let wanted: BTreeSet<UserId> = campaign
        .owners
        .iter()
        .cloned()
        .chain(campaign.reviewers())
        .collect();
    let channel = campaign.channel.as_mut().filter(|c| c.active)?;
    let users: Vec<UserId> = wanted.difference(&channel.invited).cloned().collect();
    if users.is_empty() {
        return None;
    }
    channel.invited.extend(users.iter().cloned());
    Some(Effect::InviteToChannel {
        channel: channel.id.clone(),
        users,
    })
}

/// The status message is redrawn while the campaign is not completed.
pub(super) fn status_update(campaign: &Campaign) -> Option<Effect> {
    if is_completed(campaign) {
        return None;
    }
    final_status(campaign)
}

/// The one update after completion: the status message reads Completed.
pub(super) fn final_status(campaign: &Campaign) -> Option<Effect> {
    campaign
        .live_channel()
        .map(|c| Effect::UpdateStatusMessage {
            channel: c.id.clone(),
        })
}

fn is_completed(campaign: &Campaign) -> bool {
    matches!(campaign.state, CampaignState::Completed { .. })
}

fn not_completed(campaign: &Campaign) -> Result<(), Refusal> {
    if is_completed(campaign) {
        Err(Refusal::CampaignCompleted)
    } else {
        Ok(())
    }
}
