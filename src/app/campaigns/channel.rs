//! The campaign channel modal: an owner names a channel, new (`conversations.create`,
//! with an optional description set as its purpose) or existing (c1bot finds and
//! joins it after the ack: [`existing`]).
//!
//! What can be checked at once is checked before the modal closes, with the reason
//! in the modal: the owner and the campaign's state on the stored campaign, the name
//! by [`crate::campaign::channel_name`]. A new channel is then created before the
//! ack (one call; `name_taken` is answered in the modal). An existing one is looked
//! up through `conversations.list`, which pages at Tier 2 in a large workspace, so
//! the submission is journaled, the modal closes, and the owner is told by DM what
//! came of it. Either way the channel is attached by [`crate::campaign::apply`]; its
//! invitations and status message go out through the outbox with that commit.

pub mod existing;

use crate::features::FeatureId;
use serde_json::{json, Value};

use crate::app::campaigns::commit::{commit, Acting};
use crate::app::campaigns::field_error;
use crate::app::campaigns::render;
use crate::app::shared::services::Services;
use crate::campaign::channel_name::{check_description, ChannelName, NameProblem};
use crate::campaign::{apply, Actor, CampaignAction};
use crate::slack::view_input::ViewInput;
use crate::slack::web::answers::ChannelCreated;
use crate::slack::web::{methods, WebApiError};
use crate::store::OutboxMessage;

/// Values of the modal's radio buttons.
pub const NEW: &str = "new";
pub const EXISTING: &str = "existing";

/// Block ids of the modal's fields (where errors are shown).
const NAME: &str = "channel_name";
const DESCRIPTION: &str = "channel_description";
const KIND: &str = "channel_kind";

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
    let stored = crate::app::campaigns::stored(services, id).await?;
    attach_allowed(&stored.data, user, services.now()).map_err(|refusal| refusal.message(id))
}

/// The campaign's own rules for attaching a channel, asked with a probe action.
fn attach_allowed(
    campaign: &crate::campaign::Campaign,
    user: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), crate::campaign::Refusal> {
    let probe = CampaignAction::AttachChannel {
        id: String::new(),
        name: String::new(),
        created: false,
    };
    apply(campaign, probe, &Actor::new(user), now).map(drop)
}

/// What the modal says.
struct Form {
    kind: String,
    name: String,
    description: String,
}

fn read_form(input: &ViewInput) -> Form {
    let value = |block: &str| input.words(block).unwrap_or_default();
    Form {
        kind: value(KIND),
        name: value(NAME),
        description: value(DESCRIPTION),
    }
}

/// What a submission of the modal comes to before its ack.
#[derive(Debug)]
pub enum Screened {
    /// The ack's payload: errors in the modal, or `None` (closed, all done).
    Answer(Option<Value>),
    /// Valid so far; an existing channel to find and attach after the ack
    /// ([`existing::attach`]), so the submission is journaled first.
    Later,
}

/// The modal's submission, checked at once: refused in the modal, or a new channel
/// created and attached, or an existing one left for after the ack.
pub async fn screen(services: &Services, user: &str, input: &ViewInput) -> Screened {
    // The campaign id is only a key: everything is checked on the stored campaign.
    let id = input.metadata.clone();
    if let Err(refusal) = may_attach(services, user, &id).await {
        return Screened::Answer(field_error(NAME, refusal));
    }
    let form = read_form(input);
    let name = match ChannelName::parse(&form.name) {
        Ok(name) => name,
        Err(problem) => return Screened::Answer(field_error(NAME, problem.explain())),
    };
    Screened::Answer(match form.kind.as_str() {
        NEW => create_and_attach(services, user, &id, &name, &form.description).await,
        EXISTING if !form.description.is_empty() => field_error(
            DESCRIPTION,
            "c1bot sets a description only on a channel it creates; leave this empty for an existing channel.".into(),
        ),
        EXISTING => return Screened::Later,
        _ => field_error(KIND, "Choose a new or an existing channel.".into()),
    })
}

/// A new channel created and attached before the ack, or the reason in the modal.
async fn create_and_attach(
    services: &Services,
    user: &str,
    id: &str,
    name: &ChannelName,
    description: &str,
) -> Option<Value> {
    if let Err(long) = check_description(description) {
        return field_error(DESCRIPTION, long.explain());
    }
    let channel = match create(services, name).await {
        Ok(channel) => channel,
        Err(problem) => return field_error(NAME, problem),
    };
    let purpose = (!description.is_empty()).then(|| {
        OutboxMessage::call(
            methods::CONVERSATIONS_SET_PURPOSE.name,
            json!({ "channel": channel, "purpose": description }),
        )
        .if_refused(
            vec![user.to_owned()],
            format!("Access review {id}: c1bot could not set the description of <#{channel}>"),
        )
    });
    let mut acting = attaching(user, &channel, name, true);
    acting.extra = purpose.into_iter().collect();
    let action = CampaignAction::AttachChannel {
        id: channel.clone(),
        name: name.to_string(),
        created: true,
    };
    match commit(services, id, action, &acting).await {
        Ok(_) => None,
        Err(failure) => {
            let mut text = failure.message(id);
            text.push_str(&format!(
                " The channel #{name} was created; choose \"Use an existing channel\" to attach it."
            ));
            field_error(NAME, text)
        }
    }
}

/// The audited acting of attaching `channel` (created or joined).
fn attaching(user: &str, channel: &str, name: &ChannelName, created: bool) -> Acting {
    Acting::new(Actor::new(user), "campaign.channel_attached").detail(json!({
        "channel": channel,
        "name": name.as_str(),
        "created": created,
    }))
}

/// A new public channel named `name`: its id, or why not (for the modal).
async fn create(services: &Services, name: &ChannelName) -> Result<String, String> {
    let answer = services
        .web
        .call_as::<ChannelCreated>(
            methods::CONVERSATIONS_CREATE,
            json!({ "name": name.as_str(), "is_private": false }),
        )
        .await;
    match answer {
        Ok(created) => Ok(created.channel.id),
        Err(WebApiError::Decode { .. }) => {
            Err("Slack's answer named no channel; nothing was attached. Try again.".into())
        }
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

pub(super) fn trouble(services: &Services, what: &str, error: &WebApiError) -> String {
    tracing::warn!(%error, what, "campaign channel call failed");
    if let Some(waiting) = scope_refusal(services, error) {
        return waiting;
    }
    format!("c1bot could not {what} just now; nothing was attached. Try again in a moment.")
}

/// A `missing_scope` answer (a scope removed since start-up) in the words people get
/// for a feature waiting for an admin; the Web API client has switched it off.
pub(super) fn scope_refusal(services: &Services, error: &WebApiError) -> Option<String> {
    (error.slack_code() == Some("missing_scope"))
        .then(|| services.features.refusal(FeatureId::CampaignChannels))
        .flatten()
}
