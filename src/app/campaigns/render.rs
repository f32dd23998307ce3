//! Campaign messages as Block Kit: the modal, the owners' card and the reviewers'
//! pages, from `blocks/campaign_*.json`. Pure rendering into outbox messages.

use serde_json::Value;

use super::{actions, DUE_DAYS};
use crate::app::services::Services;
use crate::campaign::pages::{pages, Layout};
use crate::campaign::progress::{items_of, status_line};
use crate::campaign::{Campaign, CampaignState, Item, Source, Verdict};
use crate::store::OutboxMessage;
use crate::templates::{Choice, Vars};

/// A review page spends a header, the two list placeholders' neighbours and
/// *Certify all*; each undecided item a section and its buttons.
const LAYOUT: Layout = Layout {
    per_item: 2,
    fixed: 4,
};

pub(super) fn modal(services: &Services) -> anyhow::Result<Value> {
    let resources = services
        .catalog
        .resources()
        .iter()
        .take(100)
        .map(|r| Choice {
            text: r.name.clone(),
            value: r.id.as_str().to_owned(),
            selected: false,
        })
        .collect();
    let due = DUE_DAYS
        .iter()
        .map(|days| Choice {
            text: format!("In {days} days"),
            value: days.to_string(),
            selected: *days == 14,
        })
        .collect();
    let vars = Vars::new()
        .options("resources", resources)
        .options("due", due);
    Ok(services.templates().render("campaign_modal", &vars)?)
}

/// The card every owner has in their DM (posted when `fresh`, else edited).
pub(super) fn owner_cards(
    services: &Services,
    campaign: &Campaign,
    fresh: bool,
) -> anyhow::Result<Vec<OutboxMessage>> {
    let button = |action: &str, label: &str| {
        Vars::new()
            .text("action", action)
            .text("label", label)
            .text("campaign_id", &campaign.id)
    };
    let buttons = match campaign.state {
        CampaignState::Draft => vec![button(actions::START, "Start")],
        CampaignState::Running { .. } => vec![button(actions::END, "End")],
        CampaignState::Completed { .. } => Vec::new(),
    };
    let scope: Vec<String> = campaign
        .scope
        .resources
        .iter()
        .map(|id| {
            services
                .catalog
                .resource(id)
                .map_or(id.clone(), |r| r.name.clone())
        })
        .collect();
    let state = match campaign.state {
        CampaignState::Draft => "Draft: not started",
        CampaignState::Running { .. } => "Running",
        CampaignState::Completed { .. } => "Completed",
    };
    let vars = Vars::new()
        .text("campaign_id", &campaign.id)
        .text("name", &campaign.name)
        .text("scope", format!("Reviews access to {}", scope.join(", ")))
        .text("state", state)
        .text("progress", status_line(campaign))
        .date("due", campaign.due.timestamp())
        .mentions("owners", &campaign.owners)
        .list("buttons", buttons);
    let card = services.templates().render("campaign_card", &vars)?;
    Ok(campaign
        .owners
        .iter()
        .map(|owner| {
            message(
                card.clone(),
                owner,
                format!("{}/owner/{owner}", campaign.id),
                fresh,
            )
        })
        .collect())
}

/// The reviewer's pages, each the same slice of their items every time so that an
/// edit lands on the message that showed the item.
pub(super) fn review_pages(
    services: &Services,
    campaign: &Campaign,
    reviewer: &str,
    fresh: bool,
) -> anyhow::Result<Vec<OutboxMessage>> {
    let mine = items_of(campaign, reviewer);
    let ranges = pages(mine.len(), LAYOUT)
        .map_err(|_| anyhow::anyhow!("a review page cannot hold one item"))?;
    let total = ranges.len();
    let running = matches!(campaign.state, CampaignState::Running { .. });
    let mut out = Vec::with_capacity(total);
    for (index, range) in ranges.into_iter().enumerate() {
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
        let all = if running && mine.iter().any(|i| !i.is_decided()) {
            vec![Vars::new()
                .text("action", actions::CERTIFY_ALL)
                .text("label", "Certify all")
                .text("campaign_id", &campaign.id)]
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
        Some(review) => format!(
            "{} by {}",
            match review.verdict {
                Verdict::Certify => "Certified",
                Verdict::Revoke => "Revoked",
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

fn message(card: Value, to: &str, key: String, fresh: bool) -> OutboxMessage {
    if fresh {
        OutboxMessage::post(to, &card, key)
    } else {
        OutboxMessage::update(&card, key)
    }
}
