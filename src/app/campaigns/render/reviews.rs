//! The reviewers' DMs: their review pages (*Certify* / *Revoke* / *Certify all*),
//! each item's line, and the reminders sent to them and to the campaign's channel.

use super::message;
use crate::app::shared::services::Services;
use crate::campaign::pages::{pages, Layout};
use crate::campaign::progress::waiting_reviewers;
use crate::campaign::progress::{items_of, status_line};
use crate::campaign::{Campaign, CampaignState, Item, Source, Verdict};
use crate::store::OutboxMessage;
use crate::templates::Vars;

/// A review page spends a header, the two list placeholders' neighbours and
/// *Certify all*; each undecided item a section and its buttons.
const LAYOUT: Layout = Layout {
    per_item: 2,
    fixed: 4,
};

/// How many review pages `reviewer` has been sent for `campaign` as it was.
pub(in crate::app::campaigns) fn page_count(campaign: &Campaign, reviewer: &str) -> usize {
    pages(items_of(campaign, reviewer).len(), LAYOUT).map_or(0, |p| p.len())
}

/// The reviewer's pages, each the same slice of their items every time so that an
/// edit lands on the message that showed the item. The first `posted` pages exist
/// and are edited; later ones are posted. A page that no longer has items (they
/// were reassigned) is edited to show none.
pub(in crate::app::campaigns) fn review_pages(
    services: &Services,
    campaign: &Campaign,
    reviewer: &str,
    posted: usize,
) -> anyhow::Result<Vec<OutboxMessage>> {
    let mine = items_of(campaign, reviewer);
    let mut ranges = pages(mine.len(), LAYOUT)
        .map_err(|_| anyhow::anyhow!("a review page cannot hold one item"))?;
    while ranges.len() < posted {
        ranges.push(mine.len()..mine.len());
    }
    let total = ranges.len();
    let running = matches!(campaign.state, CampaignState::Running { .. });
    let mut out = Vec::with_capacity(total);
    for (index, range) in ranges.into_iter().enumerate() {
        let fresh = index >= posted;
        let slice = &mine[range];
        let open: Vec<Vars> = slice
            .iter()
            .filter(|i| !i.is_decided() && running)
            .map(|i| item_vars(services, campaign, i))
            .collect();
        let done: Vec<Vars> = slice
            .iter()
            .filter(|i| i.is_decided() || !running)
            .map(|i| item_vars(services, campaign, i))
            .collect();
        let undecided = mine.iter().filter(|i| !i.is_decided()).count();
        let all = if running && undecided > 0 {
            let count = match undecided {
                1 => "1 item".to_owned(),
                n => format!("{n} items"),
            };
            vec![Vars::new()
                .text("campaign_id", &campaign.id)
                .text("count", count)]
        } else {
            Vec::new()
        };
        let closing = if running {
            "All reviewed. Thank you."
        } else {
            "This review has ended."
        };
        let vars = Vars::new()
            .text("campaign_id", &campaign.id)
            .text("name", &campaign.name)
            .date("due", campaign.due.timestamp())
            .text(
                "page",
                if total > 1 {
                    format!("(page {} of {total})", index + 1)
                } else {
                    String::new()
                },
            )
            .text("closing", closing)
            .list("open", open)
            .list("done", done)
            .list("all", all);
        let page = services.templates().render("campaign_review", &vars)?;
        let key = format!("{}/review/{reviewer}/{}", campaign.id, index + 1);
        out.push(message(page, reviewer, key, fresh));
    }
    Ok(out)
}

fn item_vars(services: &Services, campaign: &Campaign, item: &Item) -> Vars {
    let resource = services.catalog.resource(&item.resource);
    let entitlement = resource.and_then(|r| {
        r.entitlements
            .iter()
            .find(|e| e.id.as_str() == item.entitlement)
    });
    let verdict = match &item.decision {
        Some(review) if review.verdict == Verdict::Ended => {
            "Closed: the access ended during the review".to_owned()
        }
        Some(review) => format!(
            "{} by {}",
            match review.verdict {
                Verdict::Certify => "Certified",
                Verdict::Revoke | Verdict::Ended => "Revoked",
            },
            if review.by == item.reviewer.clone().unwrap_or_default() {
                "you"
            } else {
                "another reviewer"
            }
        ),
        None => "Not reviewed".to_owned(),
    };
    let source = match &item.source {
        Source::Grant { request_id } => format!("granted by c1bot ({request_id})"),
        Source::Standing => "member in the catalog".to_owned(),
    };
    Vars::new()
        .mention("beneficiary", &item.beneficiary)
        .text(
            "resource",
            resource.map_or(item.resource.clone(), |r| r.name.clone()),
        )
        .text(
            "entitlement",
            entitlement.map_or(item.entitlement.clone(), |e| e.name.clone()),
        )
        .text("source", source)
        .text("verdict", verdict)
        .text("value", format!("{}:{}", campaign.id, item.id))
}

/// A reminder DM to each of `reviewers`, and one in the channel while it posts.
pub(in crate::app::campaigns) fn reminders(
    services: &Services,
    campaign: &Campaign,
    reviewers: &[String],
) -> anyhow::Result<Vec<OutboxMessage>> {
    let mut out = Vec::with_capacity(reviewers.len() + 1);
    for reviewer in reviewers {
        let left = items_of(campaign, reviewer)
            .iter()
            .filter(|i| !i.is_decided())
            .count();
        let count = if left == 1 {
            "1 item is".to_owned()
        } else {
            format!("{left} items are")
        };
        let vars = Vars::new()
            .text("campaign_id", &campaign.id)
            .text("name", &campaign.name)
            .text("count", count)
            .date("due", campaign.due.timestamp());
        let card = services.templates().render("campaign_reminder", &vars)?;
        out.push(OutboxMessage::post(
            reviewer,
            &card,
            format!("{}/reminder/{reviewer}/{}", campaign.id, campaign.reminders),
        ));
    }
    let running = matches!(campaign.state, CampaignState::Running { .. });
    if let Some(channel) = campaign.live_channel().filter(|_| running) {
        let vars = Vars::new()
            .text("campaign_id", &campaign.id)
            .text("name", &campaign.name)
            .text("progress", status_line(campaign))
            .mentions("reviewers", &waiting_reviewers(campaign))
            .date("due", campaign.due.timestamp());
        let card = services
            .templates()
            .render("campaign_channel_reminder", &vars)?;
        out.push(OutboxMessage::post(
            &channel.id,
            &card,
            format!("{}/reminder/channel/{}", campaign.id, campaign.reminders),
        ));
    }
    Ok(out)
}
