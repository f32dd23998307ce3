//! The campaign state machine: `(campaign, action, actor, now) -> (next, effects)` or
//! a refusal. Draft -> Running -> Completed; reviews, reassignment and reminders
//! while running. Channel actions live in [`super::channel`].
//!
//! Pure, like [`crate::workflow::grant`]: the caller collects the items at start
//! ([`super::items::collect`]), asks policy whether the actor may review their own
//! access, and commits the next state with its messages in one transaction expecting
//! the revision it read, so of two clicks on one item exactly one counts.

use chrono::{DateTime, Utc};

use super::channel;
use super::model::{Campaign, CampaignState, Item, Review, UserId, Verdict};
use super::progress::{progress, status_line, verdicts, waiting_reviewers};
use super::refusal::Refusal;

/// Who acts, with what policy said about them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user: UserId,
    /// Policy allows this person to review their own access. For *Certify all* it
    /// covers every own item the action would certify; without it those are skipped.
    pub self_review_allowed: bool,
}

impl Actor {
    pub fn new(user: impl Into<UserId>) -> Self {
        Self {
            user: user.into(),
            self_review_allowed: false,
        }
    }

    pub fn allowed_self_review(mut self) -> Self {
        self.self_review_allowed = true;
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignAction {
    /// Begin reviewing `items` (from [`super::items::collect`], at this moment).
    Start {
        items: Vec<Item>,
    },
    Certify {
        item: u32,
    },
    Revoke {
        item: u32,
    },
    /// Certify every undecided item the actor reviews.
    CertifyAll,
    End,
    /// Give an undecided item to another reviewer.
    Reassign {
        item: u32,
        to: UserId,
    },
    /// Report to this channel: `created` when c1bot just created it, else it joined it.
    AttachChannel {
        id: String,
        name: String,
        created: bool,
    },
    /// Stop posting, stay in the channel.
    DeactivateChannel,
    /// Post again after *Deactivate*.
    ActivateChannel,
    /// Detach the channel, so another can be attached.
    RemoveChannel,
    /// The reminder timer fired (or an owner asked for one).
    Remind,
    /// These undecided items' access ended during the review: close them
    /// ([`Verdict::Ended`]), counted as reviewed.
    CloseEnded {
        items: Vec<u32>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// DM the reviewer these items with *Certify* / *Revoke* (paged, see [`super::pages`]).
    DmReviewer {
        reviewer: UserId,
        items: Vec<u32>,
    },
    /// Redraw the reviewer's DM: decisions made, items reassigned away, campaign ended.
    UpdateReviewerDm {
        reviewer: UserId,
    },
    /// The item's access is to be removed: the caller starts deprovisioning.
    StartRevoke {
        item: u32,
    },
    /// Post or edit the status message in the campaign's channel.
    UpdateStatusMessage {
        channel: String,
    },
    /// Remind these reviewers of their undecided items.
    PostReminder {
        reviewers: Vec<UserId>,
    },
    InviteToChannel {
        channel: String,
        users: Vec<UserId>,
    },
    /// A DM to every owner. The text mentions no user-written text.
    TellOwners {
        text: String,
    },
}

/// Applies `action` by `actor` at `now`.
pub fn apply(
    campaign: &Campaign,
    action: CampaignAction,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<(Campaign, Vec<Effect>), Refusal> {
    let mut next = campaign.clone();
    let effects = match action {
        CampaignAction::Start { items } => start(&mut next, items, actor, now)?,
        CampaignAction::Certify { item } => decide(&mut next, item, Verdict::Certify, actor, now)?,
        CampaignAction::Revoke { item } => decide(&mut next, item, Verdict::Revoke, actor, now)?,
        CampaignAction::CertifyAll => certify_all(&mut next, actor, now)?,
        CampaignAction::End => end(&mut next, actor, now)?,
        CampaignAction::Reassign { item, to } => reassign(&mut next, item, to, actor)?,
        CampaignAction::AttachChannel { id, name, created } => {
            owner(campaign, actor)?;
            channel::attach(&mut next, id, name, created)?
        }
        CampaignAction::DeactivateChannel => {
            owner(campaign, actor)?;
            channel::deactivate(&mut next)?
        }
        CampaignAction::ActivateChannel => {
            owner(campaign, actor)?;
            channel::activate(&mut next)?
        }
        CampaignAction::RemoveChannel => {
            owner(campaign, actor)?;
            channel::remove(&mut next)?
        }
        CampaignAction::Remind => remind(&mut next, now)?,
        CampaignAction::CloseEnded { items } => close_ended(&mut next, &items, now)?,
    };
    Ok((next, effects))
}

fn owner(campaign: &Campaign, actor: &Actor) -> Result<(), Refusal> {
    if campaign.is_owner(&actor.user) {
        Ok(())
    } else {
        Err(Refusal::NotAnOwner)
    }
}

fn running(campaign: &Campaign) -> Result<(), Refusal> {
    match campaign.state {
        CampaignState::Running { .. } => Ok(()),
        ref other => Err(Refusal::NotRunning {
            state: other.label(),
        }),
    }
}

fn start(
    next: &mut Campaign,
    items: Vec<Item>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<Effect>, Refusal> {
    owner(next, actor)?;
    if next.state != CampaignState::Draft {
        return Err(Refusal::AlreadyStarted);
    }
    if next.due <= now {
        return Err(Refusal::DueInPast);
    }
    if items.is_empty() {
        return Err(Refusal::NothingToReview);
    }
    next.items = items;
    next.state = CampaignState::Running {
        started_at: now,
        started_by: actor.user.clone(),
    };
    let mut effects: Vec<Effect> = channel::invite_missing(next).into_iter().collect();
    for reviewer in next.reviewers() {
        let items = next
            .items
            .iter()
            .filter(|i| i.reviewer.as_ref() == Some(&reviewer))
            .map(|i| i.id)
            .collect();
        effects.push(Effect::DmReviewer { reviewer, items });
    }
    let unassigned = super::items::unassigned(&next.items);
    if !unassigned.is_empty() {
        let ids: Vec<String> = unassigned.iter().map(u32::to_string).collect();
        effects.push(Effect::TellOwners {
            text: format!(
                "{}: nobody could be found to review item(s) {}; reassign them to a reviewer.",
                next.id,
                ids.join(", ")
            ),
        });
    }
    effects.extend(channel::status_update(next));
    Ok(effects)
}

/// The item `id`, while nobody has decided it yet.
fn undecided(next: &mut Campaign, id: u32) -> Result<&mut Item, Refusal> {
    let item = next
        .items
        .iter_mut()
        .find(|i| i.id == id)
        .ok_or(Refusal::NoSuchItem { item: id })?;
    match &item.decision {
        Some(done) => Err(Refusal::AlreadyDecided {
            verdict: done.verdict,
            by: done.by.clone(),
        }),
        None => Ok(item),
    }
}

fn decide(
    next: &mut Campaign,
    id: u32,
    verdict: Verdict,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<Effect>, Refusal> {
    running(next)?;
    let item = undecided(next, id)?;
    if item.reviewer.as_deref() != Some(actor.user.as_str()) {
        return Err(Refusal::NotTheReviewer {
            reviewer: item.reviewer.clone(),
        });
    }
    if item.is_self_review() && !actor.self_review_allowed {
        return Err(Refusal::SelfReviewNotAllowed);
    }
    item.decision = Some(Review {
        verdict,
        by: actor.user.clone(),
        at: now,
    });
    let mut effects = vec![Effect::UpdateReviewerDm {
        reviewer: actor.user.clone(),
    }];
    if verdict == Verdict::Revoke {
        effects.push(Effect::StartRevoke { item: id });
    }
    effects.extend(after_decisions(next));
    Ok(effects)
}

fn certify_all(
    next: &mut Campaign,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Vec<Effect>, Refusal> {
    running(next)?;
    let mut certified = 0;
    for item in &mut next.items {
        let mine = item.reviewer.as_deref() == Some(actor.user.as_str());
        if mine && !item.is_decided() && (!item.is_self_review() || actor.self_review_allowed) {
            item.decision = Some(Review {
                verdict: Verdict::Certify,
                by: actor.user.clone(),
                at: now,
            });
            certified += 1;
        }
    }
    if certified == 0 {
        return Err(Refusal::NothingToCertify);
    }
    let mut effects = vec![Effect::UpdateReviewerDm {
        reviewer: actor.user.clone(),
    }];
    effects.extend(after_decisions(next));
    Ok(effects)
}

fn close_ended(
    next: &mut Campaign,
    items: &[u32],
    now: DateTime<Utc>,
) -> Result<Vec<Effect>, Refusal> {
    running(next)?;
    let mut reviewers = std::collections::BTreeSet::new();
    for item in next
        .items
        .iter_mut()
        .filter(|i| items.contains(&i.id) && !i.is_decided())
    {
        item.decision = Some(Review {
            verdict: Verdict::Ended,
            by: "c1bot".into(),
            at: now,
        });
        reviewers.extend(item.reviewer.clone());
    }
    if reviewers.is_empty() {
        return Ok(Vec::new());
    }
    let mut effects: Vec<Effect> = reviewers
        .into_iter()
        .map(|reviewer| Effect::UpdateReviewerDm { reviewer })
        .collect();
    effects.extend(after_decisions(next));
    Ok(effects)
}

/// The status message, and a word to the owners once the last item is decided.
fn after_decisions(campaign: &Campaign) -> Vec<Effect> {
    let mut effects: Vec<Effect> = channel::status_update(campaign).into_iter().collect();
    let (reviewed, total) = progress(campaign);
    if reviewed == total {
        let (certified, revoked) = verdicts(campaign);
        effects.push(Effect::TellOwners {
            text: format!(
                "{}: all {total} items are reviewed ({certified} certified, {revoked} revoked). End the campaign to complete it.",
                campaign.id
            ),
        });
    }
    effects
}

fn end(next: &mut Campaign, actor: &Actor, now: DateTime<Utc>) -> Result<Vec<Effect>, Refusal> {
    owner(next, actor)?;
    let CampaignState::Running { started_at, .. } = next.state else {
        return Err(Refusal::NotRunning {
            state: next.state.label(),
        });
    };
    // Undecided items' DMs lose their buttons; the lists are taken before the state
    // changes, since the final status message is the last thing the channel gets.
    let waiting = waiting_reviewers(next);
    next.state = CampaignState::Completed {
        started_at,
        at: now,
        by: actor.user.clone(),
    };
    let mut effects: Vec<Effect> = waiting
        .into_iter()
        .map(|reviewer| Effect::UpdateReviewerDm { reviewer })
        .collect();
    effects.extend(channel::final_status(next));
    let (certified, revoked) = verdicts(next);
    effects.push(Effect::TellOwners {
        text: format!(
            "{} is completed: {} ({certified} certified, {revoked} revoked).",
            next.id,
            status_line(next)
        ),
    });
    Ok(effects)
}

fn reassign(
    next: &mut Campaign,
    id: u32,
    to: UserId,
    actor: &Actor,
) -> Result<Vec<Effect>, Refusal> {
    owner(next, actor)?;
    running(next)?;
    let item = undecided(next, id)?;
    if item.reviewer.as_ref() == Some(&to) {
        return Err(Refusal::AlreadyTheReviewer);
    }
    let previous = item.reviewer.replace(to.clone());
    let mut effects: Vec<Effect> = previous
        .map(|reviewer| Effect::UpdateReviewerDm { reviewer })
        .into_iter()
        .collect();
    effects.push(Effect::DmReviewer {
        reviewer: to,
        items: vec![id],
    });
    effects.extend(channel::invite_missing(next));
    Ok(effects)
}

fn remind(next: &mut Campaign, now: DateTime<Utc>) -> Result<Vec<Effect>, Refusal> {
    running(next)?;
    // Reminders come before the due date; after it, owners decide whether to end.
    if now >= next.due {
        return Err(Refusal::PastDue);
    }
    let reviewers = waiting_reviewers(next);
    if reviewers.is_empty() {
        return Err(Refusal::NothingToRemind);
    }
    next.reminders += 1;
    let mut effects = vec![
        Effect::PostReminder { reviewers },
        Effect::TellOwners {
            text: format!("{}: {}.", next.id, status_line(next)),
        },
    ];
    effects.extend(channel::status_update(next));
    Ok(effects)
}

#[cfg(test)]
#[path = "workflow_tests/mod.rs"]
mod tests;
