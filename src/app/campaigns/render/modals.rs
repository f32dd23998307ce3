//! The campaign modals as Block Kit: `/c1 campaign`'s, the channel modal and the
//! reassign modal, from `blocks/campaign_*modal.json`.

use serde_json::Value;

use crate::app::campaigns::form::{DUE_DAYS, PAIR};
use crate::app::shared::services::Services;
use crate::templates::{Choice, Vars};

/// A static select offers at most 100 options.
const MAX_OPTIONS: usize = 100;

/// The `/c1 campaign` modal; `groups` (option text, id) offered as reviewer groups.
pub(in crate::app::campaigns) fn modal(
    services: &Services,
    groups: Vec<(String, String)>,
) -> anyhow::Result<Value> {
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

/// The channel modal for `campaign_id`, "Create a new channel" chosen.
pub(in crate::app::campaigns) fn channel_modal(
    services: &Services,
    campaign_id: &str,
) -> anyhow::Result<Value> {
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
pub(in crate::app::campaigns) fn reassign_modal(
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
