//! Review items whose access ended during the review, closed when it ends: a grant
//! that leaves `Active` for good (deprovisioning started: expiry, *I'm done*, a
//! revoke; or removed) carries a timer (kind `campaign-access-ended`, subject the
//! request id) in the commit that ends it ([`timer_for`], added by
//! `grants::render`), so the follow-up survives a crash. It is due just after the
//! access ended ([`FOLLOW_UP_AFTER`]), behind the expiries due with it. When it
//! fires, every running campaign with an undecided item for that grant (found through
//! the campaigns' `item:` index) closes it (`CampaignAction::CloseEnded`, audited as
//! `campaign.access_ended`), which redraws the reviewer's page and the progress.
//!
//! Firing twice is harmless: a closed item is not closed again. A failure leaves the
//! timer to be tried again by the timer loop.

use serde_json::json;

use crate::app::campaigns::commit::{commit, Acting, Failure};
use crate::app::shared::services::Services;
use crate::campaign::{Actor, Campaign, CampaignAction, Source};
use crate::store::Table;

pub use crate::app::shared::timer_entries::{
    access_ended as timer_for, ACCESS_ENDED as TIMER, FOLLOW_UP_AFTER,
};

/// The campaigns' index entry of an undecided item reviewing `request_id`'s grant.
pub(super) fn index_name(request_id: &str) -> String {
    format!("item:{request_id}")
}

/// Fires the timer of `request_id`: closes its undecided items in every running
/// campaign. `Err`: try again later.
pub async fn fire(services: &Services, request_id: &str) -> anyhow::Result<()> {
    let Some(stored) = services.load_request(request_id).await? else {
        return Ok(());
    };
    if timer_for(&stored.data).is_none() {
        return Ok(());
    }
    let campaigns = services
        .store
        .index::<Campaign>(Table::Campaigns, &index_name(request_id))
        .await?;
    for (id, campaign) in campaigns {
        let items: Vec<u32> = campaign
            .data
            .items
            .iter()
            .filter(|i| !i.is_decided())
            .filter(|i| matches!(&i.source, Source::Grant { request_id: r } if r == request_id))
            .map(|i| i.id)
            .collect();
        if items.is_empty() {
            continue;
        }
        let acting = Acting::new(Actor::new("c1bot"), "campaign.access_ended")
            .detail(json!({ "items": items, "request": request_id }));
        match commit(services, &id, CampaignAction::CloseEnded { items }, &acting).await {
            Ok(_) => {
                tracing::info!(campaign = %id, request_id, "review items closed: the access ended")
            }
            // Not running any more (completed): nothing is left to close.
            Err(Failure::Refused(refusal)) => {
                tracing::info!(campaign = %id, reason = %refusal.message(&id), "review items left as they are")
            }
            Err(Failure::Trouble(text)) => anyhow::bail!("campaign {id}: {text}"),
        }
    }
    Ok(())
}
