//! The campaign channel modal: an owner names a channel, new (`conversations.create`,
//! with an optional description set as its purpose) or existing (c1bot joins it).
//!
//! Everything is checked before anything is created, with the reason in the modal:
//! the owner and the campaign's state on the stored campaign, the name by
//! [`crate::campaign::channel_name`], then Slack's own answer (`name_taken`, a
//! channel c1bot cannot see or join). Only then is the channel attached by
//! [`crate::campaign::apply`]; its invitations and status message go out through
//! the outbox with that commit.

use crate::features::FeatureId;
use serde_json::{json, Value};

use super::commit::{commit, Acting};
use super::field_error;
use super::render;
use crate::app::services::Services;
use crate::campaign::channel_name::{check_description, ChannelName, NameProblem};
use crate::campaign::{apply, Actor, CampaignAction};
use crate::slack::web::{in_words, methods, WebApiError};
use crate::store::OutboxMessage;

pub const CALLBACK_ID: &str = "c1_campaign_channel";
/// Values of the modal's radio buttons.
pub const NEW: &str = "new";
pub const EXISTING: &str = "existing";

/// Block ids of the modal's fields (where errors are shown).
const NAME: &str = "channel_name";
const DESCRIPTION: &str = "channel_description";
const KIND: &str = "channel_kind";

/// `conversations.list` pages read looking for an existing channel (200 each).
const LIST_PAGES: usize = 50;

/// *Add channel* on the owner's card: the modal, if this person may attach one now.
pub(super) async fn open_modal(
    services: &Services,
    user: &str,
    trigger_id: &str,
    id: &str,
) -> Result<(), String> {
    if let Some(refusal) = services.features.refusal(FeatureId::CampaignChannels) {
        return Err(refusal);
    }
    may_attach(services, user, id).await?;
    let view = render::channel_modal(services, id).map_err(|error| {
        tracing::error!(%error, "cannot render the channel modal");
        "c1bot could not open the channel form just now; try again.".to_owned()
    })?;
    services
        .open_view(trigger_id, view, "campaign channel")
        .await;
    Ok(())
}

/// Whether `user` may attach a channel to campaign `id` now (an owner, the campaign
/// not completed, no channel attached): the campaign's own rules, tried on the
/// stored campaign before anything is created.
async fn may_attach(services: &Services, user: &str, id: &str) -> Result<(), String> {
    let stored = super::stored(services, id).await?;
    let probe = CampaignAction::AttachChannel {
        id: String::new(),
        name: String::new(),
        created: false,
    };
    apply(&stored.data, probe, &Actor::new(user), services.now())
        .map(drop)
        .map_err(|refusal| refusal.message(id))
}

/// What the modal says.
struct Form {
    kind: String,
    name: String,
    description: String,
}

fn read_form(view: &Value) -> Form {
    let value = |block: &str, action: &str, pointer: &str| {
        view.pointer(&format!("/state/values/{block}/{action}{pointer}"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    Form {
        kind: value(KIND, "channel_kind_select", "/selected_option/value"),
        name: value(NAME, "channel_name_input", "/value"),
        description: value(DESCRIPTION, "channel_description_input", "/value"),
    }
}

/// The modal's submission: the channel created or joined and attached, or the
/// reason in the modal with nothing changed.
pub async fn submitted(services: &Services, user: &str, view: &Value) -> Option<Value> {
    let id = super::campaign_of(view);
    if let Err(refusal) = may_attach(services, user, &id).await {
        return field_error(NAME, refusal);
    }
    let form = read_form(view);
    let name = match ChannelName::parse(&form.name) {
        Ok(name) => name,
        Err(problem) => return field_error(NAME, problem.explain()),
    };
    let (channel, created, extra) = match form.kind.as_str() {
        NEW => {
            if let Err(long) = check_description(&form.description) {
                return field_error(DESCRIPTION, long.explain());
            }
            let channel = match create(services, &name).await {
                Ok(channel) => channel,
                Err(problem) => return field_error(NAME, problem),
            };
            let purpose = (!form.description.is_empty()).then(|| {
                OutboxMessage::call(
                    methods::CONVERSATIONS_SET_PURPOSE.name,
                    json!({ "channel": channel, "purpose": form.description }),
                )
                .if_refused(
                    vec![user.to_owned()],
                    format!(
                        "Access review {id}: c1bot could not set the description of <#{channel}>"
                    ),
                )
            });
            (channel, true, purpose.into_iter().collect())
        }
        EXISTING => {
            if !form.description.is_empty() {
                return field_error(
                    DESCRIPTION,
                    "c1bot sets a description only on a channel it creates; leave this empty for an existing channel.".into(),
                );
            }
            match join(services, &name).await {
                Ok(channel) => (channel, false, Vec::new()),
                Err(problem) => return field_error(NAME, problem),
            }
        }
        _ => return field_error(KIND, "Choose a new or an existing channel.".into()),
    };
    let mut acting = Acting::new(Actor::new(user), "campaign.channel_attached").detail(json!({
        "channel": channel,
        "name": name.as_str(),
        "created": created,
    }));
    acting.extra = extra;
    let action = CampaignAction::AttachChannel {
        id: channel.clone(),
        name: name.to_string(),
        created,
    };
    match commit(services, &id, action, &acting).await {
        Ok(_) => None,
        Err(failure) => {
            let mut text = failure.message(&id);
            if created {
                text.push_str(&format!(
                    " The channel #{name} was created; choose \"Use an existing channel\" to attach it."
                ));
            }
            field_error(NAME, text)
        }
    }
}

/// A new public channel named `name`: its id, or why not (for the modal).
async fn create(services: &Services, name: &ChannelName) -> Result<String, String> {
    let answer = services
        .web
        .call(
            methods::CONVERSATIONS_CREATE,
            json!({ "name": name.as_str(), "is_private": false }),
        )
        .await;
    match answer {
        Ok(response) => channel_id(&response.body),
        Err(error) => Err(match error.slack_code() {
            Some("name_taken") => NameProblem::Taken {
                name: name.to_string(),
            }
            .explain(),
            Some(code) if code.starts_with("invalid_name") => {
                format!("Slack does not accept #{name} as a channel name ({code}).")
            }
            _ => trouble(services, "create the channel", &error),
        }),
    }
}

/// The existing channel named `name`, joined if c1bot is not in it yet: its id, or
/// why not (for the modal).
async fn join(services: &Services, name: &ChannelName) -> Result<String, String> {
    let Some(found) = find(services, name).await? else {
        return Err(format!(
            "c1bot cannot find a channel named #{name}. If it is private, add c1bot to it first; or choose \"Create a new channel\"."
        ));
    };
    let id = channel_id(&json!({ "channel": found }))?;
    if found.get("is_archived").and_then(Value::as_bool) == Some(true) {
        return Err(format!("#{name} is archived; choose another channel."));
    }
    if found.get("is_member").and_then(Value::as_bool) == Some(true) {
        return Ok(id);
    }
    match services
        .web
        .call(methods::CONVERSATIONS_JOIN, json!({ "channel": id }))
        .await
    {
        Ok(_) => Ok(id),
        Err(error) => Err(match error.slack_code() {
            Some("missing_scope") => trouble(services, "join the channel", &error),
            Some(code) => format!("c1bot could not join #{name}: {}.", in_words(code)),
            None => trouble(services, "join the channel", &error),
        }),
    }
}

/// The channel called `name` among those c1bot can see (public ones, and private
/// ones it is in), reading `conversations.list` page by page.
async fn find(services: &Services, name: &ChannelName) -> Result<Option<Value>, String> {
    let mut cursor = String::new();
    for _ in 0..LIST_PAGES {
        let mut args = json!({
            "types": "public_channel,private_channel",
            "exclude_archived": false,
            "limit": 200,
        });
        if !cursor.is_empty() {
            args["cursor"] = json!(cursor);
        }
        let page = services
            .web
            .call(methods::CONVERSATIONS_LIST, args)
            .await
            .map_err(|error| trouble(services, "look the channel up", &error))?;
        let channels = page
            .body
            .get("channels")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if let Some(found) = channels
            .into_iter()
            .find(|c| c.get("name").and_then(Value::as_str) == Some(name.as_str()))
        {
            return Ok(Some(found));
        }
        cursor = page
            .body
            .pointer("/response_metadata/next_cursor")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if cursor.is_empty() {
            return Ok(None);
        }
    }
    tracing::warn!(pages = LIST_PAGES, "stopped looking for a channel");
    Ok(None)
}

fn channel_id(body: &Value) -> Result<String, String> {
    body.pointer("/channel/id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| "Slack's answer named no channel; nothing was attached. Try again.".into())
}

fn trouble(services: &Services, what: &str, error: &WebApiError) -> String {
    tracing::warn!(%error, what, "campaign channel call failed");
    if let Some(waiting) = scope_refusal(services, error) {
        return waiting;
    }
    format!("c1bot could not {what} just now; nothing was attached. Try again in a moment.")
}

/// A `missing_scope` answer (a scope removed since start-up) in the words people get
/// for a feature waiting for an admin; the Web API client has switched it off.
fn scope_refusal(services: &Services, error: &WebApiError) -> Option<String> {
    (error.slack_code() == Some("missing_scope"))
        .then(|| services.features.refusal(FeatureId::CampaignChannels))
        .flatten()
}
