//! Campaign messages as Block Kit: the modal, the owners' card and the reviewers'
//! pages, from `blocks/campaign_*.json`. Pure rendering into outbox messages.

use crate::features::{FeatureId, Status};
use serde_json::Value;

use crate::app::campaigns::form::{DUE_DAYS, PAIR};
use crate::app::shared::services::Services;
use crate::campaign::pages::{pages, Layout};
use crate::campaign::progress::waiting_reviewers;
use crate::campaign::progress::{items_of, status_line};
use crate::campaign::{Campaign, CampaignState, Item, Source, Verdict};
use crate::controls::CampaignButton;
use crate::store::OutboxMessage;
use crate::templates::{Choice, Vars};

/// A review page spends a header, the two list placeholders' neighbours and
/// *Certify all*; each undecided item a section and its buttons.
/// A static select offers at most 100 options.
const MAX_OPTIONS: usize = 100;

const LAYOUT: Layout = Layout {
    per_item: 2,
    fixed: 4,
};

/// The `/c1 campaign` modal; `groups` (option text, id) offered as reviewer groups.
pub(super) fn modal(services: &Services, groups: Vec<(String, String)>) -> anyhow::Result<Value> {
    let choice = |text: String, value: String| Choice {
        text,
        value,
        selected: false,
    };
    let catalog = &services.catalog;
    let resources = catalog
        .resources()
        .iter()
        .take(MAX_OPTIONS)
        .map(|r| choice(r.name.clone(), r.id.as_str().to_owned()))
        .collect();
    let spaces = catalog
        .spaces()
        .iter()
        .take(MAX_OPTIONS)
        .map(|s| choice(s.name.clone(), s.id.as_str().to_owned()))
        .collect();
    let entitlements = catalog
        .resources()
        .iter()
        .flat_map(|r| {
            r.entitlements.iter().map(move |e| {
                choice(
                    format!("{}: {}", r.name, e.name),
                    format!("{}{PAIR}{}", r.id.as_str(), e.id.as_str()),
                )
            })
        })
        .take(MAX_OPTIONS)
        .collect();
    let due = DUE_DAYS
        .iter()
        .map(|days| Choice {
            text: format!("In {days} days"),
            value: days.to_string(),
            selected: *days == 14,
        })
        .collect();
    let group_select = if groups.is_empty() {
        Vec::new()
    } else {
        let options = groups
            .into_iter()
            .map(|(text, id)| choice(text, id))
            .collect();
        vec![Vars::new().options("groups", options)]
    };
    let vars = Vars::new()
        .options("resources", resources)
        .options("spaces", spaces)
        .options("entitlements", entitlements)
        .options("due", due)
        .list("groups", group_select);
    Ok(services.templates().render("campaign_modal", &vars)?)
}

/// The card every owner has in their DM (posted when `fresh`, else edited).
pub(super) fn owner_cards(
    services: &Services,
    campaign: &Campaign,
    fresh: bool,
) -> anyhow::Result<Vec<OutboxMessage>> {
    let button = |action: CampaignButton, label: &str| {
        Vars::new()
            .text("action", action.id())
            .text("label", label)
            .text("campaign_id", &campaign.id)
    };
    let mut buttons = match campaign.state {
        CampaignState::Draft => vec![button(CampaignButton::Start, "Start")],
        CampaignState::Running { .. } => vec![
            button(CampaignButton::End, "End"),
            button(CampaignButton::Reassign, "Reassign"),
        ],
        CampaignState::Completed { .. } => Vec::new(),
    };
    let completed = matches!(campaign.state, CampaignState::Completed { .. });
    match (&campaign.channel, completed) {
        (_, true) => {}
        // Turned off in the config: no button. Waiting for a scope: the button stays,
        // and says so when clicked.
        (None, false) => {
            if services.features.status(FeatureId::CampaignChannels) != Status::Off {
                buttons.push(button(CampaignButton::AddChannel, "Add channel"));
            }
        }
        (Some(channel), false) => {
            buttons.push(if channel.active {
                button(CampaignButton::ChannelDeactivate, "Deactivate channel")
            } else {
                button(CampaignButton::ChannelActivate, "Activate channel")
            });
            buttons.push(button(CampaignButton::ChannelRemove, "Remove channel"));
        }
    }
    let channel = match &campaign.channel {
        None => Vars::new()
            .text("channel", "None")
            .text("channel_state", ""),
        Some(c) => Vars::new().mention("channel", &c.id).text(
            "channel_state",
            if c.active {
                ""
            } else {
                " (deactivated: nothing is posted)"
            },
        ),
    };
    let state = match campaign.state {
        CampaignState::Draft => "Draft: not started",
        CampaignState::Running { .. } => "Running",
        CampaignState::Completed { .. } => "Completed",
    };
    let vars = channel
        .text("campaign_id", &campaign.id)
        .text("name", &campaign.name)
        .text("scope", scope_line(services, campaign))
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

/// "Reviews access to AWS production, ReadOnly on Grafana, the Production space".
fn scope_line(services: &Services, campaign: &Campaign) -> String {
    let catalog = &services.catalog;
    let resource_name = |id: &str| {
        catalog
            .resource(id)
            .map_or(id.to_owned(), |r| r.name.clone())
    };
    let scope = &campaign.scope;
    let mut parts: Vec<String> = scope.resources.iter().map(|id| resource_name(id)).collect();
    parts.extend(scope.entitlements.iter().map(|(resource, entitlement)| {
        let name = catalog
            .resource(resource)
            .and_then(|r| r.entitlements.iter().find(|e| e.id.as_str() == entitlement))
            .map_or(entitlement.clone(), |e| e.name.clone());
        format!("{name} on {}", resource_name(resource))
    }));
    parts.extend(scope.spaces.iter().map(|id| {
        let name = catalog.space(id).map_or(id.clone(), |s| s.name.clone());
        format!("the {name} space")
    }));
    format!("Reviews access to {}", parts.join(", "))
}

/// How many review pages `reviewer` has been sent for `campaign` as it was.
pub(super) fn page_count(campaign: &Campaign, reviewer: &str) -> usize {
    pages(items_of(campaign, reviewer).len(), LAYOUT).map_or(0, |p| p.len())
}

/// The reviewer's pages, each the same slice of their items every time so that an
/// edit lands on the message that showed the item. The first `posted` pages exist
/// and are edited; later ones are posted. A page that no longer has items (they
/// were reassigned) is edited to show none.
pub(super) fn review_pages(
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

pub(super) fn message(card: Value, to: &str, key: String, fresh: bool) -> OutboxMessage {
    if fresh {
        OutboxMessage::post(to, &card, key)
    } else {
        OutboxMessage::update(&card, key)
    }
}

/// The status message in the campaign's channel (posted when `fresh`, else edited),
/// under the key of the channel's attachment so a re-added channel gets its own.
pub(super) fn status_message(
    services: &Services,
    campaign: &Campaign,
    channel: &str,
    fresh: bool,
) -> anyhow::Result<OutboxMessage> {
    let state = match campaign.state {
        CampaignState::Draft => "Not started yet",
        CampaignState::Running { .. } => "Running",
        CampaignState::Completed { .. } => "Completed",
    };
    // After Deactivate or Remove this is the message's last edit: say so.
    let state = match &campaign.channel {
        Some(posting) if posting.id == channel && posting.active => state.to_owned(),
        Some(paused) if paused.id == channel => {
            format!("{state} · updates paused: an owner deactivated this channel")
        }
        _ => format!("{state} · updates stopped: this channel was removed from the review"),
    };
    let vars = Vars::new()
        .text("campaign_id", &campaign.id)
        .text("name", &campaign.name)
        .text("scope", scope_line(services, campaign))
        .text("state", state)
        .text("progress", status_line(campaign))
        .date("due", campaign.due.timestamp())
        .text("reminders", campaign.reminders.to_string())
        .mentions("owners", &campaign.owners)
        .date("updated_at", services.now().timestamp());
    let card = services.templates().render("campaign_status", &vars)?;
    let key = format!("{}/status/{}", campaign.id, campaign.channels_attached);
    Ok(message(card, channel, key, fresh))
}

/// A reminder DM to each of `reviewers`, and one in the channel while it posts.
pub(super) fn reminders(
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

/// The channel modal for `campaign_id`, "Create a new channel" chosen.
pub(super) fn channel_modal(services: &Services, campaign_id: &str) -> anyhow::Result<Value> {
    let kinds = [
        ("Create a new channel", crate::app::campaigns::channel::NEW),
        (
            "Use an existing channel",
            crate::app::campaigns::channel::EXISTING,
        ),
    ]
    .iter()
    .map(|(text, value)| Choice {
        text: (*text).to_owned(),
        value: (*value).to_owned(),
        selected: *value == crate::app::campaigns::channel::NEW,
    })
    .collect();
    let vars = Vars::new()
        .text("campaign_id", campaign_id)
        .options("kinds", kinds);
    Ok(services
        .templates()
        .render("campaign_channel_modal", &vars)?)
}

/// The reassign modal for `campaign_id`, offering `items` (text, item id).
pub(super) fn reassign_modal(
    services: &Services,
    campaign_id: &str,
    items: Vec<(String, u32)>,
) -> anyhow::Result<Value> {
    let choices = items
        .into_iter()
        .map(|(text, id)| Choice {
            text,
            value: id.to_string(),
            selected: false,
        })
        .collect();
    let vars = Vars::new()
        .text("campaign_id", campaign_id)
        .options("items", choices);
    Ok(services
        .templates()
        .render("campaign_reassign_modal", &vars)?)
}
