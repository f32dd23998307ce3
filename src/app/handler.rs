//! c1bot's answer to each envelope: the application side of
//! [`EnvelopeHandler`](crate::slack::dispatch::EnvelopeHandler).
//!
//! It decides the ack payload fast and spawns any Web API work after, so a slow
//! Slack never delays an ack. The exceptions are answers that must travel in the ack
//! itself: typeahead options, and a modal submission's validation (a valid request
//! is stored durably before its modal closes).

use serde_json::{json, Value};
use slack_morphism::prelude::{SlackCommandEvent, SlackEventCallbackBody};

use super::commands::{usage, Command};
use super::grants::{self, Ask, Purpose};
use super::services::Services;
use super::{decisions, requests, status};
use crate::slack::dispatch::EnvelopeHandler;
use crate::slack::frame::{Envelope, EnvelopeKind, Inbound};
use crate::slack::interaction::Interaction;
use crate::workflow::approval::Action;
use crate::workflow::grant::TaskKind;

/// Bot event subscriptions c1bot answers; the manifest subscribes to exactly these.
/// `message.im` arrives as events of type `message` with `channel_type: im`.
pub const HANDLED_EVENTS: &[&str] = &[APP_HOME_OPENED, MESSAGE_IM];
const APP_HOME_OPENED: &str = "app_home_opened";
const MESSAGE_IM: &str = "message.im";

pub struct C1Handler {
    pub services: Services,
}

impl EnvelopeHandler for C1Handler {
    async fn handle(&self, envelope: Envelope) -> Option<Value> {
        if envelope.kind == EnvelopeKind::Interactive {
            // Routed on the raw payload: an interaction type slack-morphism does not
            // model must still reach us (or be ignored on purpose).
            return self
                .on_interaction(Interaction::parse(&envelope.payload))
                .await;
        }
        match envelope.decode() {
            Inbound::SlashCommand(command) => self.on_command(&command),
            Inbound::Event(callback) => {
                let event_type = envelope
                    .payload
                    .pointer("/event/type")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if event_type == "message" {
                    // Read from the raw event: what c1bot must ignore (edits, apps,
                    // channels) is decided on fields a typed model may drop.
                    match envelope.payload.get("event").and_then(super::dm::incoming) {
                        Some(message) => {
                            let services = self.services.clone();
                            tokio::spawn(
                                async move { super::dm::received(&services, message).await },
                            );
                        }
                        None => tracing::debug!("message event c1bot does not read; acked"),
                    }
                } else if HANDLED_EVENTS.contains(&event_type) {
                    self.on_event(callback.event);
                } else {
                    tracing::debug!(event_type, "event c1bot does not subscribe to; acked");
                }
                None
            }
            Inbound::Interaction(_) => None,
            Inbound::Unsupported { kind, detail } => {
                tracing::warn!(kind = kind.as_str(), payload_type = envelope.payload_type(), %detail, "payload of a kind c1bot does not handle; acked and ignored");
                None
            }
        }
    }
}

impl C1Handler {
    fn on_command(&self, command: &SlackCommandEvent) -> Option<Value> {
        let text = command.text.as_deref().unwrap_or_default();
        let user = command.user_id.to_string();
        tracing::info!(user = %user, command = %command.command, "slash command");
        let name = &self.services.command;
        match Command::parse(text) {
            Command::Request(text) => super::one_line::handle(
                &self.services,
                command.trigger_id.to_string(),
                command.channel_id.to_string(),
                user,
                &text,
            ),
            Command::Status => Some(status::status_message(&self.services, &user)),
            Command::Campaign => {
                super::campaigns::command(
                    &self.services,
                    command.trigger_id.to_string(),
                    command.channel_id.to_string(),
                    user,
                );
                None
            }
            Command::Revoke { request_id, reason } => super::grants::revoke_command(
                &self.services,
                command.trigger_id.to_string(),
                command.channel_id.to_string(),
                user,
                request_id,
                // Slack escapes mentions in the command's text; the reason is kept as seen.
                crate::intake::as_seen(&reason),
            ),
            Command::Help => Some(ephemeral(usage(name, None))),
            Command::Unknown(word) => Some(ephemeral(usage(name, Some(&word)))),
        }
    }

    async fn on_interaction(&self, interaction: Interaction) -> Option<Value> {
        let services = &self.services;
        match interaction {
            Interaction::BlockSuggestion {
                user,
                action_id,
                value,
                view,
            } if action_id == super::request_form::actions::RESOURCE => {
                Some(requests::suggest(services, &user, &value, &view).await)
            }
            Interaction::ViewSubmission {
                user,
                callback_id,
                view,
            } => match callback_id.as_str() {
                requests::CALLBACK_ID => requests::submit(services, &user, &view).await,
                decisions::DENY_CALLBACK_ID => {
                    decisions::deny_submitted(services, &user, &view).await
                }
                grants::TASK_FAIL_CALLBACK_ID | grants::REVOKE_CALLBACK_ID => {
                    grants::reason_submitted(services, &user, callback_id.as_str(), &view).await
                }
                super::extend::CALLBACK_ID => {
                    super::extend::submitted(services, &user, &view).await
                }
                super::campaigns::CALLBACK_ID => {
                    super::campaigns::submitted(services, &user, &view).await
                }
                super::campaigns::channel::CALLBACK_ID => {
                    super::campaigns::channel::submitted(services, &user, &view).await
                }
                super::campaigns::reassign::CALLBACK_ID => {
                    super::campaigns::reassign::submitted(services, &user, &view).await
                }
                other => {
                    tracing::warn!(
                        callback_id = other,
                        "submission of an unknown modal; closing it"
                    );
                    None
                }
            },
            Interaction::BlockActions {
                user,
                trigger_id,
                channel,
                view,
                actions,
            } => {
                let channel = channel.unwrap_or_default();
                for action in actions {
                    match action.action_id.as_str() {
                        super::request_form::actions::RESOURCE => {
                            if let Some(view) = view.clone() {
                                let (services, user) = (services.clone(), user.clone());
                                tokio::spawn(async move {
                                    if let Err(error) = requests::resource_chosen(
                                        &services,
                                        &user,
                                        &view,
                                        &action.value,
                                    )
                                    .await
                                    {
                                        tracing::warn!(%error, "could not update the request modal");
                                    }
                                });
                            }
                        }
                        "approve" => decisions::clicked(
                            services,
                            user.clone(),
                            channel.clone(),
                            action.value,
                            Action::Approve,
                        ),
                        "deny" => {
                            decisions::open_deny_modal(services, trigger_id.clone(), action.value)
                        }
                        "cancel" => decisions::clicked(
                            services,
                            user.clone(),
                            channel.clone(),
                            action.value,
                            Action::Cancel,
                        ),
                        "task_complete" => grants::clicked(
                            services,
                            user.clone(),
                            channel.clone(),
                            action.value,
                            Ask::Complete(TaskKind::Grant),
                        ),
                        "revoke_complete" => grants::clicked(
                            services,
                            user.clone(),
                            channel.clone(),
                            action.value,
                            Ask::Complete(TaskKind::Revoke),
                        ),
                        "task_fail" => grants::open_reason_modal(
                            services,
                            trigger_id.clone(),
                            action.value,
                            Purpose::CannotComplete(TaskKind::Grant),
                        ),
                        "revoke_fail" => grants::open_reason_modal(
                            services,
                            trigger_id.clone(),
                            action.value,
                            Purpose::CannotComplete(TaskKind::Revoke),
                        ),
                        "access_revoke" => grants::open_reason_modal(
                            services,
                            trigger_id.clone(),
                            action.value,
                            Purpose::Revoke,
                        ),
                        "access_done" => grants::clicked(
                            services,
                            user.clone(),
                            channel.clone(),
                            action.value,
                            Ask::Revoke(grants::DONE_REASON.into()),
                        ),
                        "access_extend" => super::extend::open_modal(
                            services,
                            trigger_id.clone(),
                            channel.clone(),
                            user.clone(),
                            action.value,
                        ),
                        campaign_action if campaign_action.starts_with("campaign_") => {
                            super::campaigns::clicked(
                                services,
                                user.clone(),
                                channel.clone(),
                                trigger_id.clone(),
                                campaign_action.to_owned(),
                                action.value,
                            )
                        }
                        dm_action if dm_action.starts_with("dm_") => {
                            let (services, user, channel, trigger_id) = (
                                services.clone(),
                                user.clone(),
                                channel.clone(),
                                trigger_id.clone(),
                            );
                            let action_id = dm_action.to_owned();
                            tokio::spawn(async move {
                                if let Err(error) = super::dm::clicked(
                                    &services,
                                    &user,
                                    &channel,
                                    &trigger_id,
                                    &action_id,
                                    &action.value,
                                )
                                .await
                                {
                                    tracing::error!(%error, "could not answer a click in a DM conversation");
                                }
                            });
                        }
                        other => {
                            tracing::debug!(action_id = other, "action with no handler; acked")
                        }
                    }
                }
                None
            }
            other => {
                tracing::debug!(?other, "interaction with no handler; acked");
                None
            }
        }
    }

    fn on_event(&self, event: SlackEventCallbackBody) {
        if let SlackEventCallbackBody::AppHomeOpened(opened) = event {
            let services = self.services.clone();
            let user = opened.user.to_string();
            services.home_viewers.insert(&user);
            tokio::spawn(async move { status::publish_home(&services, &user).await });
        }
    }
}

fn ephemeral(text: String) -> Value {
    json!({ "response_type": "ephemeral", "text": text })
}
