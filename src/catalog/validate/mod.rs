//! [`RawCatalog`] -> validated spaces and resources, collecting every problem.
//!
//! Checks: ids are slugs and unique; exactly one root; parents exist; no cycles;
//! resources name existing spaces; Slack ids have the right shape; durations parse
//! and default <= max; steps have approvers and a satisfiable quorum; provisioners
//! have assignees. Each problem names the item, the field and where it was written.
//! Pure: no I/O.
//!
//! One [`Checker`] collects the problems. This module checks ids and the space tree;
//! its parts check resources and entitlements ([`entitlements`]), approval steps
//! ([`approvals`]) and provisioners ([`provisioners`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;

use toml::Spanned;

use super::load::{RawCatalog, RawSpace, Source};
use super::model::{Id, Resource, SlackId, SlackIdKind, Space};
use super::Problem;

mod approvals;
mod entitlements;
mod provisioners;

/// Valid spaces and resources, in the order written.
pub(super) type Validated = (Vec<Space>, Vec<Resource>);

pub(super) fn validate(raw: &RawCatalog, source: Source<'_>) -> Result<Validated, Vec<Problem>> {
    let mut check = Checker {
        source,
        problems: Vec::new(),
    };
    let spaces = check.spaces(&raw.spaces);
    let space_ids: HashSet<&str> = raw.spaces.iter().map(|s| s.id.get_ref().as_str()).collect();
    let mut seen = HashMap::new();
    let resources: Vec<Resource> = raw
        .resources
        .iter()
        .filter_map(|r| {
            check.unique(&mut seen, &r.id, format!("resource '{}'", r.id.get_ref()));
            check.resource(r, &space_ids)
        })
        .collect();
    if check.problems.is_empty() {
        Ok((spaces, resources))
    } else {
        Err(check.problems)
    }
}

struct Checker<'a> {
    source: Source<'a>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(
        &mut self,
        span: Option<Range<usize>>,
        item: &str,
        field: &str,
        message: impl Into<String>,
    ) {
        self.problems.push(Problem {
            at: self.source.at(span),
            item: item.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        });
    }

    fn id(&mut self, id: &Spanned<String>, item: &str) -> Option<Id> {
        Id::parse(id.get_ref())
            .map_err(|message| self.problem(Some(id.span()), item, "id", message))
            .ok()
    }

    fn unique(&mut self, seen: &mut HashMap<String, usize>, id: &Spanned<String>, item: String) {
        let line = self.source.at(Some(id.span())).line.unwrap_or(0);
        if let Some(first) = seen.insert(id.get_ref().clone(), line) {
            self.problem(
                Some(id.span()),
                &item,
                "id",
                format!("duplicate id: already used on line {first}"),
            );
        }
    }

    fn slack_ids(
        &mut self,
        ids: &[String],
        kind: SlackIdKind,
        span: Option<Range<usize>>,
        item: &str,
        field: &str,
    ) -> Vec<SlackId> {
        ids.iter()
            .filter_map(|id| {
                SlackId::parse(id, kind)
                    .map_err(|message| self.problem(span.clone(), item, field, message))
                    .ok()
            })
            .collect()
    }

    /// Slack user ids written one per array element, so each bad one is reported at its own line.
    fn users(&mut self, ids: &[Spanned<String>], item: &str, field: &str) -> Vec<SlackId> {
        ids.iter()
            .filter_map(|id| {
                SlackId::parse(id.get_ref(), SlackIdKind::User)
                    .map_err(|m| self.problem(Some(id.span()), item, field, m))
                    .ok()
            })
            .collect()
    }

    fn spaces(&mut self, raw: &[RawSpace]) -> Vec<Space> {
        let mut seen = HashMap::new();
        let mut spaces = Vec::new();
        for space in raw {
            let item = format!("space '{}'", space.id.get_ref());
            self.unique(&mut seen, &space.id, item.clone());
            let id = self.id(&space.id, &item);
            let parent = space.parent.as_ref().and_then(|p| {
                if !raw.iter().any(|s| s.id.get_ref() == p.get_ref()) {
                    self.problem(
                        Some(p.span()),
                        &item,
                        "parent",
                        format!("no space has id '{}'", p.get_ref()),
                    );
                }
                Id::parse(p.get_ref()).ok()
            });
            if let Some(id) = id {
                spaces.push(Space {
                    id,
                    name: space.name.clone(),
                    parent,
                    inherit: space.inherit,
                    labels: space.labels.clone(),
                });
            }
        }
        self.roots(raw);
        self.cycles(raw);
        spaces
    }

    fn roots(&mut self, raw: &[RawSpace]) {
        let roots: Vec<&RawSpace> = raw.iter().filter(|s| s.parent.is_none()).collect();
        match roots.as_slice() {
            [] if raw.is_empty() => {}
            [] => self.problem(
                None,
                "spaces",
                "parent",
                "no root space: exactly one space must have no parent",
            ),
            [_] => {}
            [first, rest @ ..] => {
                for extra in rest {
                    self.problem(
                        Some(extra.id.span()),
                        &format!("space '{}'", extra.id.get_ref()),
                        "parent",
                        format!(
                            "a second root space ('{}' is already the root): give it a parent",
                            first.id.get_ref()
                        ),
                    );
                }
            }
        }
    }

    /// A cycle is reported once, at its smallest id, with its members in order.
    fn cycles(&mut self, raw: &[RawSpace]) {
        let parent_of: BTreeMap<&str, &str> = raw
            .iter()
            .filter_map(|s| {
                Some((
                    s.id.get_ref().as_str(),
                    s.parent.as_ref()?.get_ref().as_str(),
                ))
            })
            .collect();
        for space in raw {
            let start = space.id.get_ref().as_str();
            let mut path = vec![start];
            let mut at = start;
            while let Some(&parent) = parent_of.get(at) {
                if parent == start {
                    if path.iter().all(|id| *id >= start) {
                        path.push(start);
                        self.problem(
                            space.parent.as_ref().map(Spanned::span),
                            &format!("space '{start}'"),
                            "parent",
                            format!("spaces form a cycle: {}", path.join(" → ")),
                        );
                    }
                    break;
                }
                if path.contains(&parent) || path.len() > raw.len() {
                    break; // a cycle above `start`, reported from inside it
                }
                path.push(parent);
                at = parent;
            }
        }
    }
}
