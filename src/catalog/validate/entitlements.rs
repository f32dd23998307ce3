//! Resources and their entitlements: the space each names, access durations (the
//! maximum, the default, break-glass), and the request form's extra fields.

use std::collections::{HashMap, HashSet};

use toml::Spanned;

use super::Checker;
use crate::catalog::duration::{AccessDuration, MaxDuration};
use crate::catalog::fields::{FormField, MAX_FIELDS};
use crate::catalog::load::{RawEntitlement, RawResource};
use crate::catalog::model::{ApprovalStep, Entitlement, Id, Resource, SlackId};

impl Checker<'_> {
    pub(super) fn resource(
        &mut self,
        raw: &RawResource,
        spaces: &HashSet<&str>,
    ) -> Option<Resource> {
        let item = format!("resource '{}'", raw.id.get_ref());
        let id = self.id(&raw.id, &item);
        if !spaces.contains(raw.space.get_ref().as_str()) {
            self.problem(
                Some(raw.space.span()),
                &item,
                "space",
                format!("no space has id '{}'", raw.space.get_ref()),
            );
        }
        let owners = self.users(&raw.owners, &item, "owners");
        let mut seen = HashMap::new();
        let entitlements: Vec<Entitlement> = raw
            .entitlements
            .iter()
            .filter_map(|e| {
                let ent_item = format!("{item} entitlement '{}'", e.id.get_ref());
                self.unique(&mut seen, &e.id, ent_item.clone());
                self.entitlement(e, &ent_item, &owners)
            })
            .collect();
        Some(Resource {
            id: id?,
            name: raw.name.clone(),
            description: raw.description.clone(),
            space: Id::parse(raw.space.get_ref()).ok()?,
            owners,
            labels: raw.labels.clone(),
            entitlements,
        })
    }

    pub(super) fn entitlement(
        &mut self,
        raw: &RawEntitlement,
        item: &str,
        owners: &[SlackId],
    ) -> Option<Entitlement> {
        let id = self.id(&raw.id, item);
        let members = self.users(&raw.members, item, "members");
        let max = self.max_duration(raw, item);
        let default = match &raw.default_duration {
            Some(text) => AccessDuration::parse(text.get_ref())
                .map_err(|e| {
                    self.problem(Some(text.span()), item, "default_duration", e.to_string())
                })
                .ok(),
            // One hour, or less when the maximum is shorter.
            None => AccessDuration::from_secs(3600).map(|hour| match max {
                Some(MaxDuration::Limited(max)) => hour.min(max),
                _ => hour,
            }),
        };
        if let (Some(default), Some(MaxDuration::Limited(max))) = (default, max) {
            if default > max {
                let span = raw.default_duration.as_ref().map(Spanned::span);
                self.problem(
                    span,
                    item,
                    "default_duration",
                    format!("{default} is longer than max_duration ({max})"),
                );
            }
        }
        let steps: Vec<ApprovalStep> = raw
            .steps
            .iter()
            .enumerate()
            .filter_map(|(n, step)| {
                let step_item = format!("{item} step {}", n + 1);
                self.step(step.get_ref(), n + 1, &step_item, owners, Some(step.span()))
            })
            .collect();
        let provisioner = self.provisioner(raw.provisioner.as_ref(), item, raw.id.span());
        let fields = self.form_fields(raw, item);
        let break_glass_max = self.break_glass_max(raw, item, max);
        Some(Entitlement {
            id: id?,
            name: raw.name.clone(),
            description: raw.description.clone(),
            default_duration: default?,
            max_duration: max?,
            permanent_allowed: raw.permanent_allowed,
            members,
            steps,
            provisioner: provisioner?,
            fields,
            break_glass_max: break_glass_max?,
        })
    }

    /// `break_glass_max_duration`: one hour when unset (or the maximum, if shorter),
    /// never above `max_duration`.
    pub(super) fn break_glass_max(
        &mut self,
        raw: &RawEntitlement,
        item: &str,
        max: Option<MaxDuration>,
    ) -> Option<AccessDuration> {
        let key = "break_glass_max_duration";
        let Some(text) = &raw.break_glass_max_duration else {
            return AccessDuration::from_secs(3600).map(|hour| match max {
                Some(MaxDuration::Limited(max)) => hour.min(max),
                _ => hour,
            });
        };
        let parsed = AccessDuration::parse(text.get_ref())
            .map_err(|e| self.problem(Some(text.span()), item, key, e.to_string()))
            .ok()?;
        if let Some(MaxDuration::Limited(max)) = max {
            if parsed > max {
                let message = format!("{parsed} is longer than max_duration ({max})");
                self.problem(Some(text.span()), item, key, message);
                return None;
            }
        }
        Some(parsed)
    }

    /// The request form's extra fields; each problem is reported at its field.
    pub(super) fn form_fields(&mut self, raw: &RawEntitlement, item: &str) -> Vec<FormField> {
        if raw.fields.len() > MAX_FIELDS {
            let span = raw.fields.get(MAX_FIELDS).map(Spanned::span);
            self.problem(span, item, "fields", format!("at most {MAX_FIELDS} fields"));
        }
        let mut seen = HashSet::new();
        let mut fields = Vec::new();
        for spanned in &raw.fields {
            let field_item = format!("{item} field '{}'", spanned.get_ref().id);
            match FormField::from_raw(spanned.get_ref()) {
                Ok(field) if !seen.insert(field.id.clone()) => {
                    self.problem(
                        Some(spanned.span()),
                        &field_item,
                        "id",
                        "another field has this id",
                    );
                }
                Ok(field) => fields.push(field),
                Err(problems) => {
                    for (key, message) in problems {
                        self.problem(Some(spanned.span()), &field_item, key, message);
                    }
                }
            }
        }
        fields
    }

    pub(super) fn max_duration(&mut self, raw: &RawEntitlement, item: &str) -> Option<MaxDuration> {
        let text = &raw.max_duration;
        if text.get_ref() == "permanent" {
            if !raw.permanent_allowed {
                self.problem(
                    Some(text.span()),
                    item,
                    "max_duration",
                    "\"permanent\" needs permanent_allowed = true",
                );
                return None;
            }
            return Some(MaxDuration::Permanent);
        }
        AccessDuration::parse(text.get_ref())
            .map(MaxDuration::Limited)
            .map_err(|e| {
                let hint = if raw.permanent_allowed {
                    " (or \"permanent\")"
                } else {
                    ""
                };
                self.problem(
                    Some(text.span()),
                    item,
                    "max_duration",
                    format!("{e}{hint}"),
                )
            })
            .ok()
    }
}
