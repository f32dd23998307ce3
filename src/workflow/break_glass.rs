//! Break-glass (emergency) access: taken at once without approvers where policy
//! allows it, then reviewed afterwards by the entitlement's approvers (*Looks
//! right* / *Revoke now*). Pure.
//!
//! The caller asks policy (`break_glass`), resolves who reviews (the approvers,
//! else the resource's owners), and commits the result with its messages: the
//! requester told, the provisioning started, everyone concerned told, the review
//! task sent and its reminder timer set, all in one commit.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::approval::{Effect, Outcome};
use super::request::{AccessDuration, AccessRequest, State, UserId};

/// An emergency grant and its review, kept on the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emergency {
    pub at: DateTime<Utc>,
    /// Why it was an emergency: the justification, or what its requester said when
    /// escalating an open request.
    pub reason: String,
    /// Who reviews it: never the requester or the person with the access.
    pub reviewers: BTreeSet<UserId>,
    /// An open request its requester escalated (rather than asked as one).
    pub escalated: bool,
    pub review: Option<Review>,
    /// Reminders sent while the review waits.
    pub reminders: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    pub by: UserId,
    pub at: DateTime<Utc>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    LooksRight,
    /// *Revoke now*: the access is revoked in the same change.
    Revoke {
        reason: String,
    },
}

/// Why an emergency could not be taken or reviewed, as one sentence for the person.
pub type Refusal = String;

/// Turns `request` (new, or open and escalated by its requester) into emergency
/// access: approved now with no approver, its duration capped at `cap`, reviewed
/// later by `reviewers` (the requester and the person getting access left out).
pub fn take(
    mut request: AccessRequest,
    reason: Option<String>,
    reviewers: BTreeSet<UserId>,
    cap: Duration,
    escalated: bool,
    now: DateTime<Utc>,
) -> Result<(AccessRequest, Vec<Effect>), Refusal> {
    if !request.state.is_open() {
        return Err(format!(
            "{} is {} already: there is nothing to escalate.",
            request.id,
            request.state.label()
        ));
    }
    if request.emergency.is_some() {
        return Err(format!("{} is emergency access already.", request.id));
    }
    let reviewers: BTreeSet<UserId> = reviewers
        .into_iter()
        .filter(|r| !request.involves(r))
        .collect();
    if reviewers.is_empty() {
        return Err("Emergency access needs someone to review it afterwards, and this access has no approver or owner besides you: ask for it the usual way.".into());
    }
    request.duration = match request.duration {
        AccessDuration::For(asked) => AccessDuration::For(asked.min(cap)),
        AccessDuration::Permanent => AccessDuration::For(cap),
    };
    request.state = State::Approved { auto: false };
    // An emergency starts now: an escalated scheduled request no longer waits.
    request.starts_at = None;
    request.emergency = Some(Emergency {
        at: now,
        reason: reason.unwrap_or_else(|| request.justification.clone()),
        reviewers,
        escalated,
        review: None,
        reminders: 0,
    });
    let mut effects = Vec::new();
    if escalated {
        // The approvers' cards close: nobody needs to decide any more.
        effects.push(Effect::RefreshCopies);
    }
    effects.push(Effect::TellRequester(Outcome::Emergency));
    effects.push(Effect::Provision);
    Ok((request, effects))
}

/// A reviewer's answer to the post-incident review. The first answer counts; a
/// *Revoke now* also needs the grant revoked in the same change (the caller's).
pub fn review(
    mut request: AccessRequest,
    by: &str,
    verdict: Verdict,
    now: DateTime<Utc>,
) -> Result<AccessRequest, Refusal> {
    let id = request.id.clone();
    let Some(emergency) = request.emergency.as_mut() else {
        return Err(format!(
            "{id} was not emergency access: there is nothing to review."
        ));
    };
    if let Some(done) = &emergency.review {
        let what = match &done.verdict {
            Verdict::LooksRight => "found it right".to_owned(),
            Verdict::Revoke { .. } => "revoked it".to_owned(),
        };
        return Err(format!("<@{}> reviewed {id} already and {what}.", done.by));
    }
    if !emergency.reviewers.contains(by) {
        return Err(format!(
            "Only the reviewers of {id}'s emergency access can review it."
        ));
    }
    emergency.review = Some(Review {
        by: by.to_owned(),
        at: now,
        verdict,
    });
    Ok(request)
}

/// Whether the review still waits for an answer (what a reminder checks).
pub fn awaiting_review(request: &AccessRequest) -> bool {
    request
        .emergency
        .as_ref()
        .is_some_and(|e| e.review.is_none())
}

#[cfg(test)]
#[path = "break_glass_tests.rs"]
mod tests;
