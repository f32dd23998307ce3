//! A request asked for step by step in a DM with c1bot: resource, entitlement,
//! duration, then the reason typed as a reply, then a confirmation. Pure: the
//! caller stores the [`Conversation`], renders [`Conversation::step`] with its
//! [`Conversation::offered`] choices, and submits [`Conversation::complete`] only
//! after the person confirms.
//!
//! Choices are what the person may request ([`Menu::may_request`], which the caller
//! answers from policy), and a click is accepted only for a value that was offered
//! on the current step: a button's value is never trusted on its own.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    duration_problem, entitlement_problem, match_duration, match_entitlement, match_resource,
    reason_part, reason_problem, resource_problem, Candidate, Complete, Parsed, Part,
    RequestedDuration,
};
use crate::catalog::{Catalog, Entitlement, Resource};

/// Buttons offered at most on one step (Block Kit allows 50 blocks a message).
pub const MAX_OFFERED: usize = 20;

/// Where the conversation stands: the first part still missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Resource,
    Entitlement,
    Duration,
    Reason,
    Confirm,
}

/// One button on the step message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub label: String,
    pub value: String,
}

/// What the caller knows that this module may not look up itself.
pub struct Menu<'a> {
    pub catalog: &'a Catalog,
    /// Policy's answer to "may this person request this entitlement".
    pub may_request: &'a (dyn Fn(&Resource, &Entitlement) -> bool + Sync),
    /// Duration choices (label, option value) for an entitlement, as the modal offers.
    pub durations: &'a (dyn Fn(&Entitlement) -> Vec<(String, String)> + Sync),
}

/// One person's conversation, stored between their messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub user: String,
    /// The DM channel.
    pub channel: String,
    /// The outbox key of the one step message, edited in place as it moves on.
    pub message_key: String,
    pub resource: Option<String>,
    pub entitlement: Option<String>,
    /// The duration option's value (`"7200"`, `"permanent"`).
    pub duration: Option<String>,
    pub reason: Option<String>,
    /// An entitlement named before its resource was known, matched once it is.
    #[serde(default)]
    pub entitlement_text: Option<String>,
    /// What was wrong with the last answer, shown above the choices (plain text).
    pub problem: Option<String>,
    pub offered: Vec<Offer>,
    /// The `ts` of the last message taken in: a redelivered event changes nothing.
    pub last_ts: String,
    pub expires_at: DateTime<Utc>,
}

impl Conversation {
    /// A conversation seeded with what `parsed` (a DM that read as a request) found;
    /// `None` starts from the first question.
    pub fn start(
        user: &str,
        channel: &str,
        ts: &str,
        parsed: Option<&Parsed>,
        menu: &Menu<'_>,
        expires_at: DateTime<Utc>,
    ) -> Conversation {
        let mut conversation = Conversation {
            user: user.to_owned(),
            channel: channel.to_owned(),
            message_key: format!("dm/{user}/{ts}"),
            resource: None,
            entitlement: None,
            duration: None,
            reason: None,
            entitlement_text: None,
            problem: None,
            offered: Vec::new(),
            last_ts: ts.to_owned(),
            expires_at,
        };
        if let Some(parsed) = parsed {
            conversation.resource = parsed.resource.found().cloned();
            conversation.entitlement = parsed.entitlement.found().cloned();
            conversation.duration = parsed.duration.found().map(|d| d.to_value());
            conversation.reason = parsed.reason.found().cloned();
            if let (false, Part::Unknown { text, .. } | Part::Ambiguous { text, .. }) =
                (parsed.resource.is_found(), &parsed.entitlement)
            {
                conversation.entitlement_text = Some(text.clone());
            }
            conversation.problem = first_problem(parsed);
        }
        conversation.settle(menu, first_candidates(parsed));
        conversation
    }

    pub fn step(&self) -> Step {
        match (
            &self.resource,
            &self.entitlement,
            &self.duration,
            &self.reason,
        ) {
            (None, ..) => Step::Resource,
            (Some(_), None, ..) => Step::Entitlement,
            (Some(_), Some(_), None, _) => Step::Duration,
            (Some(_), Some(_), Some(_), None) => Step::Reason,
            _ => Step::Confirm,
        }
    }

    /// A message typed while the conversation is open: the answer to the current step.
    /// `false` when it was already taken in (a redelivered event).
    pub fn answer(
        &mut self,
        text: &str,
        ts: &str,
        menu: &Menu<'_>,
        expires_at: DateTime<Utc>,
    ) -> bool {
        if ts <= self.last_ts.as_str() {
            return false;
        }
        self.last_ts = ts.to_owned();
        self.expires_at = expires_at;
        self.problem = None;
        let mut candidates = None;
        match self.step() {
            Step::Resource => match match_resource(text, menu.catalog) {
                Part::Found(id) => self.resource = Some(id),
                part => {
                    self.problem = resource_problem(&part);
                    candidates = candidates_of(&part, false);
                }
            },
            Step::Entitlement => {
                let resource = self
                    .resource
                    .as_deref()
                    .and_then(|r| menu.catalog.resource(r));
                if let Some(resource) = resource {
                    match match_entitlement(text, resource) {
                        Part::Found(id) => self.entitlement = Some(id),
                        part => {
                            self.problem = entitlement_problem(&part, Some(&resource.name));
                            candidates = candidates_of(&part, true);
                        }
                    }
                }
            }
            Step::Duration => match match_duration(text, self.target(menu).map(|(_, e)| e)) {
                Part::Found(duration) => self.duration = Some(duration.to_value()),
                part => self.problem = duration_problem(&part),
            },
            Step::Reason => match reason_part(text) {
                Part::Found(reason) => self.reason = Some(reason),
                part => self.problem = reason_problem(&part),
            },
            Step::Confirm => {
                self.problem = Some(
                    "Your request is ready: use Submit, Edit or Cancel on the message above."
                        .into(),
                );
            }
        }
        self.settle(menu, candidates);
        true
    }

    /// A button on the step message. Refused (with the sentence to show) unless the
    /// value is one offered on the current step.
    pub fn pick(
        &mut self,
        value: &str,
        menu: &Menu<'_>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), String> {
        if !self.offered.iter().any(|offer| offer.value == value) {
            return Err(
                "That choice is no longer on offer; use the buttons on the newest message.".into(),
            );
        }
        self.expires_at = expires_at;
        self.problem = None;
        match self.step() {
            Step::Resource => self.resource = Some(value.to_owned()),
            Step::Entitlement => self.entitlement = Some(value.to_owned()),
            Step::Duration => self.duration = Some(value.to_owned()),
            Step::Reason | Step::Confirm => {}
        }
        self.settle(menu, None);
        Ok(())
    }

    /// Every part, once the conversation reached its confirmation.
    pub fn complete(&self) -> Option<Complete> {
        if self.step() != Step::Confirm {
            return None;
        }
        Some(Complete {
            resource: self.resource.clone()?,
            entitlement: self.entitlement.clone()?,
            duration: RequestedDuration::from_value(self.duration.as_deref()?)?,
            reason: self.reason.clone()?,
            on_behalf_of: None,
            starts: None,
        })
    }

    fn target<'m>(&self, menu: &Menu<'m>) -> Option<(&'m Resource, &'m Entitlement)> {
        let resource = menu.catalog.resource(self.resource.as_deref()?)?;
        let entitlement = resource
            .entitlements
            .iter()
            .find(|e| Some(e.id.as_str()) == self.entitlement.as_deref())?;
        Some((resource, entitlement))
    }

    /// Drops parts the person may not have (named in text, or a policy that changed),
    /// saying why, then offers the current step's choices: `candidates` when the last
    /// answer was close to several, else everything they may pick.
    fn settle(&mut self, menu: &Menu<'_>, candidates: Option<Vec<Offer>>) {
        if let (Some(resource), None) = (
            self.resource
                .as_deref()
                .and_then(|r| menu.catalog.resource(r)),
            &self.entitlement,
        ) {
            if let Some(text) = self.entitlement_text.take() {
                self.entitlement = match_entitlement(&text, resource).found().cloned();
            }
        }
        if let Some(id) = self.resource.clone() {
            let usable = menu.catalog.resource(&id).is_some_and(|resource| {
                resource
                    .entitlements
                    .iter()
                    .any(|e| (menu.may_request)(resource, e))
            });
            if !usable {
                self.problem = Some(format!("There is nothing on '{id}' you may request."));
                self.resource = None;
                self.entitlement = None;
                self.duration = None;
            }
        }
        if let (Some(resource), Some(id)) = (
            self.resource
                .as_deref()
                .and_then(|r| menu.catalog.resource(r)),
            self.entitlement.clone(),
        ) {
            let usable = resource
                .entitlements
                .iter()
                .any(|e| e.id.as_str() == id && (menu.may_request)(resource, e));
            if !usable {
                self.problem = Some(format!(
                    "You may not request '{id}' on {}; choose another.",
                    resource.name
                ));
                self.entitlement = None;
                self.duration = None;
            }
        }
        if let (Some((_, entitlement)), Some(value)) = (self.target(menu), self.duration.clone()) {
            let offered = (menu.durations)(entitlement);
            if !offered.iter().any(|(_, v)| *v == value) {
                self.problem = Some(format!(
                    "{} cannot be had for that long; choose a duration below.",
                    entitlement.name
                ));
                self.duration = None;
            }
        }
        self.offered = match (self.step(), candidates) {
            (Step::Resource | Step::Entitlement, Some(close)) if !close.is_empty() => close,
            (step, _) => self.choices(step, menu),
        };
        self.offered.truncate(MAX_OFFERED);
    }

    fn choices(&self, step: Step, menu: &Menu<'_>) -> Vec<Offer> {
        match step {
            Step::Resource => menu
                .catalog
                .resources()
                .iter()
                .filter(|r| r.entitlements.iter().any(|e| (menu.may_request)(r, e)))
                .map(|r| Offer {
                    label: r.name.clone(),
                    value: r.id.as_str().to_owned(),
                })
                .collect(),
            Step::Entitlement => self
                .resource
                .as_deref()
                .and_then(|r| menu.catalog.resource(r))
                .map(|resource| {
                    resource
                        .entitlements
                        .iter()
                        .filter(|e| (menu.may_request)(resource, e))
                        .map(|e| Offer {
                            label: e.name.clone(),
                            value: e.id.as_str().to_owned(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            Step::Duration => self
                .target(menu)
                .map(|(_, entitlement)| {
                    (menu.durations)(entitlement)
                        .into_iter()
                        .map(|(label, value)| Offer { label, value })
                        .collect()
                })
                .unwrap_or_default(),
            Step::Reason | Step::Confirm => Vec::new(),
        }
    }
}

/// The problem with the first part not found, unless it was simply not given (then
/// it is the next question, not a problem).
fn first_problem(parsed: &Parsed) -> Option<String> {
    if !parsed.resource.is_found() {
        return not_missing(&parsed.resource).and_then(resource_problem);
    }
    if !parsed.entitlement.is_found() {
        let on = parsed.resource.found().map(String::as_str);
        return not_missing(&parsed.entitlement).and_then(|p| entitlement_problem(p, on));
    }
    if !parsed.duration.is_found() {
        return not_missing(&parsed.duration).and_then(duration_problem);
    }
    not_missing(&parsed.reason).and_then(reason_problem)
}

fn not_missing<T>(part: &Part<T>) -> Option<&Part<T>> {
    (!matches!(part, Part::Missing)).then_some(part)
}

fn first_candidates(parsed: Option<&Parsed>) -> Option<Vec<Offer>> {
    let parsed = parsed?;
    if !parsed.resource.is_found() {
        return candidates_of(&parsed.resource, false);
    }
    candidates_of(&parsed.entitlement, true)
}

/// The candidates of a part as buttons: resources while the resource step is open
/// (`entitlements: false`), else the resource's entitlements.
fn candidates_of<T>(part: &Part<T>, entitlements: bool) -> Option<Vec<Offer>> {
    match part {
        Part::Unknown { candidates, .. } | Part::Ambiguous { candidates, .. } => {
            let mut offers: Vec<Offer> = candidates
                .iter()
                .filter_map(|c| offer(c, entitlements))
                .collect();
            offers.dedup();
            Some(offers)
        }
        _ => None,
    }
}

/// A candidate entitlement offered while the resource is still open is offered as
/// its resource: the step being answered is the resource.
fn offer(candidate: &Candidate, entitlements: bool) -> Option<Offer> {
    // An entitlement candidate's label is "Resource name · Entitlement name".
    let (resource_name, entitlement_name) = match &candidate.entitlement {
        Some(_) => {
            let (r, e) = candidate.label.rsplit_once(" · ")?;
            (r, Some(e))
        }
        None => (candidate.label.as_str(), None),
    };
    Some(if entitlements {
        Offer {
            label: entitlement_name?.to_owned(),
            value: candidate.entitlement.clone()?,
        }
    } else {
        Offer {
            label: resource_name.to_owned(),
            value: candidate.resource.clone(),
        }
    })
}

#[cfg(test)]
#[path = "conversation_tests.rs"]
mod tests;
