//! The slash command's request line: `<resource> <entitlement> <duration> <reason…>`,
//! by position, with `for <@U…>` allowed anywhere.
//!
//! Position decides what each word is: the first word (or the longest run of
//! words that is exactly a resource's name) is the resource, and so on; the reason
//! is everything after the duration, as typed. An optional `for` may precede the
//! duration, and a start (`from 09:00 tomorrow`, [`super::start`]) may come just
//! before or just after it.

use super::duration::{checked, read, NOT_A_DURATION};
use super::matching::{
    entitlement_without_resource, exact_run, match_entitlement, match_resource, run_text,
};
use super::text::{cap_input, plain, preview, take_for_mention, words};
use super::{reason_part, Parsed, Part};
use crate::catalog::Catalog;

/// The text after `request` in `/c1 request aws-prod readonly 2h incident 4711`.
pub fn parse_one_line(text: &str, catalog: &Catalog) -> Parsed {
    let taken = take_for_mention(cap_input(text));
    let plain = plain(&taken.rest);
    let words = words(&plain);
    let keys: Vec<&str> = words.iter().map(|w| w.key.as_str()).collect();
    let available = vec![true; words.len()];
    let mut parsed = Parsed {
        on_behalf_of: taken.on_behalf_of,
        unresolved_mention: taken.unresolved,
        ..Parsed::empty()
    };
    if words.is_empty() {
        return parsed;
    }

    let resources = catalog
        .resources()
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()));
    let length = exact_run(&words, &available, resources, Some(0)).map_or(1, |(_, len)| len);
    parsed.resource = match_resource(&run_text(&words, 0, length), catalog);
    let mut at = length;

    let resource = parsed.resource.found().and_then(|id| catalog.resource(id));
    let entitlement_run = resource.and_then(|r| {
        let entitlements = r
            .entitlements
            .iter()
            .map(|e| (e.id.as_str(), e.name.as_str()));
        exact_run(&words, &available, entitlements, Some(at))
    });
    // `aws-prod 2h …`: the entitlement was left out, not misspelt as "2h".
    let skipped = entitlement_run.is_none()
        && matches!(read(&keys, at), Some(Ok(_)))
        && parsed.resource.is_found();
    if at < words.len() && !skipped {
        let length = entitlement_run.map_or(1, |(_, len)| len);
        let typed = run_text(&words, at, length);
        parsed.entitlement = match resource {
            Some(r) => match_entitlement(&typed, r),
            None => entitlement_without_resource(&typed, &parsed.resource, catalog),
        };
        at += length;
    }

    let entitlement = resource.and_then(|r| {
        let id = parsed.entitlement.found()?;
        r.entitlements.iter().find(|e| e.id.as_str() == id)
    });
    // `from 09:00 tomorrow` may come before the duration or right after it.
    if let Some((start, used)) = super::start::read(&keys, at) {
        parsed.starts = Some(start);
        at += used;
    }
    if keys.get(at) == Some(&"for") && at + 1 < words.len() {
        at += 1;
    }
    if let Some(word) = words.get(at) {
        let (duration, used) = match read(&keys, at) {
            Some(Ok((duration, used))) => (
                checked(duration, &run_text(&words, at, used), entitlement),
                used,
            ),
            Some(Err(why)) => (
                Part::Invalid {
                    text: preview(&word.text, 60),
                    why,
                },
                1,
            ),
            None => (
                Part::Invalid {
                    text: preview(&word.text, 60),
                    why: NOT_A_DURATION.to_owned(),
                },
                1,
            ),
        };
        parsed.duration = duration;
        at += used;
    }
    if parsed.starts.is_none() {
        if let Some((start, used)) = super::start::read(&keys, at) {
            parsed.starts = Some(start);
            at += used;
        }
    }

    if let Some(word) = words.get(at) {
        parsed.reason = reason_part(&plain[word.start..]);
    }
    parsed
}
