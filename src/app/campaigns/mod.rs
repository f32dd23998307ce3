//! Access-review campaigns in Slack: `/c1 campaign` (its modal, for people policy's
//! `manage_campaign` allows), the owners' card (*Start* / *End*, *Reassign*, the
//! campaign channel's buttons) and the reviewers' DMs (*Certify* / *Revoke* /
//! *Certify all*). The channel modal is [`channel`], reassigning [`reassign`],
//! reminder timers [`reminders`], items closed when their access
//! ends [`ended`], a revoked catalog member's removal notice (*Mark done*) `removal`;
//! every action is decided and committed by `commit`.
//!
//! Messages go through the outbox under stable keys (`CMP-1/owner/<U>`,
//! `CMP-1/review/<U>/<page>`, `CMP-1/status/<n>` for the n-th channel attached) and
//! are edited in place. Button values are never trusted: the stored campaign and
//! policy decide who may do what.

pub mod channel;
mod commit;
pub mod ended;
mod form;
pub mod reassign;
pub mod reminders;
mod removal;
mod render;
mod review_checks;

use std::collections::BTreeMap;

use serde_json::{json, Value};

use self::commit::{commit, Acting};
use self::form::Draft;
use self::review_checks::{actor_for, close_ended, reviewers_policy_allows};
use self::review_checks::{may_review, may_review_own};
use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::consequences::Committed;
use crate::app::shared::services::Services;
use crate::campaign::items::{self, ActiveGrant, Reviewers, Sources, StandingMember};
use crate::campaign::{Campaign, CampaignAction, ReviewerRule};
use crate::controls::CampaignButton;
use crate::policy::Action as PolicyAction;
use crate::slack::view_input::ViewInput;
use crate::store::{AuditEvent, Change, Record, Table, Versioned};
use crate::workflow::grant::GrantState;

const COUNTER_KEY: &str = "campaigns/counter";

impl Record for Campaign {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }

    /// Found by its owners (`owner:`) and the reviewers with an item left
    /// (`reviewer:`), so App Home reads only a person's own reviews; and by the
    /// grants of its undecided items (`item:REQ-…`), so a grant that ends closes them.
    fn index(&self) -> Vec<crate::store::IndexKey> {
        let mut names: std::collections::BTreeSet<String> =
            self.owners.iter().map(|o| format!("owner:{o}")).collect();
        names.extend(
            self.items
                .iter()
                .filter(|item| !item.is_decided())
                .filter_map(|item| item.reviewer.as_ref())
                .map(|r| format!("reviewer:{r}")),
        );
        // The follow-up of a grant that ends finds the items it closes (`ended`).
        names.extend(
            self.items
                .iter()
                .filter(|item| !item.is_decided())
                .filter_map(|item| match &item.source {
                    crate::campaign::Source::Grant { request_id } => {
                        Some(ended::index_name(request_id))
                    }
                    crate::campaign::Source::Standing => None,
                }),
        );
        names
            .into_iter()
            .map(crate::store::IndexKey::lookup)
            .collect()
    }
}

/// The version of [`Campaign::index`]'s entries; a change re-indexes at start-up.
pub const INDEX_VERSION: u64 = 2;

/// The next campaign number, stored beside the campaigns.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Counter {
    next: u64,
}

impl Record for Counter {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

/// The owners of campaign `id` (none when it cannot be read).
pub async fn owners(services: &Services, id: &str) -> Vec<String> {
    match load(services, id).await {
        Ok(Some(stored)) => stored.data.owners.iter().map(|o| o.to_string()).collect(),
        _ => Vec::new(),
    }
}

async fn load(services: &Services, id: &str) -> anyhow::Result<Option<Versioned<Campaign>>> {
    Ok(services.store.get::<Campaign>(Table::Campaigns, id).await?)
}

/// `/c1 campaign`: the modal for people policy lets manage campaigns, else why not.
pub fn command(services: &Services, trigger_id: String, channel: String, user: String) {
    let services = services.clone();
    tokio::spawn(async move {
        let reviews = crate::features::FeatureId::AccessReviews;
        if let Some(refusal) = services.features.refusal(reviews) {
            return services.tell(&channel, &user, refusal);
        }
        if let Err(refusal) = may_manage(&services, &user, &channel).await {
            services.tell(&channel, &user, refusal);
            return;
        }
        let groups = user_groups(&services).await;
        match render::modal(&services, groups) {
            Ok(view) => services.open_view(&trigger_id, view, "campaign").await,
            Err(error) => tracing::error!(%error, "cannot render the campaign modal"),
        }
    });
}

/// The workspace's user groups as (option text, id), for the reviewer-groups select;
/// none when Slack cannot say (the modal then offers people only).
async fn user_groups(services: &Services) -> Vec<(String, String)> {
    if !services
        .features
        .is_on(crate::features::FeatureId::UserGroups)
    {
        return Vec::new();
    }
    let answer = services
        .web
        .call_as::<crate::slack::web::answers::Usergroups>(
            crate::slack::web::methods::USERGROUPS_LIST,
            json!({ "include_disabled": false }),
        )
        .await;
    let groups = match answer {
        Ok(answer) => answer.usergroups,
        Err(error) => {
            tracing::warn!(%error, "cannot list user groups");
            return Vec::new();
        }
    };
    groups
        .into_iter()
        .filter(|group| !group.id.is_empty())
        .map(|group| {
            let handle = if group.handle.is_empty() {
                &group.id
            } else {
                &group.handle
            };
            (format!("@{handle} ({})", group.name), group.id.clone())
        })
        .take(100)
        .collect()
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

/// The modal's submission: a draft campaign, its owners' cards, an audit entry.
pub async fn submitted(services: &Services, user: &str, input: &ViewInput) -> Option<Value> {
    if let Err(refusal) = may_manage(services, user, "").await {
        return field_error("name", refusal);
    }
    let draft = match form::read(&services.catalog, input) {
        Ok(draft) => draft,
        Err(problems) => return field_errors(problems),
    };
    match create(services, user, draft).await {
        Ok(()) => None,
        Err(error) => {
            tracing::error!(%error, "cannot store a campaign");
            field_error(
                "name",
                "c1bot could not save the review; nothing was created. Try again in a moment."
                    .to_owned(),
            )
        }
    }
}

async fn create(services: &Services, user: &str, draft: Draft) -> anyhow::Result<()> {
    let draft = &draft;
    let ended = decide_and_commit(
        &services.store,
        &services.consequences,
        &Change::new(),
        move || async move {
            match created(services, user, draft).await {
                Ok((change, campaign)) => {
                    Decided::commit_of(change, Committed::Campaign(Box::new(campaign)), ())
                }
                Err(error) => Decided::Stop(error),
            }
        },
    )
    .await;
    match ended {
        Ended::Committed(()) | Ended::AlreadyDone(()) => Ok(()),
        Ended::Stopped(error) => Err(error),
        Ended::Failed(error) => Err(error.into()),
        Ended::KeptChanging => anyhow::bail!("the campaign counter kept changing"),
    }
}

/// One attempt: the next campaign number taken and the draft stored under it, with
/// the owners' cards.
async fn created(
    services: &Services,
    user: &str,
    draft: &Draft,
) -> anyhow::Result<(Change, Campaign)> {
    let now = services.now();
    let counter = services
        .store
        .get::<Counter>(Table::Meta, COUNTER_KEY)
        .await?;
    let number = counter.as_ref().map_or(1, |c| c.data.next);
    let id = format!("CMP-{number}");
    let mut owners = vec![user.to_owned()];
    for owner in &draft.owners {
        if !owners.contains(owner) {
            owners.push(owner.clone());
        }
    }
    let campaign = Campaign::draft(
        id.clone(),
        draft.name.clone(),
        owners,
        draft.scope.clone(),
        draft.reviewers.clone(),
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
            detail: json!({
                "name": campaign.name,
                "scope": {
                    "spaces": campaign.scope.spaces,
                    "resources": campaign.scope.resources,
                    "entitlements": campaign.scope.entitlements,
                },
                "reviewers": campaign.reviewers,
                "owners": campaign.owners,
                "due": campaign.due,
            }),
        });
    for message in render::owner_cards(services, &campaign, true)? {
        change = change.outbox(message);
    }
    Ok((change, campaign))
}

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

/// A modal's answer: a sentence under each field (by block id); the modal stays open.
fn field_errors(errors: form::FieldErrors) -> Option<Value> {
    Some(json!({ "response_action": "errors", "errors": errors }))
}

/// [`field_errors`] for one field.
fn field_error(block_id: &'static str, text: String) -> Option<Value> {
    field_errors(BTreeMap::from([(block_id, text)]))
}

async fn stored(services: &Services, id: &str) -> Result<Versioned<Campaign>, String> {
    match load(services, id).await {
        Ok(Some(stored)) => Ok(stored),
        Ok(None) => Err(format!("There is no access review {id}.")),
        Err(error) => {
            tracing::error!(%error, "cannot read a campaign");
            Err("c1bot could not read that review just now; try again.".into())
        }
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
