//! Break-glass (emergency) access in Slack: the request modal's *Emergency* choice
//! (where policy's `break_glass` allows it), `/c1 break-glass`, the confirm step
//! that says exactly what will happen, and taking the access with everyone told in
//! the same commit. The post-incident review (*Looks right* / *Revoke now*, with
//! reminders) is [`review`]; what is sent when it is taken, [`announce`].
//!
//! No second path: a new emergency request is validated, decided by policy and
//! committed by `requests::create` like any other (its draft kept server-side
//! between the first submission and the confirmation); an open request escalated
//! by its requester goes through [`escalate`]. The workflow's part is
//! `workflow::break_glass` (pure).

mod announce;
mod confirm;
mod escalate;
pub mod review;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::catalog::{Entitlement, Resource};
use crate::policy::Decision;
use crate::slack::view_input::ViewInput;
use crate::workflow::approval::Effect;
use crate::workflow::request::{AccessRequest, Step};
use crate::workflow::submit::{fields, Created};

pub use announce::announce;
pub use confirm::{ask_to_confirm, confirmed};
pub use escalate::command;

/// The request modal's *Emergency* checkbox (block `emergency`).
pub const ACTION: &str = "emergency_select";
const CHOICE_VALUE: &str = "break-glass";
const CHOICE_TEXT: &str = "Break glass: grant it now without approval";

/// What taking emergency access needs besides the request: who reviews it, who
/// else is told, and how long it may last.
#[derive(Debug, Clone)]
pub struct Planned {
    pub reviewers: BTreeSet<String>,
    /// The resource's owners (told by DM).
    pub owners: BTreeSet<String>,
    pub cap: Duration,
}

/// Whether the request modal's *Emergency* box is ticked.
pub fn chosen(input: &ViewInput) -> bool {
    input
        .many(fields::EMERGENCY)
        .iter()
        .any(|value| value == CHOICE_VALUE)
}

/// Adds the *Emergency* choice to the request modal, after the justification and
/// the request form's fields, saying how long the access may last.
pub fn insert_choice(view: &mut Value, cap: Duration) {
    let Some(blocks) = view.get_mut("blocks").and_then(Value::as_array_mut) else {
        return;
    };
    let after = blocks
        .iter()
        .rposition(|b| {
            b.get("block_id").and_then(Value::as_str).is_some_and(|id| {
                id == fields::JUSTIFICATION || id.starts_with(crate::catalog::FIELD_BLOCK_PREFIX)
            })
        })
        .map_or(blocks.len(), |i| i + 1);
    let hint = format!(
        "Only for an incident. Granted at once for at most {}; the approvers, the resource's owners and security are told, and the approvers review it afterwards.",
        crate::workflow::submit::human(cap)
    );
    let choice = json!({
        "type": "input",
        "block_id": fields::EMERGENCY,
        "optional": true,
        "label": {"type": "plain_text", "text": "Emergency"},
        "hint": {"type": "plain_text", "text": hint},
        "element": {
            "type": "checkboxes",
            "action_id": ACTION,
            "options": [{"text": {"type": "plain_text", "text": CHOICE_TEXT}, "value": CHOICE_VALUE}],
        },
    });
    blocks.insert(after, choice);
}

/// Whether policy lets this entitlement be taken in an emergency, and by whom it is
/// then reviewed: the approvers of its steps (resolved), else the resource's owners.
pub fn plan(
    entitlement: &Entitlement,
    resource: &Resource,
    decision: &Decision,
    steps: &[Step],
) -> Result<Planned, String> {
    if !decision.allowed || !decision.break_glass {
        return Err(format!(
            "{} cannot be taken as emergency access: ask for approval instead.",
            entitlement.name
        ));
    }
    let owners: BTreeSet<String> = resource.owners.iter().map(|o| o.to_string()).collect();
    let mut reviewers: BTreeSet<String> = steps
        .iter()
        .flat_map(|s| s.approvers.iter().cloned())
        .collect();
    if reviewers.is_empty() {
        reviewers = owners.clone();
    }
    Ok(Planned {
        reviewers,
        owners,
        cap: entitlement.break_glass_max.as_duration(),
    })
}

/// A new request, taken as emergency access (see `workflow::break_glass::take`).
pub fn take(
    planned: &Planned,
    created: Created,
    now: DateTime<Utc>,
) -> Result<(AccessRequest, Vec<Effect>), String> {
    crate::workflow::break_glass::take(
        created.request,
        None,
        planned.reviewers.clone(),
        planned.cap,
        false,
        now,
    )
}

/// The values every break-glass message about `request` shares (`justification` is
/// the emergency reason).
fn request_vars(
    request: &AccessRequest,
    names: &crate::app::shared::notify::Names,
) -> crate::templates::Vars {
    let reason = request
        .emergency
        .as_ref()
        .map_or(request.justification.as_str(), |e| e.reason.as_str());
    crate::templates::Vars::new()
        .text("request_id", &request.id)
        .person_asked_by("requester", &request.beneficiary, &request.requester)
        .text("resource", &names.resource)
        .text("entitlement", &names.entitlement)
        .text("space", &names.space)
        .text(
            "duration",
            crate::app::shared::notify::duration_text(request.duration),
        )
        .text("justification", reason)
}

/// The draft's record key: one per person.
fn draft_key(user: &str) -> String {
    format!("break-glass/{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_goes_after_the_form_and_reads_back_when_ticked() {
        let mut view = json!({"blocks": [
            {"block_id": "justification"}, {"block_id": "field_ticket"}, {"block_id": "on_behalf"}
        ]});
        insert_choice(&mut view, Duration::from_secs(3600));
        assert_eq!(view["blocks"][2]["block_id"], "emergency");
        assert!(view["blocks"][2]["hint"]["text"]
            .as_str()
            .is_some_and(|h| h.contains("at most 1 h")));
        let ticked = json!({"values": {"emergency": {ACTION: {"type": "checkboxes",
            "selected_options": [{"value": CHOICE_VALUE}]}}}});
        let input = |state: Value| ViewInput::decode(&json!({ "state": state }));
        assert!(chosen(&input(ticked)));
        let unticked = json!({"values": {"emergency": {ACTION: {"type": "checkboxes", "selected_options": []}}}});
        assert!(!chosen(&input(unticked)));
        assert!(!chosen(&input(json!({}))));
    }

    fn decision(allowed: bool, break_glass: bool) -> Decision {
        Decision {
            allowed,
            break_glass,
            ..Decision::default()
        }
    }

    #[test]
    fn policy_must_allow_it_and_the_approvers_review_it_else_the_owners() {
        let catalog = crate::catalog::Catalog::synthetic(5);
        let resource = &catalog.resources()[0];
        let entitlement = &resource.entitlements[0];
        let lead = Step::new(
            "lead",
            ["U0BOB00001".to_owned()],
            crate::workflow::request::Quorum::Any,
        );
        for refused in [decision(true, false), decision(false, true)] {
            assert!(
                plan(entitlement, resource, &refused, std::slice::from_ref(&lead))
                    .expect_err("refused")
                    .contains("cannot be taken as emergency access")
            );
        }
        let planned = plan(entitlement, resource, &decision(true, true), &[lead]).expect("planned");
        assert_eq!(planned.reviewers, BTreeSet::from(["U0BOB00001".to_owned()]));
        assert_eq!(planned.cap, entitlement.break_glass_max.as_duration());
        let by_owners = plan(entitlement, resource, &decision(true, true), &[]).expect("planned");
        assert_eq!(by_owners.reviewers, by_owners.owners);
    }
}
