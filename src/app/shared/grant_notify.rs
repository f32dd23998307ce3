//! From grant effects to the Slack messages they cause, as outbox entries. Pure:
//! rendering only; the caller commits them with the state.
//!
//! Each assignee's copy of a task is recorded under `REQ-1042/task-grant/<who>` (or
//! `task-revoke`), so when one assignee acts every copy is edited in place.

use crate::app::shared::notify::{duration_text, Names};
use crate::store::OutboxMessage;
use crate::templates::{slack_date, Mrkdwn, RenderError, Templates, Vars};
use crate::workflow::grant::{Ending, Grant, GrantEffect, Task, TaskKind, Via};
use crate::workflow::request::AccessRequest;

pub struct GrantNotifier<'a> {
    pub templates: Templates,
    pub names: &'a Names,
}

/// The key an assignee's copy of a task is recorded under.
pub fn task_key(request_id: &str, kind: TaskKind, who: &str) -> String {
    format!("{request_id}/task-{}/{who}", kind.as_str())
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

    /// "Grant ReadOnly on AWS production to @alice for 4 h", as plain mrkdwn.
    fn summary(&self, request: &AccessRequest, task: &Task) -> String {
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

    fn task_card(
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

    fn closed_task(
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

    fn notice(
        &self,
        request: &AccessRequest,
        title: &str,
        detail: String,
    ) -> Result<serde_json::Value, RenderError> {
        // The detail holds mentions and dates built here, with user text escaped.
        let vars = self
            .base(request)
            .text("title", title)
            .mrkdwn("detail", Mrkdwn::built(detail));
        self.templates.render("access_notice", &vars)
    }

    fn tell_active(
        &self,
        request: &AccessRequest,
        grant: &Grant,
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let mut vars = until(self.base(request), grant);
        vars = match grant.provision.done.as_ref() {
            Some(done) if done.by != "c1bot" => vars.mention("granted_by", &done.by),
            _ => vars.text("granted_by", "the automatic provisioner"),
        };
        if let Some(previous) = &grant.continues {
            vars = vars.text("granted_by", format!("an approved extension of {previous}"));
        }
        let card = self.templates.render("access_active", &vars)?;
        Ok(self
            .people(request)
            .iter()
            .map(|to| OutboxMessage::post(to, &card, format!("{}/access/active/{to}", request.id)))
            .collect())
    }

    fn tell_failed(
        &self,
        request: &AccessRequest,
        grant: &Grant,
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let reason = grant
            .provision
            .done
            .as_ref()
            .and_then(|d| d.detail.clone())
            .unwrap_or_else(|| "no reason given".into());
        let by = grant
            .provision
            .done
            .as_ref()
            .map(|d| d.by.clone())
            .unwrap_or_default();
        let card = self.notice(
            request,
            ":x: Access could not be granted",
            format!("<@{by}> could not grant it. Reason: {}", escape(&reason)),
        )?;
        let mut people = self.people(request);
        for decision in request.decisions.iter().filter(|d| d.approved) {
            if !people.contains(&decision.by) {
                people.push(decision.by.clone());
            }
        }
        Ok(people
            .iter()
            .map(|to| OutboxMessage::post(to, &card, format!("{}/access/failed/{to}", request.id)))
            .collect())
    }

    fn tell_ending(
        &self,
        request: &AccessRequest,
        grant: &Grant,
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let card = self.notice(
            request,
            ":hourglass: Your access is being removed",
            format!(
                "{}. You will be told when it is gone.",
                capitalise(&ending_text(grant))
            ),
        )?;
        Ok(self
            .people(request)
            .iter()
            .map(|to| OutboxMessage::post(to, &card, format!("{}/access/ending/{to}", request.id)))
            .collect())
    }

    fn tell_revoked(
        &self,
        request: &AccessRequest,
        grant: &Grant,
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let mut detail = format!(
            "Removed {} ({}).",
            slack_date(
                grant
                    .ended_at
                    .unwrap_or(grant.provision.started_at)
                    .timestamp()
            ),
            ending_text(grant)
        );
        if let Some(late) = grant.late_by().filter(|l| l.num_seconds() >= 60) {
            detail.push_str(&format!(
                " Removal started {} after the expiry, because c1bot was not running or its clock jumped.",
                late_text(late)
            ));
        }
        let card = self.notice(request, ":lock: Access removed", detail)?;
        Ok(self
            .people(request)
            .iter()
            .map(|to| OutboxMessage::post(to, &card, format!("{}/access/revoked/{to}", request.id)))
            .collect())
    }

    /// The "active" and "ends soon" messages redrawn without their buttons, saying
    /// the access is ending: their *I'm done* / *Extend* no longer apply.
    fn retire_offers(
        &self,
        request: &AccessRequest,
        grant: &Grant,
    ) -> Result<Vec<OutboxMessage>, RenderError> {
        let card = self.notice(
            request,
            ":lock: No longer active",
            format!(
                "{}; the access is being removed, so there is nothing left to extend or end here.",
                capitalise(&ending_text(grant))
            ),
        )?;
        let update = |key: String| OutboxMessage {
            method: "chat.update".into(),
            args: card.clone(),
            record_ref: None,
            update_ref: Some(key),
            if_refused: None,
        };
        let mut out: Vec<OutboxMessage> = self
            .people(request)
            .iter()
            .map(|to| update(format!("{}/access/active/{to}", request.id)))
            .collect();
        if grant.expiry_reminded {
            out.push(update(format!("{}/access/expiring", request.id)));
        }
        Ok(out)
    }

    fn people(&self, request: &AccessRequest) -> Vec<String> {
        let mut people = vec![request.beneficiary.clone()];
        if request.requester != request.beneficiary {
            people.push(request.requester.clone());
        }
        people
    }
}

/// A task card's notes as one line (cut to fit a context block).
fn note(notes: &[String]) -> Mrkdwn {
    Mrkdwn::built(notes.join(" ").chars().take(1900).collect::<String>())
}

fn task_of(grant: &Grant, kind: TaskKind) -> Option<&Task> {
    match kind {
        TaskKind::Grant => Some(&grant.provision),
        TaskKind::Revoke => grant.deprovision.as_ref(),
    }
}

/// Why access is ending, as mrkdwn ("expired", "revoked by <@U…>: reason").
pub fn ending_text(grant: &Grant) -> String {
    match &grant.ending {
        Some(Ending::Expired { .. }) => "expired".into(),
        Some(Ending::Revoked { by, reason }) => {
            format!("revoked by <@{by}>: {}", escape(reason))
        }
        None => "ended".into(),
    }
}

/// `until`: the expiry in each reader's time zone, or "no end date (permanent)".
fn until(vars: Vars, grant: &Grant) -> Vars {
    match grant.expires_at {
        Some(at) => vars.date("until", at.timestamp()),
        None => vars.text("until", "no end date (permanent)"),
    }
}

/// "3 h 12 min", "45 s".
pub fn late_text(late: chrono::Duration) -> String {
    let secs = late.num_seconds().max(0);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn escape(text: &str) -> String {
    crate::app::shared::mrkdwn::escape(text)
}
