//! `/c1 campaign` and its modal's submission: who may manage campaigns, the
//! reviewer groups offered, and a new draft campaign stored with its owners' cards.

use serde_json::{json, Value};

use super::form::{self, Draft};
use super::storage::{Counter, COUNTER_KEY};
use super::{field_error, field_errors, render};
use crate::app::shared::commit_path::{decide_and_commit, Decided, Ended};
use crate::app::shared::consequences::Committed;
use crate::app::shared::services::Services;
use crate::campaign::Campaign;
use crate::policy::Action as PolicyAction;
use crate::slack::view_input::ViewInput;
use crate::store::{AuditEvent, Change, Table};

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
