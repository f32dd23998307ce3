//! The two step-up modals, rendered from `blocks/step_up_modal.json` and
//! `blocks/step_up_enrol_modal.json`. The secret appears only in the enrolment modal.

use serde_json::Value;

use crate::app::decisions::step_up::check;
use crate::app::shared::services::Services;
use crate::templates::Vars;
use crate::workflow::request::AccessRequest;

/// The verification modal for `request`, naming challenge `challenge`.
pub fn verify(
    services: &Services,
    request: &AccessRequest,
    challenge: &str,
) -> anyhow::Result<Value> {
    let names = services.names(request);
    let vars = Vars::new()
        .text("challenge", challenge)
        .text("request_id", &request.id)
        .mention("requester", &request.requester)
        .text("resource", &names.resource)
        .text("entitlement", &names.entitlement);
    Ok(services.templates().render("step_up_modal", &vars)?)
}

/// The enrolment modal: `secret` as base32 (typed into an app) and as an
/// `otpauth://` link labelled with `user`.
pub fn enrol(
    services: &Services,
    request_id: &str,
    challenge: &str,
    secret: &[u8],
    user: &str,
) -> anyhow::Result<Value> {
    let totp = check::totp(secret.to_vec(), user)?;
    let vars = Vars::new()
        .text("challenge", challenge)
        .text("request_id", request_id)
        .text("secret", totp.get_secret_base32())
        .text("link", totp.get_url());
    Ok(services.templates().render("step_up_enrol_modal", &vars)?)
}
