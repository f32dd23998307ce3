//! Access-review campaigns in Slack: `/c1 campaign` (its modal, for people policy's
//! `manage_campaign` allows), the owners' card with *Start* / *End*, the reviewers'
//! DMs with *Certify* / *Revoke* / *Certify all*, and revokes that start
//! deprovisioning in the same commit as the decision.
//!
//! Every click is decided by [`crate::campaign::apply`] on the stored campaign and
//! committed expecting the revision read (a second click on one item is refused
//! with who decided it). Messages go through the outbox under stable keys
//! (`CMP-1/owner/<U>`, `CMP-1/review/<U>/<page>`) and are edited in place.

mod render;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::services::Services;
use crate::campaign::items::{self, ActiveGrant, Reviewers, Sources, StandingMember};
use crate::campaign::{
    apply, Actor, Campaign, CampaignAction, Effect, ReviewerRule, Scope, Source,
};
use crate::policy::Action as PolicyAction;
use crate::store::{AuditEvent, Change, CommitError, Record, Table, Versioned};
use crate::workflow::grant::{self, GrantAction, GrantState, Via};
use crate::workflow::request::AccessRequest;

pub const CALLBACK_ID: &str = "c1_campaign";
/// Action ids of the campaign buttons.
pub mod actions {
    pub const START: &str = "campaign_start";
    pub const END: &str = "campaign_end";
    pub const CERTIFY: &str = "campaign_certify";
    pub const REVOKE: &str = "campaign_revoke";
    pub const CERTIFY_ALL: &str = "campaign_certify_all";
}
const COUNTER_KEY: &str = "campaigns/counter";
const ATTEMPTS: usize = 5;
/// The due-date choices of the modal, in days.
const DUE_DAYS: [u32; 4] = [3, 7, 14, 30];

impl Record for Campaign {
    const VERSION: u32 = 1;
}

/// The next campaign number, stored beside the campaigns.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Counter {
    next: u64,
}

impl Record for Counter {
    const VERSION: u32 = 1;
}

fn load(services: &Services, id: &str) -> anyhow::Result<Option<Versioned<Campaign>>> {
    Ok(services.store.get::<Campaign>(Table::Campaigns, id)?)
}

/// `/c1 campaign`: the modal for people policy lets manage campaigns, else why not.
pub fn command(services: &Services, trigger_id: String, channel: String, user: String) {
    let services = services.clone();
    tokio::spawn(async move {
        if let Err(refusal) = may_manage(&services, &user, &channel).await {
            services.tell(&channel, &user, refusal);
            return;
        }
        match render::modal(&services) {
            Ok(view) => services.open_view(&trigger_id, view, "campaign").await,
            Err(error) => tracing::error!(%error, "cannot render the campaign modal"),
        }
    });
}

async fn may_manage(services: &Services, user: &str, channel: &str) -> Result<(), String> {
    let person = services.directory.person(user).await.map_err(|error| {
        tracing::warn!(%error, "cannot read a profile");
        "c1bot could not check your Slack account just now; try again in a moment.".to_owned()
    })?;
    let decision = services.decide(PolicyAction::ManageCampaign, &person, channel, None, None);
    if decision.allowed {
        Ok(())
    } else {
        let why = if decision.reasons.is_empty() {
            "no policy allows it".to_owned()
        } else {
            decision.reasons.join("; ")
        };
        Err(format!("You cannot manage access reviews: {why}."))
    }
}

/// What the modal asked for, or one sentence per field to fix.
struct Draft {
    name: String,
    resources: Vec<String>,
    reviewers: Vec<String>,
    owners: Vec<String>,
    due_days: u32,
}

fn read_draft(services: &Services, state: &Value) -> Result<Draft, BTreeMap<&'static str, String>> {
    let values = |block: &str, action: &str| {
        state
            .pointer(&format!("/values/{block}/{action}"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let strings = |v: Value, key: &str, inner: Option<&str>| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|x| match inner {
                        Some(k) => x.get(k).and_then(Value::as_str),
                        None => x.as_str(),
                    })
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut errors = BTreeMap::new();
    let name = values("name", "name_input")
        .get("value")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned();
    if name.is_empty() {
        errors.insert("name", "Give the review a name.".to_owned());
    }
    let resources: Vec<String> = strings(
        values("resources", "resources_select"),
        "selected_options",
        Some("value"),
    )
    .into_iter()
    .filter(|id| services.catalog.resource(id).is_some())
    .collect();
    if resources.is_empty() {
        errors.insert("resources", "Choose at least one resource.".to_owned());
    }
    let due_days = values("due", "due_select")
        .pointer("/selected_option/value")
        .and_then(Value::as_str)
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|d| DUE_DAYS.contains(d));
    if due_days.is_none() {
        errors.insert("due", "Choose when the reviews are due.".to_owned());
    }
    match (errors.is_empty(), due_days) {
        (true, Some(due_days)) => Ok(Draft {
            name,
            resources,
            reviewers: strings(
                values("reviewers", "reviewers_select"),
                "selected_users",
                None,
            ),
            owners: strings(values("owners", "owners_select"), "selected_users", None),
            due_days,
        }),
        _ => Err(errors),
    }
}

/// The modal's submission: a draft campaign, its owners' cards, an audit entry.
pub async fn submitted(services: &Services, user: &str, view: &Value) -> Option<Value> {
    let errors = |errors: BTreeMap<&'static str, String>| {
        Some(json!({ "response_action": "errors", "errors": errors }))
    };
    if let Err(refusal) = may_manage(services, user, "").await {
        return errors(BTreeMap::from([("name", refusal)]));
    }
    let state = view.get("state").cloned().unwrap_or(Value::Null);
    let draft = match read_draft(services, &state) {
        Ok(draft) => draft,
        Err(problems) => return errors(problems),
    };
    match create(services, user, draft).await {
        Ok(()) => None,
        Err(error) => {
            tracing::error!(%error, "cannot store a campaign");
            errors(BTreeMap::from([(
                "name",
                "c1bot could not save the review; nothing was created. Try again in a moment."
                    .to_owned(),
            )]))
        }
    }
}

async fn create(services: &Services, user: &str, draft: Draft) -> anyhow::Result<()> {
    for _ in 0..ATTEMPTS {
        let now = services.now();
        let counter = services.store.get::<Counter>(Table::Meta, COUNTER_KEY)?;
        let number = counter.as_ref().map_or(1, |c| c.data.next);
        let id = format!("CMP-{number}");
        let mut owners = vec![user.to_owned()];
        for owner in &draft.owners {
            if !owners.contains(owner) {
                owners.push(owner.clone());
            }
        }
        let reviewers = if draft.reviewers.is_empty() {
            ReviewerRule::ResourceOwners
        } else {
            ReviewerRule::Users(draft.reviewers.clone())
        };
        let campaign = Campaign::draft(
            id.clone(),
            draft.name.clone(),
            owners,
            Scope {
                resources: draft.resources.clone(),
                ..Scope::default()
            },
            reviewers,
            now + chrono::Duration::days(i64::from(draft.due_days)),
            user,
            now,
        );
        let mut change = Change::new()
            .at(now)
            .expect(Table::Meta, COUNTER_KEY, counter.as_ref().map(|c| c.rev))
            .put(Table::Meta, COUNTER_KEY, &Counter { next: number + 1 })
            .expect(Table::Campaigns, id.clone(), None)
            .put(Table::Campaigns, id.clone(), &campaign)
            .audit(AuditEvent {
                actor: user.to_owned(),
                action: "campaign.created".into(),
                subject: id.clone(),
                detail: json!({ "name": campaign.name, "scope": campaign.scope.resources, "owners": campaign.owners, "due": campaign.due }),
            });
        for message in render::owner_cards(services, &campaign, true)? {
            change = change.outbox(message);
        }
        match services.store.commit(change).await {
            Ok(_) => return Ok(()),
            Err(CommitError::Conflict { .. }) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    anyhow::bail!("the campaign counter kept changing")
}

/// A campaign button (value: `CMP-1`, or `CMP-1:<item>` on an item).
pub fn clicked(
    services: &Services,
    user: String,
    channel: String,
    action_id: String,
    value: String,
) {
    let services = services.clone();
    tokio::spawn(async move {
        if let Err(message) = act(&services, &user, &action_id, &value).await {
            services.tell(&channel, &user, message);
        }
    });
}

async fn act(services: &Services, user: &str, action_id: &str, value: &str) -> Result<(), String> {
    let (id, item) = match value.split_once(':') {
        Some((id, item)) => (id, item.parse::<u32>().ok()),
        None => (value, None),
    };
    for _ in 0..ATTEMPTS {
        let stored = match load(services, id) {
            Ok(Some(stored)) => stored,
            Ok(None) => return Err(format!("There is no access review {id}.")),
            Err(error) => {
                tracing::error!(%error, "cannot read a campaign");
                return Err("c1bot could not read that review just now; try again.".into());
            }
        };
        let action = match (action_id, item) {
            (actions::START, _) => CampaignAction::Start {
                items: collect(services, &stored.data).await,
            },
            (actions::END, _) => CampaignAction::End,
            (actions::CERTIFY_ALL, _) => CampaignAction::CertifyAll,
            (actions::CERTIFY, Some(item)) => CampaignAction::Certify { item },
            (actions::REVOKE, Some(item)) => CampaignAction::Revoke { item },
            _ => return Err("That button is not c1bot's.".into()),
        };
        let now = services.now();
        // Self-review stays off: items are assigned to someone else wherever the
        // catalog names anyone else.
        let actor = Actor::new(user);
        let (next, effects) = match apply(&stored.data, action, &actor, now) {
            Ok(done) => done,
            Err(refusal) => return Err(refusal.message(id)),
        };
        let vias = match revoke_vias(services, &next, &effects).await {
            Ok(vias) => vias,
            Err(error) => {
                tracing::warn!(%error, "cannot resolve who removes the access");
                return Err("c1bot could not look up who removes this access just now; nothing changed. Try again in a moment.".into());
            }
        };
        let change = match build(
            services, &stored, &next, &effects, &vias, user, action_id, now,
        ) {
            Ok(change) => change,
            Err(error) => {
                tracing::error!(%error, campaign = id, "cannot prepare a campaign change");
                return Err("c1bot could not record that; nothing changed. Try again.".into());
            }
        };
        match services.store.commit(change).await {
            Ok(_) => return Ok(()),
            Err(CommitError::Conflict { .. }) => continue,
            Err(error) => {
                tracing::error!(%error, campaign = id, "cannot store a campaign change");
                return Err("c1bot could not record that; nothing changed. Try again.".into());
            }
        }
    }
    Err("The review kept changing; try again.".into())
}

/// The campaign change with its messages, audit entry and, for each revoke, the
/// grant's own revoke transition: one commit.
#[allow(clippy::too_many_arguments)]
fn build(
    services: &Services,
    stored: &Versioned<Campaign>,
    next: &Campaign,
    effects: &[Effect],
    vias: &BTreeMap<u32, Via>,
    user: &str,
    action_id: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Change> {
    let mut change = Change::new()
        .at(now)
        .expect(Table::Campaigns, next.id.clone(), Some(stored.rev))
        .put(Table::Campaigns, next.id.clone(), next)
        .audit(AuditEvent {
            actor: user.to_owned(),
            action: format!("campaign.{}", action_id.trim_start_matches("campaign_")),
            subject: next.id.clone(),
            detail: json!({ "progress": crate::campaign::progress::status_line(next) }),
        });
    for message in render::owner_cards(services, next, false)? {
        change = change.outbox(message);
    }
    for effect in effects {
        match effect {
            Effect::DmReviewer { reviewer, .. } => {
                for message in render::review_pages(services, next, reviewer, true)? {
                    change = change.outbox(message);
                }
            }
            Effect::UpdateReviewerDm { reviewer } => {
                for message in render::review_pages(services, next, reviewer, false)? {
                    change = change.outbox(message);
                }
            }
            Effect::StartRevoke { item } => {
                change = revoke_item(services, next, *item, vias.get(item), user, now, change)?;
            }
            Effect::TellOwners { text } => {
                for owner in &next.owners {
                    change = change.outbox(crate::store::OutboxMessage::text(owner, text));
                }
            }
            // The campaign channel is not wired yet (see README "Access reviews").
            Effect::UpdateStatusMessage { .. }
            | Effect::PostReminder { .. }
            | Effect::InviteToChannel { .. } => {}
        }
    }
    Ok(change)
}

/// A revoked grant item: the grant's revoke (its deprovisioning task or run) joins
/// the campaign's commit, expecting the request's revision. A standing member's
/// access is outside c1bot: its owners are told to remove it.
fn revoke_item(
    services: &Services,
    campaign: &Campaign,
    item: u32,
    via: Option<&Via>,
    user: &str,
    now: DateTime<Utc>,
    change: Change,
) -> anyhow::Result<Change> {
    let Some(item) = campaign.item(item) else {
        return Ok(change);
    };
    let Source::Grant { request_id } = &item.source else {
        let text = format!(
            "Access review {}: <@{}> decided that <@{}> should no longer have {} on {} (listed as a member in the catalog). Remove it where it is granted, then from the catalog.",
            campaign.id, user, item.beneficiary, item.entitlement, item.resource
        );
        return Ok(campaign.owners.iter().fold(change, |change, owner| {
            change.outbox(crate::store::OutboxMessage::text(owner, &text))
        }));
    };
    let Some(stored) = services.load_request(request_id)? else {
        return Ok(change);
    };
    let Some(via) = via.cloned() else {
        return Ok(change);
    };
    let transition = grant::apply(
        &stored.data,
        GrantAction::Revoke {
            by: user.to_owned(),
            reason: format!("access review {}", campaign.id),
            via,
            // The reviewer's authority is the campaign's assignment.
            policy_allows: true,
        },
        now,
        services.timing(),
    )
    .map_err(|refusal| anyhow::anyhow!(refusal.message(request_id)))?;
    let rendered = super::grants::render(services, transition.request, &transition.effects)?;
    Ok(rendered.into_change(
        change
            .expect(Table::Requests, request_id.clone(), Some(stored.rev))
            .audit(AuditEvent {
                actor: user.to_owned(),
                action: "grant.revoke".into(),
                subject: request_id.clone(),
                detail: json!({ "reason": format!("access review {}", campaign.id), "campaign": campaign.id }),
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
        });
        if let (Source::Grant { .. }, Some(entitlement)) = (&found.source, target) {
            vias.insert(*item, super::grants::via_for(services, entitlement).await?);
        }
    }
    Ok(vias)
}

/// The access in the campaign's scope now: active grants and the catalog's members.
async fn collect(services: &Services, campaign: &Campaign) -> Vec<crate::campaign::Item> {
    let grants = services
        .store
        .scan_prefix::<AccessRequest>(Table::Requests, "REQ-")
        .unwrap_or_default()
        .into_iter()
        .map(|(_, v)| v.data)
        .filter(|r| {
            r.grant
                .as_ref()
                .is_some_and(|g| g.state == GrantState::Active)
        })
        .map(|r| ActiveGrant {
            request_id: r.id,
            beneficiary: r.beneficiary,
            resource: r.resource,
            entitlement: r.entitlement,
        })
        .collect();
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
    let reviewers = Reviewers::resolve(&campaign.reviewers, &BTreeMap::new());
    items::collect(&campaign.scope, &reviewers, &sources)
}
