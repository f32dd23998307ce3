//! How `requests::create` says no, per field (`Rejected`), and what it checks before
//! policy sees a form: the person asked for, and the resource and entitlement named.

use crate::app::shared::directory::Person;
use crate::app::shared::services::Services;
use crate::catalog::{Catalog, Entitlement, Resource};
use crate::policy::Action;
use crate::workflow::submit::{fields, FieldErrors};

/// Why a request was not created, per field of the form.
#[derive(Debug)]
pub struct Rejected {
    pub errors: FieldErrors,
    /// Slack or the store failed (trying again may work), rather than the request
    /// being invalid or refused by policy.
    pub transient: bool,
}

impl Rejected {
    pub(super) fn invalid(errors: FieldErrors) -> Self {
        Self {
            errors,
            transient: false,
        }
    }

    /// The problems as one sentence list (for a one-line or DM answer, where the
    /// request form's extra fields cannot be filled in: it says where they can).
    pub fn sentence(&self) -> String {
        let mut problems: Vec<&str> = self.errors.values().map(String::as_str).collect();
        problems.dedup();
        let form = self
            .errors
            .keys()
            .any(|k| k.starts_with(crate::catalog::FIELD_BLOCK_PREFIX));
        if form {
            problems.push("Use `/c1 request` to fill in the request form.");
        }
        problems.join(" ")
    }
}

/// The profile of the person `requester` asks for, once it is clear they may: an
/// active human in this workspace, and policy's `request_on_behalf` allows the
/// requester on this resource. Otherwise the answer for the picker's field.
pub(super) async fn beneficiary_checked(
    services: &Services,
    requester: &Person,
    channel: &str,
    beneficiary: &str,
    target: Option<(&Resource, &Entitlement)>,
) -> Result<Person, Rejected> {
    let refuse = |message: String| {
        Rejected::invalid(FieldErrors::from([(fields::ON_BEHALF.to_owned(), message)]))
    };
    let them = services.directory.person(beneficiary).await.map_err(|error| {
        tracing::warn!(%error, "cannot read the beneficiary's profile");
        Rejected {
            transient: true,
            ..refuse("c1bot could not find that person in Slack just now; nothing was submitted. Try again in a moment.".into())
        }
    })?;
    if them.is_bot || them.profile.deleted {
        return Err(refuse(
            "Access can be requested only for people with an active account, not for apps or deactivated accounts.".into(),
        ));
    }
    if let Some((resource, entitlement)) = target {
        let decision = services.decide(
            Action::RequestOnBehalf,
            requester,
            channel,
            Some((resource, entitlement)),
            None,
        );
        if !decision.allowed {
            let why = if decision.reasons.is_empty() {
                "no policy lets you".to_owned()
            } else {
                decision.reasons.join("; ")
            };
            return Err(refuse(format!(
                "You cannot request access to {} for someone else: {why}.",
                resource.name
            )));
        }
    }
    Ok(them)
}

pub(super) fn lookup<'a>(
    catalog: &'a Catalog,
    resource: &str,
    entitlement: &str,
) -> Option<(&'a Resource, &'a Entitlement)> {
    let resource = catalog.resource(resource)?;
    let entitlement = resource
        .entitlements
        .iter()
        .find(|e| e.id.as_str() == entitlement)?;
    Some((resource, entitlement))
}
