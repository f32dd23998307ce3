//! Turning a submitted request form into a new request, or into one sentence per
//! field explaining what to fix. Pure.
//!
//! The caller looks the entitlement up in the catalog, asks policy, resolves the
//! approval steps (groups expanded, owners named) and passes all of that in as a
//! [`Requestable`]; this module decides.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::approval::{Effect, Outcome};
use super::request::{AccessDuration, AccessRequest, State, Step, UserId};

/// Block ids of the request modal's inputs, which errors are keyed by.
pub mod fields {
    pub const RESOURCE: &str = "resource";
    pub const ENTITLEMENT: &str = "entitlement";
    pub const DURATION: &str = "duration";
    pub const JUSTIFICATION: &str = "justification";
    /// The optional user picker of a request for someone else.
    pub const ON_BEHALF: &str = "on_behalf";
    /// The *Emergency* (break-glass) choice, where policy allows it.
    pub const EMERGENCY: &str = "emergency";
    /// The optional start of scheduled access.
    pub const STARTS_AT: &str = "starts_at";
}

/// The longest justification kept (Slack's input limit).
pub const MAX_JUSTIFICATION: usize = 3000;

/// The form as submitted; every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pub resource: Option<String>,
    pub entitlement: Option<String>,
    /// `"<seconds>"` or `"permanent"`, as the duration options encode it.
    pub duration: Option<String>,
    pub justification: Option<String>,
    /// The Slack user the access is for, when it is not the person submitting.
    pub on_behalf_of: Option<String>,
    /// The request form's extra fields by field id (catalog `fields`), as entered;
    /// the caller checks them against the catalog and policy.
    pub fields: BTreeMap<String, String>,
    /// Scheduled access: when it should start (`None`: once approved).
    pub starts_at: Option<DateTime<Utc>>,
    /// Asked as emergency (break-glass) access: granted at once where policy allows
    /// it (see [`super::break_glass`]).
    pub emergency: bool,
}

/// What policy said about requesting this entitlement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyVerdict {
    pub allowed: bool,
    pub reasons: Vec<String>,
    pub auto_approve: bool,
    pub max_duration: Option<Duration>,
    pub self_approval_allowed: bool,
}

/// Everything known about the entitlement being requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requestable {
    pub entitlement_name: String,
    pub max_duration: Option<Duration>,
    pub permanent_allowed: bool,
    pub policy: PolicyVerdict,
    /// Approval steps with approvers resolved.
    pub steps: Vec<Step>,
}

/// One sentence per field, keyed by the input's block id.
pub type FieldErrors = BTreeMap<String, String>;

/// A new request and what it sets off.
pub struct Created {
    pub request: AccessRequest,
    pub effects: Vec<Effect>,
}

/// Everything about the new request that is not in the form.
pub struct Context<'a> {
    pub id: String,
    pub requester: &'a str,
    pub beneficiary: &'a str,
    pub now: DateTime<Utc>,
    /// How long a request may wait for a decision.
    pub pending_ttl: chrono::Duration,
}

/// Validates `form` against `requestable` (None: the entitlement is not in the catalog).
pub fn create(
    form: &Form,
    requestable: Option<&Requestable>,
    ctx: Context<'_>,
) -> Result<Created, FieldErrors> {
    let mut errors = FieldErrors::new();
    let justification = form
        .justification
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    if justification.is_empty() {
        errors.insert(
            fields::JUSTIFICATION.into(),
            "Tell the approvers why you need this access.".into(),
        );
    } else if justification.chars().count() > MAX_JUSTIFICATION {
        errors.insert(
            fields::JUSTIFICATION.into(),
            format!("Keep the justification under {MAX_JUSTIFICATION} characters."),
        );
    }
    let (Some(resource), Some(entitlement)) =
        (form.resource.as_deref(), form.entitlement.as_deref())
    else {
        if form.resource.is_none() {
            errors.insert(fields::RESOURCE.into(), "Choose a resource.".into());
        } else {
            errors.insert(fields::ENTITLEMENT.into(), "Choose an entitlement.".into());
        }
        return Err(errors);
    };
    let Some(requestable) = requestable else {
        errors.insert(
            fields::ENTITLEMENT.into(),
            "This entitlement is no longer in the catalog: choose another.".into(),
        );
        return Err(errors);
    };
    if !requestable.policy.allowed {
        let why = if requestable.policy.reasons.is_empty() {
            "no policy allows it".to_owned()
        } else {
            requestable.policy.reasons.join("; ")
        };
        let message = if ctx.requester == ctx.beneficiary {
            format!(
                "You cannot request {}: {why}.",
                requestable.entitlement_name
            )
        } else {
            // Policy decided for the beneficiary: its reasons are about them.
            format!(
                "{} cannot be requested for that person: {why}.",
                requestable.entitlement_name
            )
        };
        errors.insert(fields::ENTITLEMENT.into(), message);
        return Err(errors);
    }
    let duration = match parse_duration(form.duration.as_deref(), requestable) {
        Ok(duration) => Some(duration),
        Err(message) => {
            errors.insert(fields::DURATION.into(), message);
            None
        }
    };
    let starts_at = match super::schedule::checked_start(form.starts_at, ctx.now) {
        Ok(start) => start,
        Err(message) => {
            errors.insert(fields::STARTS_AT.into(), message);
            None
        }
    };
    let steps = approvable_steps(requestable, ctx.requester, ctx.beneficiary);
    // Emergency access waits for no approver (its reviewers are checked when it is taken).
    if !requestable.policy.auto_approve && !form.emergency {
        if let Err(message) = steps.as_ref() {
            errors.insert(fields::ENTITLEMENT.into(), message.clone());
        }
    }
    let (Some(duration), true) = (duration, errors.is_empty()) else {
        return Err(errors);
    };
    let auto = requestable.policy.auto_approve;
    let request = AccessRequest {
        id: ctx.id,
        requester: ctx.requester.to_owned(),
        beneficiary: ctx.beneficiary.to_owned(),
        resource: resource.to_owned(),
        entitlement: entitlement.to_owned(),
        duration,
        justification: justification.to_owned(),
        created_at: ctx.now,
        decide_by: super::schedule::decide_by(starts_at, duration, ctx.now, ctx.pending_ttl),
        steps: if auto {
            Vec::new()
        } else {
            steps.unwrap_or_default()
        },
        state: if auto {
            State::Approved { auto: true }
        } else {
            State::Pending { step: 0 }
        },
        decisions: Vec::new(),
        grant: None,
        extends: None,
        fields: form.fields.clone(),
        starts_at,
        emergency: None,
    };
    let effects = if auto {
        vec![
            Effect::TellRequester(Outcome::AutoApproved),
            Effect::Provision,
        ]
    } else {
        vec![Effect::RefreshCopies, Effect::AskApprovers { step: 0 }]
    };
    Ok(Created { request, effects })
}

fn parse_duration(raw: Option<&str>, requestable: &Requestable) -> Result<AccessDuration, String> {
    let raw = raw.ok_or_else(|| "Choose how long you need access.".to_owned())?;
    if raw == "permanent" {
        // A fixed maximum from the catalog or a policy wins over `permanent_allowed`.
        let uncapped =
            requestable.max_duration.is_none() && requestable.policy.max_duration.is_none();
        return if requestable.permanent_allowed && uncapped {
            Ok(AccessDuration::Permanent)
        } else {
            Err(format!(
                "{} cannot be granted permanently: choose a duration.",
                requestable.entitlement_name
            ))
        };
    }
    let seconds: u64 = raw
        .parse()
        .map_err(|_| "Choose a duration from the list.".to_owned())?;
    if seconds == 0 {
        return Err("Choose a duration from the list.".into());
    }
    let wanted = Duration::from_secs(seconds);
    let limit = [requestable.max_duration, requestable.policy.max_duration]
        .into_iter()
        .flatten()
        .min();
    match limit {
        Some(max) if wanted > max => Err(format!(
            "The longest you can have {} is {}.",
            requestable.entitlement_name,
            human(max)
        )),
        _ => Ok(AccessDuration::For(wanted)),
    }
}

/// Steps with the requester and beneficiary taken out of their approvers (so they are
/// never asked to approve their own request), or why nobody else could approve.
fn approvable_steps(
    requestable: &Requestable,
    requester: &str,
    beneficiary: &str,
) -> Result<Vec<Step>, String> {
    if requestable.steps.is_empty() {
        return Err(format!(
            "{} has no approvers and policy does not approve it automatically, so nobody can approve it.",
            requestable.entitlement_name
        ));
    }
    let mut steps = requestable.steps.clone();
    for step in &mut steps {
        if !requestable.policy.self_approval_allowed {
            step.approvers
                .retain(|a: &UserId| a != requester && a != beneficiary);
        }
        if step.approvers.is_empty()
            || step.approvers.len() < step.quorum.needed(step.approvers.len())
        {
            return Err(format!(
                "Nobody else can approve this request: the step \"{}\" has too few approvers besides you.",
                step.name
            ));
        }
    }
    Ok(steps)
}

/// "4 h", "30 min", "1 h 30 min", "2 d".
pub fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    let total = secs / 60;
    let (days, hours, minutes) = (total / 1440, (total % 1440) / 60, total % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if minutes > 0 {
        parts.push(format!("{minutes} min"));
    }
    // The catalog allows seconds: "45 s", "1 min 30 s"; nothing is "0 min".
    if !secs.is_multiple_of(60) || parts.is_empty() {
        parts.push(format!("{} s", secs % 60));
    }
    parts.join(" ")
}

#[cfg(test)]
#[path = "submit_tests.rs"]
mod tests;
