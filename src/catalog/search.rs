//! Case-insensitive search over (resource, entitlement) pairs, for the request
//! modal's `external_select` (Slack asks on every keystroke, so this must stay fast
//! for catalogs of thousands of entitlements: one lowercase string per pair, built
//! once, and a substring scan per query word).

use super::model::Resource;

#[derive(Debug, Default)]
pub(super) struct SearchIndex {
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Entry {
    resource: usize,
    entitlement: usize,
    /// Resource id, resource name, entitlement id, entitlement name; lowercase,
    /// one per line so that a query word (no whitespace) cannot match across two.
    haystack: String,
}

impl SearchIndex {
    pub(super) fn new(resources: &[Resource]) -> SearchIndex {
        let entries = resources
            .iter()
            .enumerate()
            .flat_map(|(r, resource)| {
                resource
                    .entitlements
                    .iter()
                    .enumerate()
                    .map(move |(e, entitlement)| Entry {
                        resource: r,
                        entitlement: e,
                        haystack: format!(
                            "{}\n{}\n{}\n{}",
                            resource.id, resource.name, entitlement.id, entitlement.name
                        )
                        .to_lowercase(),
                    })
            })
            .collect();
        SearchIndex { entries }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// (resource index, entitlement index) of entries containing every word of `query`.
    pub(super) fn matches(&self, query: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
        let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
        self.entries
            .iter()
            .filter(move |entry| words.iter().all(|w| entry.haystack.contains(w.as_str())))
            .map(|entry| (entry.resource, entry.entitlement))
    }
}
