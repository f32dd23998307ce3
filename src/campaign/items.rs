//! Which access a campaign reviews and who reviews each item.
//!
//! Pure: the caller reads the active grants, the catalog's standing members, each
//! resource's space and owners, and the members of reviewer groups, and hands them
//! in as plain data. The result is deterministic for the same input, whatever order
//! it came in, so item ids and reviewer assignments can be reproduced in a test.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Item, ReviewerRule, Scope, Source, UserId};

/// An active c1bot grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveGrant {
    pub request_id: String,
    pub beneficiary: UserId,
    pub resource: String,
    pub entitlement: String,
}

/// A member the catalog declares on an entitlement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingMember {
    pub beneficiary: UserId,
    pub resource: String,
    pub entitlement: String,
}

/// Everything [`collect`] looks at.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub grants: Vec<ActiveGrant>,
    pub standing: Vec<StandingMember>,
    /// Resource id -> its space id.
    pub space_of: BTreeMap<String, String>,
    /// Resource id -> its owners, in catalog order (the first is asked first).
    pub owners_of: BTreeMap<String, Vec<UserId>>,
}

/// A [`ReviewerRule`] with its groups expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reviewers {
    ResourceOwners,
    /// Taken in turn; no duplicates, in the order given.
    InTurn(Vec<UserId>),
}

impl Reviewers {
    /// Expands `rule`; `group_members` maps a user group id to its members, as the
    /// caller looked them up. A group missing from the map adds nobody.
    pub fn resolve(rule: &ReviewerRule, group_members: &BTreeMap<String, Vec<UserId>>) -> Self {
        let people: Vec<&UserId> = match rule {
            ReviewerRule::ResourceOwners => return Reviewers::ResourceOwners,
            ReviewerRule::Users(users) => users.iter().collect(),
            ReviewerRule::Groups(groups) => groups
                .iter()
                .filter_map(|g| group_members.get(g))
                .flatten()
                .collect(),
        };
        let mut seen = BTreeSet::new();
        Reviewers::InTurn(
            people
                .into_iter()
                .filter(|p| seen.insert(p.as_str()))
                .cloned()
                .collect(),
        )
    }
}

/// The items in `scope`, numbered from 1, each with a reviewer where one exists.
///
/// Items are sorted by resource, entitlement, beneficiary and source before
/// numbering, so the same access gives the same ids and assignments. The same grant
/// or standing member listed twice becomes one item; a grant and a standing
/// membership for the same access stay two items, since revoking one leaves the other.
pub fn collect(scope: &Scope, reviewers: &Reviewers, sources: &Sources) -> Vec<Item> {
    let grants = sources.grants.iter().map(|g| {
        (
            g.resource.as_str(),
            g.entitlement.as_str(),
            g.beneficiary.as_str(),
            Source::Grant {
                request_id: g.request_id.clone(),
            },
        )
    });
    let standing = sources.standing.iter().map(|m| {
        (
            m.resource.as_str(),
            m.entitlement.as_str(),
            m.beneficiary.as_str(),
            Source::Standing,
        )
    });
    let found: BTreeSet<_> = grants
        .chain(standing)
        .filter(|(resource, entitlement, _, _)| {
            in_scope(scope, resource, entitlement, &sources.space_of)
        })
        .collect();

    let mut turn = 0usize;
    found
        .into_iter()
        .zip(1u32..)
        .map(|((resource, entitlement, beneficiary, source), id)| {
            let reviewer = match reviewers {
                Reviewers::ResourceOwners => {
                    let owners = sources
                        .owners_of
                        .get(resource)
                        .map_or(&[][..], Vec::as_slice);
                    pick_owner(owners, beneficiary)
                }
                Reviewers::InTurn(people) => pick_in_turn(people, beneficiary, &mut turn),
            };
            Item {
                id,
                beneficiary: beneficiary.to_owned(),
                resource: resource.to_owned(),
                entitlement: entitlement.to_owned(),
                source,
                reviewer,
                decision: None,
                removed: None,
            }
        })
        .collect()
}

/// Items nobody can review: an owner has to reassign them.
pub fn unassigned(items: &[Item]) -> Vec<u32> {
    items
        .iter()
        .filter(|i| i.reviewer.is_none())
        .map(|i| i.id)
        .collect()
}

fn in_scope(
    scope: &Scope,
    resource: &str,
    entitlement: &str,
    space_of: &BTreeMap<String, String>,
) -> bool {
    scope.resources.iter().any(|r| r == resource)
        || scope
            .entitlements
            .iter()
            .any(|(r, e)| r == resource && e == entitlement)
        || space_of
            .get(resource)
            .is_some_and(|space| scope.spaces.contains(space))
}

/// The first owner who is not the beneficiary; the beneficiary themselves when they
/// are the only owner (policy decides later whether they may review it).
fn pick_owner(owners: &[UserId], beneficiary: &str) -> Option<UserId> {
    owners
        .iter()
        .find(|o| *o != beneficiary)
        .or_else(|| owners.first())
        .cloned()
}

/// The next person in turn who is not the beneficiary. The turn moves past whoever
/// was picked, so a skip does not shift the load onto the person after the beneficiary.
fn pick_in_turn(people: &[UserId], beneficiary: &str, turn: &mut usize) -> Option<UserId> {
    let n = people.len();
    if n == 0 {
        return None;
    }
    let next = (0..n)
        .map(|k| (*turn + k) % n)
        .find(|&at| people[at] != beneficiary);
    match next {
        Some(at) => {
            *turn = at + 1;
            Some(people[at].clone())
        }
        // Only the beneficiary could review: assign them, flagged as a self-review.
        None => Some(people[*turn % n].clone()),
    }
}

#[cfg(test)]
#[path = "items_tests.rs"]
mod tests;
