//! How far a campaign has come: reviewed of total, overall and per reviewer, and the
//! "x of y reviewed" line owners see. Read-only views of a [`Campaign`].

use std::collections::BTreeMap;

use super::model::{Campaign, Item, UserId, Verdict};

/// `(reviewed, total)` over all items.
pub fn progress(campaign: &Campaign) -> (usize, usize) {
    count(campaign.items.iter())
}

/// `(reviewed, total)` for each reviewer; unassigned items are in neither.
pub fn progress_by_reviewer(campaign: &Campaign) -> BTreeMap<UserId, (usize, usize)> {
    let mut by = BTreeMap::<UserId, (usize, usize)>::new();
    for item in &campaign.items {
        if let Some(reviewer) = &item.reviewer {
            let entry = by.entry(reviewer.clone()).or_default();
            entry.0 += usize::from(item.is_decided());
            entry.1 += 1;
        }
    }
    by
}

/// `(certified, revoked)`.
pub fn verdicts(campaign: &Campaign) -> (usize, usize) {
    let of = |v: Verdict| {
        campaign
            .items
            .iter()
            .filter(|i| i.decision.as_ref().is_some_and(|d| d.verdict == v))
            .count()
    };
    (of(Verdict::Certify), of(Verdict::Revoke))
}

/// "3 of 10 reviewed".
pub fn status_line(campaign: &Campaign) -> String {
    let (reviewed, total) = progress(campaign);
    format!("{reviewed} of {total} reviewed")
}

/// Reviewers with at least one undecided item, in id order.
pub fn waiting_reviewers(campaign: &Campaign) -> Vec<UserId> {
    progress_by_reviewer(campaign)
        .into_iter()
        .filter(|(_, (reviewed, total))| reviewed < total)
        .map(|(reviewer, _)| reviewer)
        .collect()
}

/// A reviewer's items, in id order.
pub fn items_of<'a>(campaign: &'a Campaign, reviewer: &str) -> Vec<&'a Item> {
    campaign
        .items
        .iter()
        .filter(|i| i.reviewer.as_deref() == Some(reviewer))
        .collect()
}

fn count<'a>(items: impl Iterator<Item = &'a Item>) -> (usize, usize) {
    items.fold((0, 0), |(reviewed, total), item| {
        (reviewed + usize::from(item.is_decided()), total + 1)
    })
}
