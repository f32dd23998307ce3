//! *Reassign* on the owner's card: give an undecided item to another reviewer (items
//! nobody could be found for start unassigned). The new reviewer gets the item on
//! their review page and, when the campaign has a live channel, an invitation to it.
//!
//! The modal offers the stored campaign's undecided items; the submission is checked
//! again on the stored campaign (owner, running, item undecided) by
//! [`crate::campaign::apply`], and the new reviewer against Slack and policy.

use serde_json::{json, Value};

use crate::app::campaigns::commit::{commit, Acting};
use crate::app::campaigns::field_error;
use crate::app::campaigns::{may_review_own, render};
use crate::app::shared::services::Services;
use crate::campaign::{Actor, CampaignAction, CampaignState, Refusal};

/// Block ids of the modal's fields (where errors are shown).
const ITEM: &str = "item";
const REVIEWER: &str = "reviewer";
/// A static select holds at most 100 options.
const MAX_ITEMS: usize = 100;

/// The modal, for an owner of a running campaign with undecided items.
pub(super) async fn open_modal(
    services: &Services,
    user: &str,
    trigger_id: &str,
    id: &str,
) -> Result<(), String> {
    let campaign = crate::app::campaigns::stored(services, id).await?.data;
    if !campaign.is_owner(user) {
        return Err(Refusal::NotAnOwner.message(id));
    }
    if !matches!(campaign.state, CampaignState::Running { .. }) {
        return Err(Refusal::NotRunning {
            state: campaign.state.label(),
        }
        .message(id));
    }
    let mut items = Vec::new();
    for item in campaign
        .items
        .iter()
        .filter(|i| !i.is_decided())
        .take(MAX_ITEMS)
    {
        let reviewer = match &item.reviewer {
            Some(reviewer) => name_of(services, reviewer).await,
            None => "nobody".to_owned(),
        };
        let resource = services.catalog.resource(&item.resource);
        let entitlement = resource
            .and_then(|r| {
                r.entitlements
                    .iter()
                    .find(|e| e.id.as_str() == item.entitlement)
            })
            .map_or(item.entitlement.clone(), |e| e.name.clone());
        let text = format!(
            "{}: {entitlement} on {} (now {reviewer})",
            name_of(services, &item.beneficiary).await,
            resource.map_or(item.resource.clone(), |r| r.name.clone()),
        );
        items.push((text, item.id));
    }
    if items.is_empty() {
        return Err(format!(
            "Every item of {id} is reviewed; nothing to reassign."
        ));
    }
    let view = render::reassign_modal(services, id, items).map_err(|error| {
        tracing::error!(%error, "cannot render the reassign modal");
        "c1bot could not open the form just now; try again.".to_owned()
    })?;
    services
        .open_view(trigger_id, view, "campaign reassign")
        .await;
    Ok(())
}

/// A person's Slack handle for an option text (plain text), or their id.
async fn name_of(services: &Services, user: &str) -> String {
    match services.directory.person(user).await {
        Ok(person) if !person.profile.display_name.is_empty() => person.profile.display_name,
        Ok(person) if !person.profile.real_name.is_empty() => person.profile.real_name,
        _ => user.to_owned(),
    }
}

/// The modal's submission: the item reassigned, or the reason in the modal.
pub async fn submitted(
    services: &Services,
    user: &str,
    input: &crate::slack::view_input::ViewInput,
) -> Option<Value> {
    // The campaign id is only a key: everything is checked on the stored campaign.
    let id = input.metadata.clone();
    let item = input.text(ITEM).and_then(|v| v.parse::<u32>().ok());
    let Some(item) = item else {
        return field_error(ITEM, "Choose the access to reassign.".into());
    };
    let to = input.text(REVIEWER).unwrap_or_default().to_owned();
    if to.is_empty() {
        return field_error(REVIEWER, "Choose the new reviewer.".into());
    }
    let person = match services.directory.person(&to).await {
        Ok(person) => person,
        Err(error) => {
            tracing::warn!(%error, "cannot read a profile");
            return field_error(
                REVIEWER,
                "c1bot could not check that person's Slack account just now; try again.".into(),
            );
        }
    };
    if person.is_bot {
        return field_error(
            REVIEWER,
            "An app cannot review access; choose a person.".into(),
        );
    }
    if person.profile.deleted {
        return field_error(
            REVIEWER,
            "That account is deactivated; choose someone else.".into(),
        );
    }
    match crate::app::campaigns::may_review(services, &to).await {
        Ok(Ok(())) => {}
        Ok(Err(why)) => {
            return field_error(
                REVIEWER,
                format!("Policy does not let that person review access: {why}."),
            )
        }
        Err(text) => return field_error(REVIEWER, text),
    }
    let campaign = match crate::app::campaigns::stored(services, &id).await {
        Ok(stored) => stored.data,
        Err(text) => return field_error(ITEM, text),
    };
    if let Some(found) = campaign.item(item).filter(|i| i.beneficiary == to) {
        match may_review_own(services, &to, &[found]).await {
            Ok(true) => {}
            Ok(false) => {
                return field_error(
                    REVIEWER,
                    "That is their own access, and policy does not let people review their own access here.".into(),
                )
            }
            Err(text) => return field_error(REVIEWER, text),
        }
    }
    let acting = Acting::new(Actor::new(user), "campaign.reassign")
        .detail(json!({ "item": item, "to": to }));
    match commit(
        services,
        &id,
        CampaignAction::Reassign { item, to },
        &acting,
    )
    .await
    {
        Ok(_) => None,
        Err(failure) => field_error(ITEM, failure.message(&id)),
    }
}
