//! From grant effects to the Slack messages they cause, as outbox entries. Pure:
//! rendering only; the caller commits them with the state.
//!
//! Each assignee's copy of a task is recorded under `REQ-1042/task-grant/<who>` (or
//! `task-revoke`), so when one assignee acts every copy is edited in place.
//!
//! The assignees' tasks and their closed form are in `tasks`; what the people with
//! the access are told as it starts, fails and ends is in `notices`.

mod notices;
mod tasks;

pub use notices::{ending_text, late_text};
pub use tasks::task_key;

use crate::app::shared::notify::Names;
use crate::store::OutboxMessage;
use crate::templates::{slack_date, RenderError, Templates, Vars};
use crate::workflow::grant::{GrantEffect, Via};
use crate::workflow::request::AccessRequest;
use notices::until;
use tasks::task_of;

pub struct GrantNotifier<'a> {
    pub templates: Templates,
    pub names: &'a Names,
}

impl GrantNotifier<'_> {
    /// Messages for `effects` on `request` (already in its new state).
    pub fn messages(
        &self,
        request: &AccessRequest,
        effects: &[GrantEffect],
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let Some(grant) = request.grant.as_ref() else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for effect in effects {
            match effect {
                GrantEffect::PostTask(kind) => {
                    if let Some(task) = task_of(grant, *kind) {
                        let card = self.task_card(request, grant, task)?;
                        if let Via::Manual { assignees, .. } = &task.via {
                            out.extend(assignees.iter().map(|to| {
                                OutboxMessage::post(to, &card, task_key(&request.id, *kind, to))
                            }));
                        }
                    }
                }
                GrantEffect::EscalateTask { kind, to } => {
                    if let Some(task) = task_of(grant, *kind) {
                        let card = self.task_card(request, grant, task)?;
                        out.extend(to.iter().map(|o| {
                            OutboxMessage::post(o, &card, task_key(&request.id, *kind, o))
                        }));
                    }
                }
                GrantEffect::UpdateTaskCopies(kind) => {
                    if let Some(task) = task_of(grant, *kind) {
                        let card = match &task.done {
                            Some(_) => self.closed_task(request, grant, task)?,
                            None => self.task_card(request, grant, task)?,
                        };
                        out.extend(task.workers().iter().map(|who| OutboxMessage {
                            method: "chat.update".into(),
                            args: card.clone(),
                            record_ref: None,
                            update_ref: Some(task_key(&request.id, *kind, who)),
                            if_refused: None,
                        }));
                    }
                }
                GrantEffect::RemindTask { kind, to } => {
                    if let Some(task) = task_of(grant, *kind) {
                        let text = format!(
                            "Reminder: {} is overdue since {} ({}). The task with its buttons is above.",
                            self.summary(request, task),
                            slack_date(task.started_at.timestamp()),
                            request.id
                        );
                        out.extend(to.iter().map(|to| OutboxMessage::text(to, &text)));
                    }
                }
                GrantEffect::TellActive => out.extend(self.tell_active(request, grant)?),
                GrantEffect::TellFailed => out.extend(self.tell_failed(request, grant)?),
                GrantEffect::TellEnding => out.extend(self.tell_ending(request, grant)?),
                GrantEffect::TellRevoked => out.extend(self.tell_revoked(request, grant)?),
                GrantEffect::OfferExtension => {
                    let vars = until(self.base(request), grant);
                    let card = self.templates.render("access_expiring", &vars)?;
                    out.push(OutboxMessage::post(
                        &request.beneficiary,
                        &card,
                        format!("{}/access/expiring", request.id),
                    ));
                }
                GrantEffect::RetireOffers => out.extend(self.retire_offers(request, grant)?),
                GrantEffect::Schedule { .. } => {}
            }
        }
        Ok(out)
    }

    fn base(&self, request: &AccessRequest) -> Vars {
        Vars::new()
            .text("request_id", &request.id)
            .mention("requester", &request.beneficiary)
            .text("resource", &self.names.resource)
            .text("entitlement", &self.names.entitlement)
            .text("space", &self.names.space)
            .mrkdwn(
                "duration",
                crate::app::shared::schedule_shown::duration_shown(request),
            )
            .text("justification", &request.justification)
            .mrkdwn("form_fields", self.names.form_fields.clone())
    }
}

fn escape(text: &str) -> String {
    crate::app::shared::mrkdwn::escape(text)
}
