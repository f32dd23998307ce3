//! One campaign action, decided and recorded: [`crate::campaign::apply`] on the stored
//! campaign, then the next state with everything it causes (owners' cards, reviewers'
//! pages, invitations, the channel's status message, reminders, a revoked grant's own
//! transition, reminder timers, an audit entry) in one commit expecting the revision
//! read. A conflict means someone acted meanwhile: the action is decided again on
//! the new state, so of two clicks on one item exactly one counts.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::app::campaigns::{load, reminders, render};
use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::consequences::Committed;
use crate::app::shared::services::Services;
use crate::campaign::reminders::reminder_times;
use crate::campaign::{apply, Actor, Campaign, CampaignAction, Effect, Refusal, Source};
use crate::slack::web::methods;
use crate::store::{AuditEvent, Change, OutboxMessage, Table, TimerEntry, Versioned};
use crate::workflow::grant::{self, GrantAction, Via};

/// Who acts, and what the commit records besides the campaign.
pub(super) struct Acting {
    pub actor: Actor,
    /// The audit entry's action, e.g. `campaign.certify`.
    pub audit: String,
    /// Audit detail beside the progress line.
    pub detail: Value,
    /// Calls that belong to this action (a new channel's purpose).
    pub extra: Vec<OutboxMessage>,
    /// The due timer (`at`, kind) this action fires, removed in the same commit so a
    /// crash cannot send its reminder twice.
    pub settles_timer: Option<(DateTime<Utc>, &'static str)>,
    /// Committed with the action: the journal row of the click that asked for it.
    pub also: Change,
}

impl Acting {
    pub fn new(actor: Actor, audit: impl Into<String>) -> Acting {
        Acting {
            actor,
            audit: audit.into(),
            detail: json!({}),
            extra: Vec::new(),
            settles_timer: None,
            also: Change::new(),
        }
    }

    pub fn also(mut self, also: &Change) -> Acting {
        self.also = also.clone();
        self
    }

    pub fn detail(mut self, detail: Value) -> Acting {
        self.detail = detail;
        self
    }
}

/// Why an action did not happen.
#[derive(Debug)]
pub(super) enum Failure {
    /// The campaign's rules refused it (not an owner, already decided, …).
    Refused(Refusal),
    /// Storage or Slack trouble; the sentence says so. Nothing changed.
    Trouble(String),
}

impl Failure {
    pub fn message(&self, campaign_id: &str) -> String {
        match self {
            Failure::Refused(refusal) => refusal.message(campaign_id),
            Failure::Trouble(text) => text.clone(),
        }
    }
}

/// Applies `action` to campaign `id` and commits it with its effects.
pub(super) async fn commit(
    services: &Services,
    id: &str,
    action: CampaignAction,
    acting: &Acting,
) -> Result<Campaign, Failure> {
    let action = &action;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        &acting.also,
        move || async move {
            match decide(services, id, action, acting).await {
                Ok((change, next)) => {
                    Decided::commit_of(change, Committed::Campaign(Box::new(next.clone())), next)
                }
                Err(failure) => Decided::Stop(failure),
            }
        },
    )
    .await;
    match ended {
        Ended::Committed(next) | Ended::AlreadyDone(next) => Ok(next),
        Ended::Stopped(failure) => Err(failure),
        Ended::Failed(error) => {
            tracing::error!(%error, campaign = id, "cannot store a campaign change");
            Err(Failure::Trouble(
                "c1bot could not record that; nothing changed. Try again.".into(),
            ))
        }
        Ended::KeptChanging => Err(Failure::Trouble(
            "The review kept changing; try again.".into(),
        )),
    }
}

/// One attempt: `action` decided on the stored campaign, as the change to commit
/// (expecting the revision read) and the campaign it leaves.
async fn decide(
    services: &Services,
    id: &str,
    action: &CampaignAction,
    acting: &Acting,
) -> Result<(Change, Campaign), Failure> {
    let stored = match load(services, id).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return Err(Failure::Trouble(format!("There is no access review {id}."))),
        Err(error) => {
            tracing::error!(%error, campaign = id, "cannot read a campaign");
            return Err(Failure::Trouble(
                "c1bot could not read that review just now; try again.".into(),
            ));
        }
    };
    let now = services.now();
    let (next, effects) =
        apply(&stored.data, action.clone(), &acting.actor, now).map_err(Failure::Refused)?;
    let vias = revoke_vias(services, &next, &effects).await.map_err(|error| {
        tracing::warn!(%error, "cannot resolve who removes the access");
        Failure::Trouble("c1bot could not look up who removes this access just now; nothing changed. Try again in a moment.".into())
    })?;
    let change = build(
        services, &stored, &next, action, &effects, &vias, acting, now,
    )
    .await
    .map_err(|error| {
        tracing::error!(%error, campaign = id, "cannot prepare a campaign change");
        Failure::Trouble("c1bot could not record that; nothing changed. Try again.".into())
    })?;
    Ok((change, next))
}

/// The campaign change with its messages, audit entry, timers and, for each revoke,
/// the grant's own revoke transition.
#[allow(clippy::too_many_arguments)]
async fn build(
    services: &Services,
    stored: &Versioned<Campaign>,
    next: &Campaign,
    action: &CampaignAction,
    effects: &[Effect],
    vias: &BTreeMap<u32, Via>,
    acting: &Acting,
    now: DateTime<Utc>,
) -> anyhow::Result<Change> {
    let mut detail = acting.detail.clone();
    detail["progress"] = json!(crate::campaign::progress::status_line(next));
    let mut change = Change::new()
        .at(now)
        .expect(Table::Campaigns, next.id.clone(), Some(stored.rev))
        .put(Table::Campaigns, next.id.clone(), next)
        .audit(AuditEvent {
            actor: acting.actor.user.clone(),
            action: acting.audit.clone(),
            subject: next.id.clone(),
            detail,
        });
    for message in &acting.extra {
        change = change.outbox(message.clone());
    }
    for message in render::owner_cards(services, next, false)? {
        change = change.outbox(message);
    }
    for effect in effects {
        match effect {
            Effect::DmReviewer { reviewer, .. } | Effect::UpdateReviewerDm { reviewer } => {
                let posted = render::page_count(&stored.data, reviewer);
                for message in render::review_pages(services, next, reviewer, posted)? {
                    change = change.outbox(message);
                }
            }
            Effect::StartRevoke { item } => {
                change =
                    revoke_item(services, next, *item, vias.get(item), acting, now, change).await?;
            }
            Effect::UpdateRemovalNotice { item } => {
                for message in
                    crate::app::campaigns::removal::notices(services, next, *item, false)?
                {
                    change = change.outbox(message);
                }
            }
            Effect::TellOwners { text } => {
                for owner in &next.owners {
                    change = change.outbox(OutboxMessage::text(owner, text));
                }
            }
            Effect::UpdateStatusMessage { channel } => {
                // Attaching posts the status message; everything after edits it.
                let fresh = matches!(action, CampaignAction::AttachChannel { .. });
                change = change.outbox(render::status_message(services, next, channel, fresh)?);
            }
            Effect::InviteToChannel { channel, users } => {
                // One call per person: Slack fails a whole batch for one bad user.
                for user in users {
                    change = change.outbox(
                        OutboxMessage::call(
                            methods::CONVERSATIONS_INVITE.name,
                            json!({ "channel": channel, "users": user }),
                        )
                        .if_refused(
                            next.owners.clone(),
                            format!(
                                "Access review {}: c1bot could not invite <@{user}> to <#{channel}>",
                                next.id
                            ),
                        ),
                    );
                }
            }
            Effect::PostReminder { reviewers } => {
                for message in render::reminders(services, next, reviewers)? {
                    change = change.outbox(message);
                }
            }
        }
    }
    if let CampaignAction::Start { .. } = action {
        for at in reminder_times(now, next.due) {
            change = change.timer(at, TimerEntry::new(reminders::TIMER, next.id.clone()));
        }
    }
    if let Some((at, kind)) = acting.settles_timer {
        change = change.cancel_timer(at, &next.id, kind);
    }
    Ok(change)
}

/// A revoked grant item: the grant's revoke (its deprovisioning task or run) joins
/// the campaign's commit, expecting the request's revision. A standing member's
/// access is outside c1bot: its owners are told to remove it.
async fn revoke_item(
    services: &Services,
    campaign: &Campaign,
    item: u32,
    via: Option<&Via>,
    acting: &Acting,
    now: DateTime<Utc>,
    change: Change,
) -> anyhow::Result<Change> {
    let user = acting.actor.user.as_str();
    let Some(item) = campaign.item(item) else {
        return Ok(change);
    };
    let Source::Grant { request_id } = &item.source else {
        // Access outside c1bot: the owners remove it, and say so with *Mark done*.
        let notices = crate::app::campaigns::removal::notices(services, campaign, item.id, true)?;
        return Ok(notices.into_iter().fold(change, Change::outbox));
    };
    let Some(stored) = services.load_request(request_id).await? else {
        return Ok(change);
    };
    let Some(via) = via.cloned() else {
        return Ok(change);
    };
    let reason = format!("access review {}", campaign.id);
    let transition = grant::apply(
        &stored.data,
        GrantAction::Revoke {
            by: user.to_owned(),
            reason: reason.clone(),
            via,
            // The reviewer's authority is the campaign's assignment.
            policy_allows: true,
        },
        now,
        services.timing(),
    )
    .map_err(|refusal| anyhow::anyhow!(refusal.message(request_id)))?;
    let rendered = crate::app::grants::render(services, transition.request, &transition.effects)?;
    Ok(rendered.into_change(
        change
            .expect(Table::Requests, request_id.clone(), Some(stored.rev))
            .audit(AuditEvent {
                actor: user.to_owned(),
                action: "grant.revoke".into(),
                subject: request_id.clone(),
                detail: json!({ "reason": reason, "campaign": campaign.id }),
            }),
    ))
}

/// Who removes each revoked grant item's access (user groups expanded now, before
/// the commit, since that needs Slack).
async fn revoke_vias(
    services: &Services,
    campaign: &Campaign,
    effects: &[Effect],
) -> anyhow::Result<BTreeMap<u32, Via>> {
    let mut vias = BTreeMap::new();
    for effect in effects {
        let Effect::StartRevoke { item } = effect else {
            continue;
        };
        let Some(found) = campaign.item(*item) else {
            continue;
        };
        let target = services.catalog.resource(&found.resource).and_then(|r| {
            r.entitlements
                .iter()
                .find(|e| e.id.as_str() == found.entitlement)
                .map(|e| (r, e))
        });
        if let (Source::Grant { .. }, Some((resource, entitlement))) = (&found.source, target) {
            let (via, _) = crate::app::grants::via_for(services, resource, entitlement).await?;
            vias.insert(*item, via);
        }
    }
    Ok(vias)
}
