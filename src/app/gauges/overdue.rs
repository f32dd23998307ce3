//! What the overdue-revocations gauge knows of each open revoke between scrapes:
//! when it started, or a time it is known to have started after. Pure.
//!
//! Why: a scrape lists the open revokes' keys, but reading each new one's request to
//! learn its start cost a burst of 10,000 expiries 10,000 reads in the scrapes that
//! ran while it committed. A revoke first listed at one scrape was not open at the
//! scrape before, so it started after that one; it cannot be overdue until that time
//! is older than the cutoff, and only then is its request read.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

/// When an open revoke started, as far as the scrapes know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    At(DateTime<Utc>),
    /// Not open at this listing: it started later.
    After(DateTime<Utc>),
}

#[derive(Debug, Default)]
pub struct RevokeStarts {
    known: HashMap<String, Start>,
    /// When the open revokes were last listed.
    listed: Option<DateTime<Utc>>,
}

impl RevokeStarts {
    /// Takes the open revokes listed at `now`: forgets the ones closed since, notes
    /// the new ones, and returns the keys whose start must be read because they may
    /// have started by `cutoff` (all of them at the first listing).
    pub fn listed(
        &mut self,
        open: &[String],
        now: DateTime<Utc>,
        cutoff: DateTime<Utc>,
    ) -> Vec<String> {
        let open_now: std::collections::HashSet<&String> = open.iter().collect();
        self.known.retain(|key, _| open_now.contains(key));
        let mut to_read = Vec::new();
        for key in open {
            let start = match (self.known.get(key), self.listed) {
                (Some(start), _) => *start,
                (None, Some(before)) => {
                    self.known.insert(key.clone(), Start::After(before));
                    Start::After(before)
                }
                (None, None) => {
                    to_read.push(key.clone());
                    continue;
                }
            };
            if matches!(start, Start::After(after) if after < cutoff) {
                to_read.push(key.clone());
            }
        }
        self.listed = Some(now);
        to_read
    }

    /// `key`'s revoke started `at` (read from its request).
    pub fn started(&mut self, key: String, at: DateTime<Utc>) {
        self.known.insert(key, Start::At(at));
    }

    /// `key` is listed open but its request shows no revoke under way: read again only
    /// once it could be overdue counting from the last listing.
    pub fn unknown(&mut self, key: String) {
        if let Some(listed) = self.listed {
            self.known.insert(key, Start::After(listed));
        }
    }

    /// Open revokes that started by `cutoff`.
    pub fn overdue(&self, cutoff: DateTime<Utc>) -> usize {
        self.known
            .values()
            .filter(|start| matches!(start, Start::At(at) if *at <= cutoff))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(minute: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_790_000_000 + minute * 60, 0).expect("a time")
    }

    fn keys(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn the_first_listing_reads_every_open_revoke() {
        let mut starts = RevokeStarts::default();
        assert_eq!(
            starts.listed(&keys(&["REQ-1", "REQ-2"]), t(100), t(40)),
            keys(&["REQ-1", "REQ-2"])
        );
        starts.started("REQ-1".into(), t(10));
        starts.started("REQ-2".into(), t(90));
        assert_eq!(starts.overdue(t(40)), 1);
    }

    #[test]
    fn a_revoke_opened_since_the_last_listing_is_read_only_once_it_could_be_overdue() {
        let mut starts = RevokeStarts::default();
        assert!(starts.listed(&[], t(0), t(-60)).is_empty());
        // A burst opens 3 revokes between the listings at 0 and 1 (overdue after 60).
        let burst = keys(&["REQ-1", "REQ-2", "REQ-3"]);
        assert!(
            starts.listed(&burst, t(1), t(-59)).is_empty(),
            "nothing read"
        );
        assert!(starts.listed(&burst, t(60), t(0)).is_empty(), "not yet");
        assert_eq!(starts.overdue(t(0)), 0);
        let read = starts.listed(&burst, t(61), t(1));
        assert_eq!(read.len(), 3, "they may have started by the cutoff now");
        starts.started("REQ-1".into(), t(0));
        starts.started("REQ-2".into(), t(1));
        starts.started("REQ-3".into(), t(1));
        assert_eq!(starts.overdue(t(1)), 3);
        assert!(starts.listed(&burst, t(62), t(2)).is_empty(), "known now");
    }

    #[test]
    fn a_closed_revoke_is_forgotten_and_an_unknown_one_waits_again() {
        let mut starts = RevokeStarts::default();
        starts.listed(&keys(&["REQ-1", "REQ-2"]), t(0), t(-60));
        starts.started("REQ-1".into(), t(-100));
        starts.unknown("REQ-2".into());
        assert_eq!(starts.overdue(t(-60)), 1);
        assert!(starts.listed(&keys(&["REQ-2"]), t(1), t(-59)).is_empty());
        assert_eq!(starts.overdue(t(-59)), 0, "REQ-1 closed");
        assert_eq!(
            starts.listed(&keys(&["REQ-2"]), t(61), t(1)),
            keys(&["REQ-2"])
        );
    }
}
