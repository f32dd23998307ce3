//! What the request modal offers once a resource is chosen: the entitlements policy
//! lets the person request, their durations, the chosen one's request-form fields
//! and whether it may be taken in an emergency.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::app::shared::directory::Person;
use crate::app::shared::request_form;
use crate::app::shared::services::Services;
use crate::catalog::{Entitlement, FormField, RequestedDuration, Resource};
use crate::policy::{Action, Decision};
use crate::templates::Choice;
use crate::workflow::submit::human;

/// What the modal offers for a chosen resource: its entitlements, their durations,
/// and the chosen entitlement's extra fields (those policy requires marked so).
pub(super) struct Choices<'a> {
    pub(super) entitlements: Vec<Choice>,
    pub(super) durations: Vec<Choice>,
    pub(super) form: &'a [FormField],
    pub(super) required: BTreeSet<String>,
    /// Policy lets the chosen entitlement be taken in an emergency, for at most this.
    pub(super) break_glass: Option<Duration>,
}

pub(super) fn duration_options(choices: &[(String, String)]) -> Vec<Choice> {
    choices
        .iter()
        .map(|(text, value)| Choice {
            text: text.clone(),
            value: value.clone(),
            selected: false,
        })
        .collect()
}

/// Entitlements of `resource` that policy lets `person` request, each with the
/// decision that allowed it (what else it says for the modal: required fields,
/// break-glass).
pub(super) fn requestable<'a>(
    services: &Services,
    person: &Person,
    channel: &str,
    resource: &'a Resource,
) -> Vec<(&'a Entitlement, Decision)> {
    resource
        .entitlements
        .iter()
        .map(|e| {
            let decision =
                services.decide(Action::Request, person, channel, Some((resource, e)), None);
            (e, decision)
        })
        .filter(|(_, decision)| decision.allowed)
        .collect()
}

/// The entitlement and duration choices of `resource` for `person`: the entitlements
/// policy lets them request (one alone is preselected). Once one is chosen, its
/// durations up to its own maximum with its default preselected; before that,
/// durations up to the longest any of them allows. `entitlement` / `duration`
/// preselect a choice.
pub(super) fn choices_for<'a>(
    services: &Services,
    person: &Person,
    channel: &str,
    resource: &'a Resource,
    entitlement: Option<&str>,
    duration: Option<&str>,
) -> Choices<'a> {
    let decided = requestable(services, person, channel, resource);
    let allowed: Vec<&Entitlement> = decided.iter().map(|(e, _)| *e).collect();
    let chosen_at = match entitlement {
        Some(id) => allowed.iter().position(|e| e.id.as_str() == id),
        None if allowed.len() == 1 => Some(0),
        None => None,
    };
    let chosen = chosen_at.map(|i| allowed[i]);
    let decision = chosen_at.map(|i| &decided[i].1);
    let entitlements: Vec<Choice> = allowed
        .iter()
        .map(|e| Choice {
            text: e.name.clone(),
            value: e.id.as_str().to_owned(),
            selected: chosen.is_some_and(|c| c.id == e.id),
        })
        .collect();
    let durations = match chosen {
        Some(entitlement) => {
            let preselect = duration
                .map(str::to_owned)
                .unwrap_or_else(|| entitlement.initial_duration(None).to_value());
            entitlement
                .duration_choices(None)
                .into_iter()
                .map(|choice| {
                    let value = choice.to_value();
                    Choice {
                        text: match choice {
                            RequestedDuration::For(d) => human(d.as_duration()),
                            RequestedDuration::Permanent => "Permanent".to_owned(),
                        },
                        selected: value == preselect,
                        value,
                    }
                })
                .collect()
        }
        None => {
            // The submission checks the chosen entitlement's own maximum.
            let longest = allowed
                .iter()
                .map(|e| e.max_duration.as_secs())
                .max()
                .flatten()
                .map(Duration::from_secs);
            let any_permanent = allowed.iter().any(|e| e.permanent_allowed);
            let mut durations = duration_options(&request_form::duration_choices(
                None,
                longest,
                any_permanent,
            ));
            for choice in &mut durations {
                choice.selected = duration == Some(choice.value.as_str());
            }
            durations
        }
    };
    let entitlements = if entitlements.is_empty() {
        vec![Choice {
            text: "Nothing here you may request".into(),
            value: "none".into(),
            selected: false,
        }]
    } else {
        entitlements
    };
    let break_glass = chosen
        .zip(decision)
        .filter(|(_, d)| d.break_glass)
        .map(|(e, _)| e.break_glass_max.as_duration());
    Choices {
        entitlements,
        durations,
        form: chosen.map_or(&[], |e| e.fields.as_slice()),
        required: decision
            .map(|d| d.required_fields.clone())
            .unwrap_or_default(),
        break_glass,
    }
}
