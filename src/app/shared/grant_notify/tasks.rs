//! The assignees' side of a grant: the task asking them to grant or revoke by hand,
//! each copy under `task_key` so it is edited in place, and its closed form once done.

use super::{escape, GrantNotifier};
use crate::app::shared::notify::duration_text;
use crate::templates::{Mrkdwn, RenderError, Vars};
use crate::workflow::grant::{Ending, Grant, Task, TaskKind, Via};
use crate::workflow::request::AccessRequest;

/// The key an assignee's copy of a task is recorded under.
pub fn task_key(request_id: &str, kind: TaskKind, who: &str) -> String {
    format!("{request_id}/task-{}/{who}", kind.as_str())
}

impl GrantNotifier<'_> {
    /// "Grant ReadOnly on AWS production to @alice for 4 h", as plain mrkdwn.
    pub(super) fn summary(&self, request: &AccessRequest, task: &Task) -> String {
        let (entitlement, resource) = (
            crate::app::shared::mrkdwn::escape(&self.names.entitlement),
            crate::app::shared::mrkdwn::escape(&self.names.resource),
        );
        match task.kind {
            TaskKind::Grant => format!(
                "Grant *{entitlement}* on *{resource}* to <@{}> for {}",
                request.beneficiary,
                duration_text(request.duration)
            ),
            TaskKind::Revoke => format!(
                "Revoke *{entitlement}* on *{resource}* from <@{}>",
                request.beneficiary
            ),
        }
    }

    pub(super) fn task_card(
        &self,
        request: &AccessRequest,
        grant: &Grant,
        task: &Task,
    ) -> Result<serde_json::Value, RenderError> {
        // mrkdwn built here: mentions from stored ids, everything else escaped.
        let mut notes = Vec::new();
        if let Via::Manual {
            after_failure: Some(failure),
            ..
        } = &task.via
        {
            notes.push(format!(
                "Could not be done automatically: {}.",
                escape(failure)
            ));
        }
        if let Some(blocked) = &task.blocked {
            notes.push(format!(
                "<@{}> could not do it: {}.",
                blocked.by,
                escape(&blocked.reason)
            ));
        }
        if !task.escalated_to.is_empty() {
            notes.push(
                "Overdue: the resource's owners were asked to make sure this is done.".into(),
            );
        }
        match task.kind {
            TaskKind::Grant => {
                let approvers: Vec<&String> = request
                    .decisions
                    .iter()
                    .filter(|d| d.approved)
                    .map(|d| &d.by)
                    .collect();
                notes.push(
                    crate::app::shared::schedule_shown::task_note(request).unwrap_or_else(|| {
                        format!(
                            "The clock for {} starts when you mark it complete.",
                            duration_text(request.duration)
                        )
                    }),
                );
                let vars = self.base(request).mrkdwn("note", note(&notes));
                let vars = if approvers.is_empty() {
                    vars.text("approved_by", "policy (automatic)")
                } else {
                    vars.mentions("approved_by", &approvers)
                };
                self.templates.render("provisioning_task", &vars)
            }
            TaskKind::Revoke => {
                notes.push("Mark it complete once the access is removed.".into());
                let (why, ended_by) = match &grant.ending {
                    Some(Ending::Revoked { by, reason }) => {
                        (format!("revoked early: {reason}"), Some(by))
                    }
                    Some(Ending::Expired { .. }) => ("expired".to_owned(), None),
                    None => ("ended".to_owned(), None),
                };
                let vars = self.base(request).text("why", why);
                let vars = match ended_by {
                    Some(by) => vars.mention("ended_by", by),
                    None => vars.text("ended_by", "c1bot, at expiry"),
                };
                let vars = vars
                    .date(
                        "active_from",
                        grant.active_from.unwrap_or(task.started_at).timestamp(),
                    )
                    .mrkdwn("note", note(&notes));
                self.templates.render("deprovisioning_task", &vars)
            }
        }
    }

    pub(super) fn closed_task(
        &self,
        request: &AccessRequest,
        grant: &Grant,
        task: &Task,
    ) -> Result<serde_json::Value, RenderError> {
        let Some(done) = &task.done else {
            return self.task_card(request, grant, task);
        };
        let outcome = match (done.completed, task.kind) {
            (true, _) => ":white_check_mark: Completed by",
            (false, _) => ":x: Could not be done, said",
        };
        let detail = match (&done.detail, done.completed) {
            (Some(reason), false) => format!("Reason: {reason}"),
            _ => String::new(),
        };
        let vars = Vars::new()
            .mrkdwn("summary", Mrkdwn::built(self.summary(request, task)))
            .text("request_id", &request.id)
            .text("outcome", outcome)
            .mention("by", &done.by)
            .date("at", done.at.timestamp())
            .text("detail", detail);
        self.templates.render("task_closed", &vars)
    }
}

/// A task card's notes as one line (cut to fit a context block).
fn note(notes: &[String]) -> Mrkdwn {
    Mrkdwn::built(notes.join(" ").chars().take(1900).collect::<String>())
}

pub(super) fn task_of(grant: &Grant, kind: TaskKind) -> Option<&Task> {
    match kind {
        TaskKind::Grant => Some(&grant.provision),
        TaskKind::Revoke => grant.deprovision.as_ref(),
    }
}
