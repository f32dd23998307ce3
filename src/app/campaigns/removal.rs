//! The owners' message for a revoked catalog member's access, which c1bot cannot
//! remove itself: what to remove and where, with *Mark done* until an owner marks
//! it (`CampaignAction::MarkRemoved`, decided on the stored campaign), then who did
//! and when. Posted by the revoke's commit, edited by the mark's.

use crate::app::campaigns::render::message;
use crate::app::shared::services::Services;
use crate::campaign::Campaign;
use crate::controls::CampaignButton;
use crate::store::OutboxMessage;
use crate::templates::{Mrkdwn, Vars};

/// The message asking every owner to remove a revoked catalog member's access
/// (posted when `fresh`, else edited under `CMP-1/removal/<item>/<owner>`): *Mark
/// done* until an owner marks it, then who did and when.
pub(super) fn notices(
    services: &Services,
    campaign: &Campaign,
    item: u32,
    fresh: bool,
) -> anyhow::Result<Vec<OutboxMessage>> {
    let Some(found) = campaign.item(item) else {
        return Ok(Vec::new());
    };
    // The catalog's names, as people know them (the ids if it no longer lists them).
    let resource = services.catalog.resource(&found.resource);
    let entitlement = resource
        .and_then(|r| {
            r.entitlements
                .iter()
                .find(|e| e.id.as_str() == found.entitlement)
        })
        .map_or(found.entitlement.as_str(), |e| e.name.as_str());
    let resource = resource.map_or(found.resource.as_str(), |r| r.name.as_str());
    let reviewer = found.decision.as_ref().map_or("", |d| d.by.as_str());
    let (state, buttons) = match &found.removed {
        None => (
            Mrkdwn::built("Not removed yet: click *Mark done* once it is."),
            vec![Vars::new()
                .text("action", CampaignButton::MarkRemoved.id())
                .text("label", "Mark done")
                .text("campaign_id", format!("{}:{item}", campaign.id))],
        ),
        Some(removal) => (
            Mrkdwn::built(format!(
                "Done: <@{}> marked it removed {}.",
                removal.by,
                crate::templates::slack_date(removal.at.timestamp())
            )),
            Vec::new(),
        ),
    };
    let vars = Vars::new()
        .text("campaign_id", &campaign.id)
        .mention("reviewer", reviewer)
        .mention("member", &found.beneficiary)
        .text("entitlement", entitlement)
        .text("resource", resource)
        .mrkdwn("state", state)
        .list("buttons", buttons);
    let notice = services.templates().render("campaign_removal", &vars)?;
    Ok(campaign
        .owners
        .iter()
        .map(|owner| {
            message(
                notice.clone(),
                owner,
                format!("{}/removal/{item}/{owner}", campaign.id),
                fresh,
            )
        })
        .collect())
}
