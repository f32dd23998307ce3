//! The access catalog: spaces (a tree, as in Spacelift), resources, their
//! entitlements with approval steps and provisioners, and the queries the request
//! workflow needs.
//!
//! Owns the catalog's TOML format (`load`), its validation (`validate`, every
//! problem at once, with file:line) and read-only lookups on the result. The only
//! I/O is reading a catalog file at start-up; everything else is pure. It decides
//! nothing about who may request or approve: that is policy's job, fed by
//! [`Catalog::spaces_for_policy`].
//!
//! Architecture invariant: a [`Catalog`] is immutable once built; it is a cheap
//! `Clone` (an `Arc`) so handlers share one.

mod duration;
mod fields;
mod load;
mod model;
mod search;
mod synthetic;
mod validate;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

pub use duration::{
    parse_millis, parse_span, unit_seconds, AccessDuration, DurationError, MaxDuration,
    RequestedDuration,
};
pub use fields::{
    check_all as check_fields, well_formed as well_formed_fields, FieldKind, FormField, Pattern,
    BLOCK_PREFIX as FIELD_BLOCK_PREFIX,
};
pub use load::{CatalogError, Location, Problem, RawCatalog, Source};
pub use model::{
    ApprovalStep, Approvers, Assignees, Automatic, CommandSpec, Entitlement, Escalation, Id,
    Provisioner, Requirement, Resource, SlackId, SlackIdKind, Space, WebhookSpec, MAX_ID_LEN,
};

use search::SearchIndex;

/// The validated catalog; empty when the config has none.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    spaces: Vec<Space>,
    resources: Vec<Resource>,
    space_index: HashMap<String, usize>,
    resource_index: HashMap<String, usize>,
    /// Per space (same order as `spaces`): parent first, root last.
    ancestors: Vec<Vec<Id>>,
    search: SearchIndex,
}

/// A space as policies see it (`input.spaces[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySpace {
    pub id: String,
    pub name: String,
    pub labels: Vec<String>,
    pub parent: Option<String>,
    pub inherit: bool,
    /// Parent first, root last.
    pub ancestors: Vec<String>,
}

impl Catalog {
    /// Reads and validates a separate catalog file (top-level `[[spaces]]`, `[[resources]]`).
    pub fn load_file(path: &Path) -> Result<Catalog, CatalogError> {
        let text = load::read(path)?;
        let name = path.display().to_string();
        Catalog::from_toml(Source {
            name: &name,
            text: &text,
        })
    }

    /// Parses and validates catalog text written as a separate file.
    pub fn from_toml(source: Source<'_>) -> Result<Catalog, CatalogError> {
        let raw = load::parse_text(source)?;
        Catalog::from_raw(&raw, source)
    }

    /// Validates an already deserialized catalog (the config file's `[catalog]`
    /// table); `source` is the text its spans point into.
    pub fn from_raw(raw: &RawCatalog, source: Source<'_>) -> Result<Catalog, CatalogError> {
        let (spaces, resources) = validate::validate(raw, source).map_err(CatalogError::Invalid)?;
        Ok(Catalog::build(spaces, resources))
    }

    /// Indexes validated items. Spaces must form a tree (validation guarantees it);
    /// a broken parent chain would only shorten that space's ancestors.
    fn build(spaces: Vec<Space>, resources: Vec<Resource>) -> Catalog {
        let space_index: HashMap<String, usize> = spaces
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str().to_owned(), i))
            .collect();
        let ancestors = spaces
            .iter()
            .map(|space| {
                let mut chain = Vec::new();
                let mut next = space.parent.as_ref();
                while let Some(parent) = next {
                    if chain.contains(parent) || chain.len() > spaces.len() {
                        break;
                    }
                    chain.push(parent.clone());
                    next = space_index
                        .get(parent.as_str())
                        .and_then(|&i| spaces[i].parent.as_ref());
                }
                chain
            })
            .collect();
        let resource_index = resources
            .iter()
            .enumerate()
            .map(|(i, r)| (r.id.as_str().to_owned(), i))
            .collect();
        let search = SearchIndex::new(&resources);
        Catalog {
            inner: Arc::new(Inner {
                spaces,
                resources,
                space_index,
                resource_index,
                ancestors,
                search,
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inner.spaces.is_empty() && self.inner.resources.is_empty()
    }

    pub fn spaces(&self) -> &[Space] {
        &self.inner.spaces
    }

    pub fn resources(&self) -> &[Resource] {
        &self.inner.resources
    }

    pub fn entitlement_count(&self) -> usize {
        self.inner.search.len()
    }

    pub fn space(&self, id: &str) -> Option<&Space> {
        let i = *self.inner.space_index.get(id)?;
        self.inner.spaces.get(i)
    }

    pub fn resource(&self, id: &str) -> Option<&Resource> {
        let i = *self.inner.resource_index.get(id)?;
        self.inner.resources.get(i)
    }

    pub fn entitlement(&self, resource_id: &str, entitlement_id: &str) -> Option<&Entitlement> {
        self.resource(resource_id)?
            .entitlements
            .iter()
            .find(|e| e.id.as_str() == entitlement_id)
    }

    /// The space's ancestors, parent first and root last; `None` for an unknown space.
    pub fn ancestors(&self, space_id: &str) -> Option<&[Id]> {
        let i = *self.inner.space_index.get(space_id)?;
        self.inner.ancestors.get(i).map(Vec::as_slice)
    }

    /// Every space with its ancestors, for `input.spaces` of a policy evaluation.
    pub fn spaces_for_policy(&self) -> Vec<PolicySpace> {
        self.inner
            .spaces
            .iter()
            .zip(&self.inner.ancestors)
            .map(|(space, ancestors)| PolicySpace {
                id: space.id.to_string(),
                name: space.name.clone(),
                labels: space.labels.clone(),
                parent: space.parent.as_ref().map(Id::to_string),
                inherit: space.inherit,
                ancestors: ancestors.iter().map(Id::to_string).collect(),
            })
            .collect()
    }

    /// Entitlements whose resource or own id or name contain every word of
    /// `query` (case-insensitive), in catalog order. An empty query matches all.
    /// Lazy, so a caller can filter by policy before taking a page.
    pub fn matches<'a>(
        &'a self,
        query: &str,
    ) -> impl Iterator<Item = (&'a Resource, &'a Entitlement)> + 'a {
        let inner = &self.inner;
        inner.search.matches(query).filter_map(move |(r, e)| {
            let resource = inner.resources.get(r)?;
            Some((resource, resource.entitlements.get(e)?))
        })
    }

    /// The first `limit` of [`Catalog::matches`].
    pub fn search(&self, query: &str, limit: usize) -> Vec<(&Resource, &Entitlement)> {
        self.matches(query).take(limit).collect()
    }

    /// The value of a select option naming this pair: `resource:entitlement`. Ids
    /// are slugs of at most 64 characters, so it fits Slack's 150-character limit and
    /// splits back unambiguously.
    pub fn option_value(resource: &Resource, entitlement: &Entitlement) -> String {
        format!("{}:{}", resource.id, entitlement.id)
    }

    /// Reads back [`Catalog::option_value`]; `None` for anything the catalog does not hold.
    pub fn from_option_value(&self, value: &str) -> Option<(&Resource, &Entitlement)> {
        let (resource_id, entitlement_id) = value.split_once(':')?;
        let resource = self.resource(resource_id)?;
        let entitlement = resource
            .entitlements
            .iter()
            .find(|e| e.id.as_str() == entitlement_id)?;
        Some((resource, entitlement))
    }

    /// A valid catalog of `n_entitlements` entitlements (five per resource, spread
    /// over prod and dev spaces) for tests and benchmarks.
    pub fn synthetic(n_entitlements: usize) -> Catalog {
        let (spaces, resources) = synthetic::generate(n_entitlements);
        Catalog::build(spaces, resources)
    }
}

#[cfg(test)]
mod tests;
