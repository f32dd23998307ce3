//! c1bot's answer to each envelope: the application side of
//! [`EnvelopeHandler`](crate::slack::dispatch::EnvelopeHandler).
//!
//! Three ways, chosen per envelope:
//! - **journaled** ([`crate::app::journal`]): what changes state (a deciding click, a
//!   complete one-line request, a DM message) is written to the intake journal, then
//!   acked, then processed;
//! - **answered in the ack**: typeahead options and modal submissions (validated and,
//!   if valid, committed before the modal closes), `/c1 status` and help; every Slack
//!   call they make is bounded by the ack's deadline. The campaign channel modal
//!   naming an existing channel is checked in the ack, then journaled and finished
//!   after it (its lookup pages through Slack);
//! - **acked at once**: what changes nothing (opening a modal, App Home), with its
//!   work after the ack.

use serde_json::{json, Value};

use crate::app::grants::{self, Purpose};
use crate::app::shared::commands::{usage, Command};
use crate::app::shared::journaled::Sender;
use crate::app::shared::services::Services;
use crate::app::{decisions, journal, requests, status};
use crate::controls::{Button, Modal};
use crate::slack::dispatch::{Ack, EnvelopeHandler};
use crate::slack::frame::{Envelope, EnvelopeKind};
use crate::slack::inbound::{Inbound, SlashCommand};
use crate::slack::interaction::{ActionRef, Interaction};
use crate::slack::view_input::ViewInput;
use crate::slack::web::deadline;
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
    async fn handle(&self, envelope: Envelope, ack: Ack) {
        // Decoded once: whether it is journaled and how it is answered read the same.
        let inbound = Inbound::decode(&envelope);
        if journal::journaled(&self.services, &inbound) {
            return journal::take(&self.services, envelope, ack).await;
        }
        match inbound {
            Inbound::Interaction(interaction) => match interaction {
                Interaction::BlockActions {
                    user,
                    trigger_id,
                    channel,
                    response_url,
                    view,
                    actions,
                } => {
                    ack.send(None);
                    // Where a refusal is answered: the click's response_url.
                    let sender = Sender {
                        user,
                        channel,
                        response_url,
                    };
                    for action in actions {
                        self.after_click(&sender, &trigger_id, view.as_ref(), action);
                    }
                }
                Interaction::ViewSubmission {
                    user,
                    callback_id,
                    input,
                } if Modal::from_id(&callback_id) == Some(Modal::CampaignChannel) => {
                    self.channel_submitted(envelope, ack, &user, &input).await;
                }
                answered => {
                    let payload =
                        deadline::within(deadline::ACK_BUDGET, self.answer(answered)).await;
                    ack.send(payload);
                }
            },
            Inbound::Command(command) => ack.send(self.on_command(&command).await),
            Inbound::HomeOpened { user } => {
                ack.send(None);
                self.home_opened(user);
            }
            // Direct messages are journaled before this; what is left is not for c1bot.
            Inbound::DirectMessage(_) => ack.send(None),
            Inbound::NotForC1bot { what } => {
                ack.send(None);
                tracing::debug!(what, "nothing c1bot reads; acked");
            }
            Inbound::Unreadable { kind, why } => {
                self.unread(kind, &why);
                let answer = (kind == EnvelopeKind::SlashCommands)
                    .then(|| ephemeral(UNREADABLE_COMMAND.to_owned()));
                ack.send(answer);
            }
        }
    }
}

impl C1Handler {
    async fn on_command(&self, command: &SlashCommand) -> Option<Value> {
        let text = command.text.as_str();
        let user = command.user_id.clone();
        tracing::info!(user = %user, command = %command.command, "slash command");
        let name = &self.services.command;
        match Command::parse(text) {
            Command::Request(text) => crate::app::requests::one_line::handle(
                &self.services,
                command.trigger_id.clone(),
                command.channel_id.clone(),
                user,
                &text,
            ),
            Command::Status => Some(status::status_message(&self.services, &user).await),
            Command::Campaign => {
                crate::app::campaigns::command(
                    &self.services,
                    command.trigger_id.clone(),
                    command.channel_id.clone(),
                    user,
                );
                None
            }
            Command::Revoke { request_id, reason } => grants::revoke_command(
                &self.services,
                command.trigger_id.clone(),
                request_id,
                reason,
            ),
            Command::BreakGlass(text) => {
                crate::app::requests::break_glass::command(
                    &self.services,
                    command.trigger_id.clone(),
                    command.channel_id.clone(),
                    user,
                    &text,
                )
                .await
            }
            Command::Help => Some(ephemeral(usage(name, None))),
            Command::Unknown(word) => Some(ephemeral(usage(name, Some(&word)))),
        }
    }

    /// The campaign channel modal: refused or done in the ack, or (an existing
    /// channel, whose lookup pages through Slack) journaled, acked and finished after.
    async fn channel_submitted(&self, envelope: Envelope, ack: Ack, user: &str, input: &ViewInput) {
        use crate::app::campaigns::channel::{screen, Screened};
        let screened =
            deadline::within(deadline::ACK_BUDGET, screen(&self.services, user, input)).await;
        match screened {
            Screened::Answer(payload) => ack.send(payload),
            Screened::Later => journal::take(&self.services, envelope, ack).await,
        }
    }

    /// An interaction whose answer travels in its ack.
    async fn answer(&self, interaction: Interaction) -> Option<Value> {
        let services = &self.services;
        match interaction {
            Interaction::BlockSuggestion {
                user,
                action_id,
                value,
                view,
            } if action_id == crate::app::shared::request_form::actions::RESOURCE => {
                Some(requests::suggest(services, &user, &value, &view).await)
            }
            Interaction::ViewSubmission {
                user,
                callback_id,
                input,
            } => match Modal::from_id(&callback_id) {
                Some(Modal::Request) => requests::submit(services, &user, &input).await,
                Some(Modal::Deny) => decisions::deny_submitted(services, &user, &input).await,
                Some(modal @ (Modal::StepUp | Modal::StepUpEnrol)) => {
                    crate::app::decisions::step_up::submitted(services, &user, modal, &input).await
                }
                Some(modal @ (Modal::TaskFail | Modal::Revoke)) => {
                    grants::reason_submitted(services, &user, modal, &input).await
                }
                Some(Modal::Extend) => {
                    crate::app::requests::extend::submitted(services, &user, &input).await
                }
                Some(Modal::BreakGlass) => {
                    crate::app::requests::break_glass::confirmed(services, &user, &input).await
                }
                Some(Modal::BreakGlassRevoke) => {
                    crate::app::requests::break_glass::review::revoke_submitted(
                        services, &user, &input,
                    )
                    .await
                }
                Some(Modal::Campaign) => {
                    crate::app::campaigns::submitted(services, &user, &input).await
                }
                Some(Modal::CampaignReassign) => {
                    crate::app::campaigns::reassign::submitted(services, &user, &input).await
                }
                // The campaign channel modal is screened before `answer`
                // (`channel_submitted`), so it never comes here.
                None | Some(Modal::CampaignChannel) => {
                    tracing::warn!(callback_id, "submission of an unknown modal; closing it");
                    self.count_unread(EnvelopeKind::Interactive, "no_handler");
                    None
                }
            },
            other => {
                tracing::warn!(?other, "interaction with no handler; acked");
                self.count_unread(EnvelopeKind::Interactive, "no_handler");
                None
            }
        }
    }

    /// A click that changes nothing itself (it opens a modal or updates one), after
    /// its ack. Deciding clicks are journaled and never reach here.
    fn after_click(
        &self,
        sender: &Sender,
        trigger_id: &str,
        view: Option<&ViewInput>,
        action: ActionRef,
    ) {
        let services = &self.services;
        let trigger_id = trigger_id.to_owned();
        let Some(button) = Button::from_id(&action.action_id) else {
            return self.after_input(sender, view, action);
        };
        match button {
            Button::Deny => decisions::open_deny_modal(services, trigger_id, action.value),
            Button::BreakGlassRevoke => crate::app::requests::break_glass::review::open_revoke(
                services,
                trigger_id,
                action.value,
            ),
            Button::TaskFail => grants::open_reason_modal(
                services,
                trigger_id,
                action.value,
                Purpose::CannotComplete(TaskKind::Grant),
            ),
            Button::RevokeFail => grants::open_reason_modal(
                services,
                trigger_id,
                action.value,
                Purpose::CannotComplete(TaskKind::Revoke),
            ),
            Button::AccessRevoke => {
                grants::open_reason_modal(services, trigger_id, action.value, Purpose::Revoke)
            }
            Button::AccessExtend => crate::app::requests::extend::open_modal(
                services,
                trigger_id,
                sender.clone(),
                action.value,
            ),
            Button::Campaign(campaign) => crate::app::campaigns::open(
                services,
                sender.clone(),
                trigger_id,
                campaign,
                action.value,
            ),
            // Journaled (`Button::journaled`): processed by `journal::route`.
            Button::Approve
            | Button::Cancel
            | Button::TaskComplete
            | Button::RevokeComplete
            | Button::AccessDone
            | Button::BreakGlassOk
            | Button::Dm(_) => {
                tracing::debug!(
                    action_id = button.id(),
                    "journaled click; nothing after its ack"
                )
            }
        }
    }

    /// An action that is not a button: the request modal's selects, which update it.
    fn after_input(&self, sender: &Sender, view: Option<&ViewInput>, action: ActionRef) {
        let services = &self.services;
        let user = sender.user.clone();
        match action.action_id.as_str() {
            crate::app::shared::request_form::actions::RESOURCE => {
                if let Some(view) = view.cloned() {
                    let services = services.clone();
                    services.tasks.clone().spawn(async move {
                        if let Err(error) =
                            requests::resource_chosen(&services, &user, &view, &action.value).await
                        {
                            tracing::warn!(%error, "could not update the request modal");
                        }
                    });
                }
            }
            crate::app::shared::request_form::actions::ENTITLEMENT => {
                if let Some(view) = view.cloned() {
                    let services = services.clone();
                    services.tasks.clone().spawn(async move {
                        let chosen =
                            requests::entitlement_chosen(&services, &user, &view, &action.value);
                        if let Err(error) = chosen.await {
                            tracing::warn!(%error, "could not update the request modal");
                        }
                    });
                }
            }
            // A campaign button c1bot no longer draws (an old message): refused, as
            // `campaigns::act` refuses a button it does not know.
            campaign if campaign.starts_with("campaign_") => {
                services.answer(sender, "That button is not c1bot's.");
            }
            other => tracing::debug!(action_id = other, "action with no handler; acked"),
        }
    }

    /// A payload that does not decode into Slack's model for its kind: logged with
    /// what it is, and counted.
    fn unread(&self, kind: EnvelopeKind, payload: &dyn std::fmt::Debug) {
        tracing::warn!(
            kind = kind.as_str(),
            ?payload,
            "a payload c1bot cannot read; acked"
        );
        self.count_unread(kind, "undecodable");
    }

    fn count_unread(&self, kind: EnvelopeKind, why: &str) {
        self.services.metrics.add(
            "c1bot_envelopes_unread_total",
            "Envelopes acked but not acted on: their payload did not decode (undecodable) or nothing handles it (no_handler).",
            &[("kind", kind.as_str()), ("why", why)],
            1,
        );
    }

    /// Someone opened c1bot's App Home: it is published for them, and kept up to date
    /// while they may still be looking.
    fn home_opened(&self, user: String) {
        let services = self.services.clone();
        services.home_viewers.insert(&user);
        services
            .tasks
            .clone()
            .spawn(async move { status::publish_home(&services, &user).await });
    }
}

/// The answer to a slash command whose payload does not decode.
const UNREADABLE_COMMAND: &str = "c1bot could not read that command, so it did nothing. Try again; if this keeps happening, tell whoever runs c1bot.";

fn ephemeral(text: String) -> Value {
    json!({ "response_type": "ephemeral", "text": text })
}
