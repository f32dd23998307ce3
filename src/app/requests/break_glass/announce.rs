//! What taking emergency access sends, in the same commit: the review task to each
//! reviewer (the approvers, told at once), a notice to each resource owner who is
//! not a reviewer, a loud line in the security channel, and the review's reminder.

use chrono::{DateTime, Utc};

use crate::app::requests::break_glass::review::{review_key, TIMER};
use crate::app::requests::break_glass::Planned;
use crate::app::shared::services::Services;
use crate::store::{Change, OutboxMessage, TimerEntry};
use crate::templates::{Mrkdwn, RenderError};
use crate::workflow::request::AccessRequest;

/// Adds the emergency's messages and reminder timer to `change`.
pub fn announce(
    services: &Services,
    request: &AccessRequest,
    planned: &Planned,
    now: DateTime<Utc>,
    change: Change,
) -> Result<Change, RenderError> {
    let Some(emergency) = &request.emergency else {
        return Ok(change);
    };
    let templates = services.templates();
    let names = services.names(request);
    let reviewers: Vec<&String> = emergency.reviewers.iter().collect();
    let base = || crate::app::requests::break_glass::request_vars(request, &names);
    let task = templates.render(
        "break_glass_review",
        &base()
            .mrkdwn("form_fields", names.form_fields.clone())
            .date("taken_at", emergency.at.timestamp())
            .mentions("reviewers", &reviewers),
    )?;
    let mut change = change;
    for reviewer in &emergency.reviewers {
        change = change.outbox(OutboxMessage::post(
            reviewer,
            &task,
            review_key(&request.id, reviewer),
        ));
    }
    let taken = format!(
        "<@{}> took it without approval, for {}: {}. {} review it afterwards.",
        request.beneficiary,
        crate::app::shared::notify::duration_text(request.duration),
        crate::app::shared::mrkdwn::escape(&emergency.reason),
        reviewers
            .iter()
            .map(|r| format!("<@{r}>"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let notice = templates.render(
        "access_notice",
        &base()
            .text("title", ":rotating_light: Emergency access (break-glass)")
            .mrkdwn("detail", Mrkdwn::built(taken)),
    )?;
    for owner in planned.owners.difference(&emergency.reviewers) {
        if !request.involves(owner) {
            let key = format!("{}/break-glass/notice/{owner}", request.id);
            change = change.outbox(OutboxMessage::post(owner, &notice, key));
        }
    }
    if let Some(channel) = &services.break_glass.channel {
        let key = format!("{}/break-glass/security", request.id);
        change = change.outbox(OutboxMessage::post(channel, &notice, key));
    }
    let every = chrono::Duration::from_std(services.break_glass.review_remind_every)
        .unwrap_or(chrono::Duration::hours(4));
    Ok(change.timer(now + every, TimerEntry::new(TIMER, request.id.clone())))
}
