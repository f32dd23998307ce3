//! Typed names against the catalog: an exact id or name (case-insensitive) is found;
//! otherwise the closest few are offered, and nothing is picked on the person's behalf.
//!
//! Closeness, best first: the text starts an id or name; it starts a word of one
//! (`prod` in `aws-prod`); it occurs inside one, or one inside it; it is a small
//! number of edits away (`aws-prd`). Several items tied in one of the first three
//! tiers make the text `Ambiguous` (`aws` for `aws-prod` and `aws-dev`); a typo is
//! only ever `Unknown`, with suggestions.

use std::collections::HashSet;

use super::text::{key, key_words, preview, Word};
use super::{Candidate, Part};
use crate::catalog::{Catalog, Resource};

/// Names longer than this many words are only matched when typed alone.
const MAX_RUN_WORDS: usize = 8;

/// At most this many candidates are offered.
pub(super) const MAX_CANDIDATES: usize = 5;
/// Edit distance is only computed between short strings: ids are at most 64
/// characters, so a longer text is no typo of one, and the cost stays bounded.
const MAX_DISTANCE_CHARS: usize = 128;
/// The longest text kept in a `Part` for quoting back.
const MAX_PART_TEXT: usize = 200;

/// The resource `text` names: its id when it is exactly a resource's id or name.
pub fn match_resource(text: &str, catalog: &Catalog) -> Part<String> {
    let items = catalog
        .resources()
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()));
    let candidate = |i: usize| {
        let r = catalog.resources().get(i)?;
        Some(resource_candidate(r))
    };
    to_part(text, rank(&key(text), items), candidate, |i| {
        catalog.resources().get(i).map(|r| r.id.to_string())
    })
}

/// The entitlement of `resource` that `text` names: its id when it is exactly an
/// entitlement's id or name. When nothing is close, every entitlement of the
/// resource (up to five) is offered, since the list is short and the person is
/// better served choosing than retyping.
pub fn match_entitlement(text: &str, resource: &Resource) -> Part<String> {
    let items = resource
        .entitlements
        .iter()
        .map(|e| (e.id.as_str(), e.name.as_str()));
    let ranked = match rank(&key(text), items) {
        Ranked::Unknown(close) if close.is_empty() => {
            Ranked::Unknown((0..resource.entitlements.len()).collect())
        }
        ranked => ranked,
    };
    let candidate = |i: usize| entitlement_candidate(resource, i);
    to_part(text, ranked, candidate, |i| {
        resource.entitlements.get(i).map(|e| e.id.to_string())
    })
}

pub(super) fn resource_candidate(resource: &Resource) -> Candidate {
    Candidate {
        resource: resource.id.to_string(),
        entitlement: None,
        label: resource.name.clone(),
    }
}

pub(super) fn entitlement_candidate(resource: &Resource, index: usize) -> Option<Candidate> {
    let entitlement = resource.entitlements.get(index)?;
    Some(Candidate {
        resource: resource.id.to_string(),
        entitlement: Some(entitlement.id.to_string()),
        label: format!("{} · {}", resource.name, entitlement.name),
    })
}

fn to_part(
    text: &str,
    ranked: Ranked,
    candidate: impl Fn(usize) -> Option<Candidate>,
    id: impl Fn(usize) -> Option<String>,
) -> Part<String> {
    let candidates = |indexes: Vec<usize>| -> Vec<Candidate> {
        indexes
            .into_iter()
            .filter_map(&candidate)
            .take(MAX_CANDIDATES)
            .collect()
    };
    let text = preview(text, MAX_PART_TEXT);
    match ranked {
        Ranked::Missing => Part::Missing,
        Ranked::Found(i) => id(i).map_or(Part::Missing, Part::Found),
        Ranked::Unknown(indexes) => Part::Unknown {
            text,
            candidates: candidates(indexes),
        },
        Ranked::Ambiguous(indexes) => Part::Ambiguous {
            text,
            candidates: candidates(indexes),
        },
    }
}

/// The longest run of available words that is exactly some item's id or name
/// (`AWS production` in `request AWS production ReadOnly`), leftmost among equals,
/// as (first word, word count). `from`: only runs starting at that word.
pub(super) fn exact_run<'a>(
    words: &[Word],
    available: &[bool],
    items: impl Iterator<Item = (&'a str, &'a str)>,
    from: Option<usize>,
) -> Option<(usize, usize)> {
    let mut keys: HashSet<String> = HashSet::new();
    let mut longest = 0;
    for (id, name) in items {
        for k in [id.to_lowercase(), key(name)] {
            let n = key_words(&k);
            if n > 0 && n <= MAX_RUN_WORDS {
                longest = longest.max(n);
                keys.insert(k);
            }
        }
    }
    let starts = match from {
        Some(at) => at..at + 1,
        None => 0..words.len(),
    };
    for len in (1..=longest).rev() {
        for start in starts.clone() {
            let Some(run) = words.get(start..start + len) else {
                continue;
            };
            let free = available
                .get(start..start + len)
                .is_some_and(|a| a.iter().all(|&a| a));
            if !free {
                continue;
            }
            let joined = run
                .iter()
                .map(|w| w.key.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            if keys.contains(&joined) {
                return Some((start, len));
            }
        }
    }
    None
}

/// The words `start..start + len`, as typed, one space apart.
pub(super) fn run_text(words: &[Word], start: usize, len: usize) -> String {
    words
        .iter()
        .skip(start)
        .take(len)
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// An entitlement typed while its resource is not known: `Unknown`, offering the
/// pairs where a candidate resource has an entitlement of exactly that id or name.
pub(super) fn entitlement_without_resource(
    text: &str,
    resource: &Part<String>,
    catalog: &Catalog,
) -> Part<String> {
    let resources: &[Candidate] = match resource {
        Part::Unknown { candidates, .. } | Part::Ambiguous { candidates, .. } => candidates,
        _ => &[],
    };
    let candidates = resources
        .iter()
        .filter_map(|c| catalog.resource(&c.resource))
        .filter_map(|r| {
            let Part::Found(id) = match_entitlement(text, r) else {
                return None;
            };
            let index = r.entitlements.iter().position(|e| e.id.as_str() == id)?;
            entitlement_candidate(r, index)
        })
        .take(MAX_CANDIDATES)
        .collect();
    Part::Unknown {
        text: preview(text, MAX_PART_TEXT),
        candidates,
    }
}

/// What [`rank`] made of a text, by index into the items it was given.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ranked {
    Missing,
    Found(usize),
    /// Closest first; may be empty.
    Unknown(Vec<usize>),
    /// Closest first; at least two.
    Ambiguous(Vec<usize>),
}

/// How close an item is to the text: the tier first, then a distance within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Closeness {
    tier: u8,
    distance: usize,
}

const TIER_PREFIX: u8 = 0;
const TIER_WORD_PREFIX: u8 = 1;
const TIER_CONTAINS: u8 = 2;
const TIER_TYPO: u8 = 3;

/// Matches a [`key`] against items given as (id, name), in catalog order.
pub(super) fn rank<'a>(query: &str, items: impl Iterator<Item = (&'a str, &'a str)>) -> Ranked {
    if query.is_empty() {
        return Ranked::Missing;
    }
    let mut by_id = None;
    let mut by_name = Vec::new();
    let mut close: Vec<(Closeness, usize)> = Vec::new();
    for (i, (id, name)) in items.enumerate() {
        let id = id.to_lowercase();
        let name = key(name);
        if id == query {
            by_id.get_or_insert(i);
        } else if name == query {
            by_name.push(i);
        } else if let Some(closeness) = closeness(query, &id, &name) {
            close.push((closeness, i));
        }
    }
    if let Some(i) = by_id {
        return Ranked::Found(i);
    }
    match by_name.as_slice() {
        [i] => return Ranked::Found(*i),
        [_, _, ..] => return Ranked::Ambiguous(by_name),
        [] => {}
    }
    close.sort();
    let best_tier = close.first().map(|(c, _)| c.tier);
    let tied = close
        .iter()
        .filter(|(c, _)| Some(c.tier) == best_tier)
        .count();
    let indexes = close.into_iter().map(|(_, i)| i).collect();
    if tied >= 2 && best_tier.is_some_and(|t| t < TIER_TYPO) {
        Ranked::Ambiguous(indexes)
    } else {
        Ranked::Unknown(indexes)
    }
}

fn closeness(query: &str, id: &str, name: &str) -> Option<Closeness> {
    let length_gap = |other: &str| other.chars().count().abs_diff(query.chars().count());
    let best_gap = length_gap(id).min(length_gap(name));
    let at = |tier| {
        Some(Closeness {
            tier,
            distance: best_gap,
        })
    };
    if id.starts_with(query) || name.starts_with(query) {
        return at(TIER_PREFIX);
    }
    let mut words = id
        .split(['-', '_'])
        .chain(name.split([' ', '-', '_']))
        .filter(|w| !w.is_empty());
    if words.any(|w| w.starts_with(query)) {
        return at(TIER_WORD_PREFIX);
    }
    let short_query = query.len() <= MAX_DISTANCE_CHARS;
    let inside = |whole: &str| whole.chars().count() >= 3 && query.contains(whole);
    if id.contains(query) || name.contains(query) || (short_query && (inside(id) || inside(name))) {
        return at(TIER_CONTAINS);
    }
    if !short_query {
        return None;
    }
    let allowed = (query.chars().count() / 3).clamp(1, 3);
    let distance = id
        .split(['-', '_'])
        .chain(name.split(' '))
        .chain([id, name])
        .filter(|w| !w.is_empty() && w.len() <= MAX_DISTANCE_CHARS)
        .map(|w| edit_distance(query, w))
        .min()?;
    (distance <= allowed).then_some(Closeness {
        tier: TIER_TYPO,
        distance,
    })
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("aws-prd", "aws-prod"), 1);
        assert_eq!(edit_distance("readonyl", "readonly"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("été", "ete"), 2);
    }

    #[test]
    fn an_id_match_beats_another_items_name() {
        let items = [("alpha", "beta"), ("beta", "Gamma")];
        assert_eq!(rank("beta", items.into_iter()), Ranked::Found(1));
    }

    #[test]
    fn two_equal_names_are_ambiguous() {
        let items = [("a-1", "Shared"), ("a-2", "shared")];
        assert_eq!(
            rank("shared", items.into_iter()),
            Ranked::Ambiguous(vec![0, 1])
        );
    }
}
