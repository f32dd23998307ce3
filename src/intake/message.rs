//! A direct message that reads as a request: `request aws-prod readonly for 2h
//! because incident 4711`, `request AWS production ReadOnly for 2 hours because …`,
//! `please give me readonly on aws-prod for 30m: reason`.
//!
//! Not positional: the reason is whatever follows `because`, `for reason`, a `:` or
//! a lone dash (or, with none of those, whatever follows the duration); in the rest
//! the longest runs of words that are exactly a resource's and then one of its
//! entitlements' names are found wherever they stand, then a duration (a `for`
//! before it belongs to it), and the words left over, less filler, are what the
//! person typed for a part not found exactly. A message that does not read as a
//! request at all is `None`, and the caller starts a guided conversation instead.

use super::duration::{checked, read};
use super::matching::{
    entitlement_without_resource, exact_run, match_entitlement, match_resource, run_text,
};
use super::text::{cap_input, plain, preview, reason_markers, take_for_mention, words, Word};
use super::{reason_part, Parsed, Part};
use crate::catalog::Catalog;

/// Markers examined at most, so that text full of colons stays linear.
const MAX_MARKERS: usize = 16;

const GREETINGS: &[&str] = &["hi", "hey", "hello", "hiya", "howdy", "yo", "morning"];
const POLITE: &[&str] = &["please", "pls", "plz", "kindly"];

/// Openings that make a message a request, longest first where one starts another.
const INTENTS: &[&[&str]] = &[
    &["i", "would", "like", "to", "request"],
    &["i'd", "like", "to", "request"],
    &["i", "would", "like"],
    &["i'd", "like"],
    &["id", "like"],
    &["i", "want", "to", "request"],
    &["i", "need", "to", "request"],
    &["i", "need"],
    &["i", "want"],
    &["i", "request"],
    &["can", "you", "give", "me"],
    &["could", "you", "give", "me"],
    &["can", "you", "grant", "me"],
    &["could", "you", "grant", "me"],
    &["can", "i", "have"],
    &["can", "i", "get"],
    &["could", "i", "have"],
    &["could", "i", "get"],
    &["may", "i", "have"],
    &["may", "i", "get"],
    &["give", "me"],
    &["grant", "me"],
    &["get", "me"],
    &["requesting"],
    &["request"],
    &["need"],
];

/// Words that carry no part of a request between the parts that do.
const FILLER: &[&str] = &[
    "a",
    "access",
    "an",
    "and",
    "as",
    "at",
    "for",
    "give",
    "grant",
    "i",
    "in",
    "into",
    "just",
    "kindly",
    "level",
    "me",
    "my",
    "need",
    "of",
    "on",
    "permission",
    "permissions",
    "please",
    "pls",
    "plz",
    "reason",
    "request",
    "resource",
    "role",
    "rights",
    "some",
    "temporary",
    "thanks",
    "the",
    "to",
    "via",
    "with",
];

/// Words after which the next words name the resource (`readonly on aws-prod`).
const CONNECTORS: &[&str] = &["on", "to", "in", "at", "for"];

/// `None` when `text` does not read as a request; otherwise what it asks for.
pub fn parse_message(text: &str, catalog: &Catalog) -> Option<Parsed> {
    let taken = take_for_mention(cap_input(text));
    let raw = taken.rest.as_str();

    let marker = reason_markers(raw)
        .into_iter()
        .take(MAX_MARKERS)
        .find(|(start, _)| says_something(&plain(&raw[..*start])));
    let body = plain(marker.map_or(raw, |(start, _)| &raw[..start]));
    let words = words(&body);
    let keys: Vec<&str> = words.iter().map(|w| w.key.as_str()).collect();

    let opening = opening(&keys);
    let mut available: Vec<bool> = (0..words.len()).map(|i| i >= opening.end).collect();
    let take = |available: &mut Vec<bool>, start: usize, len: usize| {
        for free in available.iter_mut().skip(start).take(len) {
            *free = false;
        }
    };

    let resources = catalog
        .resources()
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()));
    let resource_run = exact_run(&words, &available, resources, None);
    let mut resource_part = Part::Missing;
    if let Some((start, len)) = resource_run {
        resource_part = match_resource(&run_text(&words, start, len), catalog);
        take(&mut available, start, len);
    }
    let resource = resource_part.found().and_then(|id| catalog.resource(id));

    let entitlement_run = resource.and_then(|r| {
        let entitlements = r
            .entitlements
            .iter()
            .map(|e| (e.id.as_str(), e.name.as_str()));
        exact_run(&words, &available, entitlements, None)
    });
    if let Some((start, len)) = entitlement_run {
        take(&mut available, start, len);
    }
    let anywhere = catalog
        .resources()
        .iter()
        .flat_map(|r| &r.entitlements)
        .map(|e| (e.id.as_str(), e.name.as_str()));
    // Typed without its resource: still an entitlement, to be checked once the
    // resource is known.
    let loose_entitlement_run = if resource.is_none() {
        exact_run(&words, &available, anywhere, None)
    } else {
        None
    };
    if let Some((start, len)) = loose_entitlement_run {
        take(&mut available, start, len);
    }

    let found_duration = find_duration(&keys, &available);
    let mut reason = marker.map(|(_, reason_start)| reason_part(&plain(&raw[reason_start..])));
    if let Some(found) = &found_duration {
        take(&mut available, found.start, found.len);
        if found.start > 0 && keys.get(found.start - 1) == Some(&"for") {
            take(&mut available, found.start - 1, 1);
        }
        // Without a marker, what follows the duration is the reason, as in the
        // one-line form, unless a part found by name stands there.
        let end = found.start + found.len;
        let parts_after = [resource_run, entitlement_run, loose_entitlement_run]
            .into_iter()
            .flatten()
            .any(|(start, _)| start >= end);
        if reason.is_none() && found.valid && !parts_after {
            if let Some(next) = words.get(end) {
                reason = Some(reason_part(&body[next.start..]));
                take(&mut available, end, words.len());
            }
        }
    }

    let signals = resource_run.is_some()
        || loose_entitlement_run.is_some()
        || found_duration.is_some()
        || marker.is_some();
    let reads_as_request = if opening.intent {
        signals
    } else {
        resource_run.is_some()
            && (entitlement_run.is_some() || found_duration.as_ref().is_some_and(|d| d.valid))
    };
    if !reads_as_request {
        return None;
    }

    let groups = leftover_groups(&words, &available);
    let mut parsed = Parsed {
        on_behalf_of: taken.on_behalf_of,
        unresolved_mention: taken.unresolved,
        reason: reason.unwrap_or(Part::Missing),
        ..Parsed::empty()
    };
    match resource {
        Some(r) => {
            parsed.entitlement = match (entitlement_run, groups.first()) {
                (Some((start, len)), _) => match_entitlement(&run_text(&words, start, len), r),
                (None, Some(group)) => match_entitlement(&group.text, r),
                (None, None) => Part::Missing,
            };
        }
        None => {
            let (resource_text, entitlement_text) = match loose_entitlement_run {
                Some((start, len)) => (
                    pick_resource(&groups).map(|g| g.text.clone()),
                    Some(run_text(&words, start, len)),
                ),
                None => split_unknown(&groups),
            };
            if resource_run.is_none() {
                resource_part =
                    resource_text.map_or(Part::Missing, |text| match_resource(&text, catalog));
            }
            parsed.entitlement = match entitlement_text {
                Some(text) => entitlement_without_resource(&text, &resource_part, catalog),
                None => Part::Missing,
            };
        }
    }
    parsed.resource = resource_part;

    let entitlement = resource.and_then(|r| {
        let id = parsed.entitlement.found()?;
        r.entitlements.iter().find(|e| e.id.as_str() == id)
    });
    if let Some(found) = found_duration {
        parsed.duration = match found.duration {
            Ok(duration) => checked(
                duration,
                &run_text(&words, found.start, found.len),
                entitlement,
            ),
            Err(why) => Part::Invalid {
                text: preview(&run_text(&words, found.start, found.len), 60),
                why,
            },
        };
    }
    Some(parsed)
}

struct Opening {
    /// The first word after greetings, a bot mention, `please` and the intent.
    end: usize,
    intent: bool,
}

/// Skips `hi`, `@c1bot`, `please`, then an intent phrase (`request`, `give me`,
/// `i need`…) and the `please` that may follow it.
fn opening(keys: &[&str]) -> Opening {
    let skippable = |k: &str| {
        GREETINGS.contains(&k) || POLITE.contains(&k) || k.starts_with('@') || k == "c1bot"
    };
    let mut at = keys.iter().take_while(|k| skippable(k)).count();
    let rest = keys.get(at..).unwrap_or_default();
    let intent = INTENTS.iter().find(|phrase| rest.starts_with(phrase));
    if let Some(phrase) = intent {
        at += phrase.len();
        at += keys
            .get(at..)
            .unwrap_or_default()
            .iter()
            .take_while(|k| POLITE.contains(k))
            .count();
    }
    Opening {
        end: at,
        intent: intent.is_some(),
    }
}

/// Whether text before a reason marker holds more than an opening (so that the
/// colon of `request: aws-prod …` does not start the reason).
fn says_something(body: &str) -> bool {
    let words = words(body);
    let keys: Vec<&str> = words.iter().map(|w| w.key.as_str()).collect();
    let start = opening(&keys).end;
    keys.iter().skip(start).any(|k| !is_filler(k))
}

fn is_filler(key: &str) -> bool {
    FILLER.contains(&key) || key.starts_with(['@', '#', ':'])
}

struct FoundDuration {
    start: usize,
    len: usize,
    duration: Result<super::RequestedDuration, String>,
    valid: bool,
}

/// The first duration among available words; failing any, the first word that
/// was meant as one (`1.5h`, `400d`, or any word right after `for`) but is not.
fn find_duration(keys: &[&str], available: &[bool]) -> Option<FoundDuration> {
    let free = |start: usize, len: usize| {
        available
            .get(start..start + len)
            .is_some_and(|a| a.iter().all(|&a| a))
    };
    let mut meant: Option<FoundDuration> = None;
    for start in 0..keys.len() {
        if !free(start, 1) {
            continue;
        }
        match read(keys, start) {
            Some(Ok((duration, len))) if free(start, len) => {
                return Some(FoundDuration {
                    start,
                    len,
                    duration: Ok(duration),
                    valid: true,
                });
            }
            Some(Err(why)) if meant.is_none() => {
                let word = keys.get(start).copied().unwrap_or_default();
                let after_for = start > 0 && keys.get(start - 1) == Some(&"for");
                let has_unit = word.chars().any(char::is_alphabetic);
                if after_for || has_unit {
                    meant = Some(FoundDuration {
                        start,
                        len: 1,
                        duration: Err(why),
                        valid: false,
                    });
                }
            }
            _ => {}
        }
    }
    meant
}

/// Contiguous available words that are not filler, with whether a connector
/// (`on`, `to`…) stands right before them.
struct Group {
    text: String,
    after_connector: bool,
    words: usize,
    first: usize,
}

fn leftover_groups(words: &[Word], available: &[bool]) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut open = false;
    for (i, word) in words.iter().enumerate() {
        let usable = available.get(i).copied().unwrap_or(false) && !is_filler(&word.key);
        if !usable {
            open = false;
            continue;
        }
        match groups.last_mut() {
            Some(group) if open => {
                group.text.push(' ');
                group.text.push_str(&word.text);
                group.words += 1;
            }
            _ => {
                let after_connector = i > 0
                    && words
                        .get(i - 1)
                        .is_some_and(|w| CONNECTORS.contains(&w.key.as_str()));
                groups.push(Group {
                    text: word.text.clone(),
                    after_connector,
                    words: 1,
                    first: i,
                });
                open = true;
            }
        }
    }
    groups
}

/// The group that names the resource: the one after `on`/`to`…, else the first.
fn pick_resource(groups: &[Group]) -> Option<&Group> {
    groups
        .iter()
        .find(|g| g.after_connector)
        .or_else(|| groups.first())
}

/// Resource and entitlement text when neither was recognised by name: the
/// resource is the group after `on`/`to`… (else the first), the entitlement the
/// first other group; one group of several words is read positionally, resource first.
fn split_unknown(groups: &[Group]) -> (Option<String>, Option<String>) {
    let Some(resource) = pick_resource(groups) else {
        return (None, None);
    };
    if let Some(other) = groups.iter().find(|g| g.first != resource.first) {
        return (Some(resource.text.clone()), Some(other.text.clone()));
    }
    if resource.words < 2 {
        return (Some(resource.text.clone()), None);
    }
    match resource.text.split_once(' ') {
        Some((first, rest)) => (Some(first.to_owned()), Some(rest.to_owned())),
        None => (Some(resource.text.clone()), None),
    }
}
