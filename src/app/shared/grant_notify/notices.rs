//! What the person with the access (and whoever asked for them) is told as it goes:
//! active, could not be granted, being removed, removed, and the offers retired.

use super::{escape, GrantNotifier};
use crate::store::OutboxMessage;
use crate::templates::{slack_date, Mrkdwn, RenderError, Vars};
use crate::workflow::grant::{Ending, Grant};
use crate::workflow::request::AccessRequest;

impl GrantNotifier<'_> {
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

    pub(super) fn tell_active(
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

    pub(super) fn tell_failed(
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

    pub(super) fn tell_ending(
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

    pub(super) fn tell_revoked(
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
    pub(super) fn retire_offers(
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
pub(super) fn until(vars: Vars, grant: &Grant) -> Vars {
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
