//! Which envelopes are journaled before their ack, and how a journaled envelope is
//! processed: each to the feature that decides it, with the journal row's completion
//! carried in the feature's own commit.
//!
//! Journaled: clicks that decide or change something (Approve, Cancel, Mark
//! complete, I'm done, campaign and DM-conversation buttons), a complete one-line
//! `/c1 request`, `/c1 revoke` with a reason, and a person's message in their DM.
//! Not journaled: what changes nothing (opening a modal, `/c1 status`, App Home)
//! and modal submissions, which are decided and committed before their ack; except
//! the campaign channel modal naming an existing channel, which the handler checks,
//! then journals (its lookup pages through Slack) and which is processed here.

use crate::app::journal::Outcome;
use crate::app::requests::one_line;
use crate::app::shared::commands::Command;
use crate::app::shared::services::Services;
use crate::app::{campaigns, decisions, dm, grants};
use crate::controls::{Button, Modal};
use crate::features::FeatureId;
use crate::slack::frame::Envelope;
use crate::slack::inbound::{deed, Deed, Inbound};
use crate::slack::interaction::Interaction;
use crate::store::{Change, JournalId};
use crate::workflow::approval::Action;
use crate::workflow::grant::TaskKind;

/// The button of a click that changes state, so it is journaled before its ack
/// ([`Button::journaled`]); `None` for any other action.
fn deciding(action_id: &str) -> Option<Button> {
    Button::from_id(action_id).filter(|button| button.journaled())
}

/// Whether an envelope, decoded as `inbound`, is journaled before its ack.
pub fn journaled(services: &Services, inbound: &Inbound) -> bool {
    match inbound {
        Inbound::Command(command) => match Command::parse(&command.text) {
            Command::Request(text) => one_line::is_complete(services, &text),
            Command::Revoke { request_id, reason } => {
                !request_id.is_empty() && !reason.trim().is_empty()
            }
            _ => false,
        },
        Inbound::Interaction(Interaction::BlockActions { actions, .. }) => {
            actions.iter().any(|a| deciding(&a.action_id).is_some())
        }
        Inbound::DirectMessage(_) => true,
        _ => false,
    }
}

pub use crate::app::shared::journaled::{person, Sender};

/// What the person did, in words, for the message that says it did not go through.
pub fn describe(envelope: &Envelope) -> String {
    use crate::app::shared::mrkdwn::escape;
    match deed(envelope) {
        Deed::Command(line) => format!("`{}`", escape(&line)),
        Deed::Form(title) => format!("form \"{}\"", escape(&title)),
        Deed::Click(button) => format!("click on {}", escape(&button)),
        Deed::Message => "message to c1bot".to_owned(),
    }
}

/// Processes journal row `id`, holding `envelope`. Every commit a feature makes for
/// it carries `Change::completes(id)`.
pub async fn process(services: &Services, id: JournalId, envelope: &Envelope) -> Outcome {
    let also = Change::new().completes(id);
    let Some(sender) = person(envelope) else {
        tracing::warn!(journal = %id, "a journaled envelope names nobody; dropped from the journal");
        return Outcome::Nothing;
    };
    let channel = sender.channel.clone().unwrap_or_default();
    match Inbound::decode(envelope) {
        Inbound::Command(command) => match Command::parse(&command.text) {
            Command::Request(text) => one_line::submit(services, &sender, &text, also).await,
            Command::Revoke { request_id, reason } => {
                grants::revoke_now(
                    services,
                    &sender,
                    &request_id,
                    crate::intake::as_seen(&reason),
                    also,
                )
                .await
            }
            _ => Outcome::Nothing,
        },
        Inbound::Interaction(interaction) => match interaction {
            Interaction::BlockActions {
                user,
                trigger_id,
                actions,
                ..
            } => {
                let Some((button, action)) = actions
                    .into_iter()
                    .find_map(|a| deciding(&a.action_id).map(|button| (button, a)))
                else {
                    return Outcome::Nothing;
                };
                let value = action.value;
                match button {
                    Button::Approve => {
                        crate::app::decisions::step_up::approve(
                            services,
                            &sender,
                            &trigger_id,
                            &value,
                            also,
                        )
                        .await
                    }
                    Button::BreakGlassOk => crate::app::requests::break_glass::review::looks_right(
                        services, &user, &value, &also,
                    )
                    .await
                    .into(),
                    Button::Cancel => {
                        decisions::act(services, &user, &value, Action::Cancel, &also)
                            .await
                            .into()
                    }
                    Button::TaskComplete => grants::act(
                        services,
                        &user,
                        &value,
                        grants::Ask::Complete(TaskKind::Grant),
                        &also,
                    )
                    .await
                    .into(),
                    Button::RevokeComplete => grants::act(
                        services,
                        &user,
                        &value,
                        grants::Ask::Complete(TaskKind::Revoke),
                        &also,
                    )
                    .await
                    .into(),
                    Button::AccessDone => grants::act(
                        services,
                        &user,
                        &value,
                        grants::Ask::Revoke(grants::DONE_REASON.into()),
                        &also,
                    )
                    .await
                    .into(),
                    Button::Dm(dm_button) => {
                        dm::clicked(
                            services,
                            &user,
                            &channel,
                            &trigger_id,
                            dm_button,
                            &value,
                            also,
                        )
                        .await
                    }
                    Button::Campaign(campaign_button) => {
                        campaigns::act(services, &user, &trigger_id, campaign_button, &value, &also)
                            .await
                    }
                    // Not journaled (they open a modal, after the ack): never found above.
                    Button::Deny
                    | Button::TaskFail
                    | Button::RevokeFail
                    | Button::AccessExtend
                    | Button::AccessRevoke
                    | Button::BreakGlassRevoke => Outcome::Nothing,
                }
            }
            Interaction::ViewSubmission {
                user,
                callback_id,
                input,
            } if Modal::from_id(&callback_id) == Some(Modal::CampaignChannel) => {
                campaigns::channel::existing::attach(services, &user, &input, &also).await
            }
            _ => Outcome::Nothing,
        },
        Inbound::DirectMessage(message) => match services.features.refusal(FeatureId::DmRequests) {
            Some(refusal) => Outcome::Refused(format!(
                "{refusal} Ask with `{} request` instead.",
                services.command
            )),
            None => dm::received(services, message, also).await,
        },
        Inbound::HomeOpened { .. } | Inbound::NotForC1bot { .. } | Inbound::Unreadable { .. } => {
            Outcome::Nothing
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slack::frame::EnvelopeKind;
    use serde_json::{json, Value};

    fn envelope(kind: EnvelopeKind, payload: Value) -> Envelope {
        Envelope::of(kind, payload)
    }

    #[test]
    fn deciding_buttons_are_journaled_and_modal_openers_are_not() {
        for id in [
            "approve",
            "task_complete",
            "access_done",
            "dm_submit",
            "campaign_certify",
            "campaign_start",
            "campaign_mark_removed",
        ] {
            assert!(deciding(id).is_some(), "{id}");
        }
        for id in [
            "deny",
            "task_fail",
            "access_extend",
            "campaign_add_channel",
            "campaign_reassign",
            "resource_select",
        ] {
            assert!(deciding(id).is_none(), "{id}");
        }
    }

    #[test]
    fn the_person_is_read_from_each_kind_of_envelope() {
        let click = envelope(
            EnvelopeKind::Interactive,
            json!({"type": "block_actions", "user": {"id": "U1"}, "container": {"channel_id": "D1"}}),
        );
        assert_eq!(
            person(&click),
            Some(Sender {
                user: "U1".into(),
                channel: Some("D1".into()),
                response_url: None,
            })
        );
        let command = envelope(
            EnvelopeKind::SlashCommands,
            json!({"user_id": "U2", "channel_id": "C2", "text": "request x"}),
        );
        assert_eq!(person(&command).map(|p| p.user), Some("U2".into()));
        let event = envelope(
            EnvelopeKind::EventsApi,
            json!({"event": {"type": "message", "user": "U3", "channel": "D3"}}),
        );
        assert_eq!(person(&event).and_then(|p| p.channel), Some("D3".into()));
        assert_eq!(person(&envelope(EnvelopeKind::EventsApi, json!({}))), None);
    }

    #[test]
    fn a_form_submission_is_described_by_its_title() {
        let submitted = envelope(
            EnvelopeKind::Interactive,
            json!({"type": "view_submission", "user": {"id": "U1"}, "view": {"title": {"type": "plain_text", "text": "Channel <now>"}}}),
        );
        assert_eq!(describe(&submitted), "form \"Channel &lt;now&gt;\"");
        let person = person(&submitted).expect("the person");
        assert_eq!((person.channel, person.response_url), (None, None));
    }

    #[test]
    fn a_refusal_is_told_through_the_response_url_else_where_the_person_acted_or_in_their_dm() {
        let url = "https://hooks.slack.com/actions/T1/1/x";
        let clicked = Sender {
            user: "U1".into(),
            channel: Some("D2".into()),
            response_url: Some(url.into()),
        }
        .tell("no");
        assert_eq!(clicked.method, crate::store::RESPONSE_URL);
        assert_eq!(clicked.args["response_url"], url);
        assert_eq!(clicked.args["response_type"], "ephemeral");
        let here = Sender {
            user: "U1".into(),
            channel: Some("C1".into()),
            response_url: None,
        }
        .tell("no");
        assert_eq!(here.method, "chat.postEphemeral");
        assert_eq!(here.args["channel"], "C1");
        let dm = Sender {
            user: "U1".into(),
            channel: None,
            response_url: None,
        }
        .tell("no");
        assert_eq!(dm.method, "chat.postMessage");
        assert_eq!(dm.args["channel"], "U1");
    }
}
