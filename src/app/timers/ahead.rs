//! Grant expiries prepared ahead of their due time, waiting in memory to commit at
//! it. Preparing (loading the request, running the workflow, rendering the task
//! card) is most of what an expiry costs; done in the seconds before a burst is due,
//! only the commits fall after it. Nothing here is durable and nothing needs to be:
//! the timers stay in the store until their firing commits, so a crash or a
//! prepared change that no longer fits (the request moved on: the commit conflicts)
//! just means the timer is prepared again when due. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::app::grants::TIMER_GRANT_EXPIRE;
use crate::app::shared::firing::Firing;
use crate::store::{commit_order, TimerEntry};

/// How far ahead expiries are prepared.
pub const LOOK_AHEAD: std::time::Duration = std::time::Duration::from_secs(3);

/// At most this many firings wait prepared (a burst beyond it is prepared as it
/// comes due).
pub const MAX_AHEAD: usize = 10_000;

/// Whether a timer of `kind` is prepared ahead: only expiries, whose firing is a
/// pure function of the request at its due time. Reminders, escalations and
/// provisioner runs are prepared when due.
pub fn prepares_ahead(kind: &str) -> bool {
    kind == TIMER_GRANT_EXPIRE
}

/// Timers with their due time, earliest first.
pub type Due = Vec<(DateTime<Utc>, TimerEntry)>;

/// What a read of the timers due by the horizon comes to.
#[derive(Debug, Default)]
pub struct Sorted {
    /// Due now: fire them.
    pub due: Due,
    /// Expiries due within the horizon, not yet prepared: prepare them.
    pub soon: Due,
    /// The earliest of the rest (due within the horizon, prepared when due).
    pub later: Option<DateTime<Utc>>,
}

/// A timer's identity: due time, subject, kind (what its store key is made of).
type Key = (DateTime<Utc>, String, String);

fn key(at: DateTime<Utc>, entry: &TimerEntry) -> Key {
    (at, entry.subject.clone(), entry.kind.clone())
}

/// Prepared firings by due time.
#[derive(Default)]
pub struct Ahead {
    ready: BTreeMap<Key, (TimerEntry, Firing)>,
}

impl Ahead {
    pub fn contains(&self, at: DateTime<Utc>, entry: &TimerEntry) -> bool {
        self.ready.contains_key(&key(at, entry))
    }

    pub fn len(&self) -> usize {
        self.ready.len()
    }

    pub fn insert(&mut self, at: DateTime<Utc>, entry: TimerEntry, firing: Firing) {
        self.ready.insert(key(at, &entry), (entry, firing));
    }

    /// Sorts out timers read (due by the horizon): what is prepared already is
    /// skipped; expiries beyond [`MAX_AHEAD`] wait for their time.
    pub fn sort_out(&self, read: Due, now: DateTime<Utc>) -> Sorted {
        let mut sorted = Sorted::default();
        for (at, entry) in read {
            if self.contains(at, &entry) {
                continue;
            }
            if at <= now {
                sorted.due.push((at, entry));
            } else if prepares_ahead(&entry.kind) && self.len() + sorted.soon.len() < MAX_AHEAD {
                sorted.soon.push((at, entry));
            } else {
                sorted.later = Some(sorted.later.map_or(at, |l| l.min(at)));
            }
        }
        sorted
    }

    /// When the first prepared firing is due.
    pub fn earliest(&self) -> Option<DateTime<Utc>> {
        self.ready.keys().next().map(|(at, _, _)| *at)
    }

    /// Up to `limit` prepared firings due by `now`: earliest first when all of them
    /// fit, else (a backlog: every one of them is late already) `limit` of them in
    /// the store's [`commit_order`], so the batch rewrites few of the store's buckets.
    pub fn take_due(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Vec<(DateTime<Utc>, TimerEntry, Firing)> {
        let due = self.ready.keys().take_while(|(at, _, _)| *at <= now);
        let keys: Vec<Key> = if due.clone().count() <= limit {
            due.cloned().collect()
        } else {
            let mut ordered: Vec<(u64, &Key)> = due.map(|k| (commit_order(&k.1), k)).collect();
            ordered.select_nth_unstable(limit);
            let mut chosen: Vec<Key> = ordered[..limit].iter().map(|(_, k)| (*k).clone()).collect();
            chosen.sort();
            chosen
        };
        keys.into_iter()
            .filter_map(|k| {
                let (entry, firing) = self.ready.remove(&k)?;
                Some((k.0, entry, firing))
            })
            .collect()
    }
}

/// `due` in the order to fire it: as it is (earliest first) when it fits in one batch
/// of `batch`, else (every one of them is late) expiries first, each part in the
/// store's [`commit_order`]. Access ends before the bookkeeping it causes: a backlog
/// of expiries read with their campaigns' follow-ups (after a restart, or a burst
/// larger than [`MAX_AHEAD`]) would otherwise revoke in batches shared with them.
pub fn in_commit_order(mut due: Due, batch: usize) -> Due {
    if due.len() > batch {
        due.sort_by_cached_key(|(_, entry)| {
            (!prepares_ahead(&entry.kind), commit_order(&entry.subject))
        });
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::timers::Fired;
    use crate::store::Change;

    fn at(second: u32) -> DateTime<Utc> {
        format!("2026-01-01T09:00:{second:02}Z")
            .parse()
            .expect("a time")
    }

    fn firing() -> Firing {
        match Fired::just(Change::new()) {
            Fired::Commit(firing) => firing,
            Fired::Nothing => unreachable!("just() commits"),
        }
    }

    fn entry(subject: &str) -> TimerEntry {
        TimerEntry::new(TIMER_GRANT_EXPIRE, subject.to_owned())
    }

    #[test]
    fn only_expiries_are_prepared_ahead() {
        assert!(prepares_ahead(TIMER_GRANT_EXPIRE));
        assert!(!prepares_ahead(crate::app::grants::TIMER_GRANT_REMIND));
        assert!(!prepares_ahead(crate::app::grants::TIMER_PROVISIONER));
    }

    #[test]
    fn a_read_splits_into_due_now_to_prepare_and_the_earliest_of_the_rest() {
        let mut ahead = Ahead::default();
        ahead.insert(at(2), entry("REQ-2"), firing());
        let remind = TimerEntry::new(crate::app::grants::TIMER_GRANT_REMIND, "REQ-4".to_owned());
        let read = vec![
            (at(0), remind.clone()),
            (at(1), entry("REQ-1")),
            (at(2), entry("REQ-2")),
            (at(3), entry("REQ-3")),
            (at(4), remind),
        ];
        let sorted = ahead.sort_out(read, at(1));
        let subjects = |due: &Due| {
            due.iter()
                .map(|(_, e)| e.subject.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(subjects(&sorted.due), ["REQ-4", "REQ-1"]);
        assert_eq!(
            subjects(&sorted.soon),
            ["REQ-3"],
            "REQ-2 is prepared already"
        );
        assert_eq!(
            sorted.later,
            Some(at(4)),
            "a reminder is not prepared ahead"
        );
    }

    #[test]
    fn no_more_than_max_ahead_wait_prepared() {
        let ahead = Ahead::default();
        let read = (0..MAX_AHEAD + 3)
            .map(|n| (at(5), entry(&format!("REQ-{n}"))))
            .collect();
        let sorted = ahead.sort_out(read, at(0));
        assert_eq!(sorted.soon.len(), MAX_AHEAD);
        assert_eq!(sorted.later, Some(at(5)), "the rest are prepared when due");
    }

    #[test]
    fn firings_come_out_when_due_and_at_most_limit() {
        let mut ahead = Ahead::default();
        ahead.insert(at(5), entry("REQ-3"), firing());
        ahead.insert(at(1), entry("REQ-1"), firing());
        ahead.insert(at(1), entry("REQ-2"), firing());
        assert_eq!(ahead.earliest(), Some(at(1)));
        assert!(ahead.take_due(at(0), 10).is_empty());
        let first = ahead.take_due(at(2), 1);
        assert_eq!(first.len(), 1);
        let rest = ahead.take_due(at(2), 10);
        assert_eq!(rest.len(), 1);
        let mut both = [first[0].1.subject.clone(), rest[0].1.subject.clone()];
        both.sort();
        assert_eq!(both, ["REQ-1", "REQ-2"]);
        assert_eq!(ahead.len(), 1);
        assert!(ahead.contains(at(5), &entry("REQ-3")));
        assert!(!ahead.contains(at(1), &entry("REQ-3")));
        assert_eq!(ahead.take_due(at(5), 10).len(), 1);
        assert_eq!(ahead.earliest(), None);
    }

    fn subjects_in_commit_order(n: u32) -> Vec<String> {
        let mut all: Vec<String> = (0..n).map(|n| format!("REQ-{n}")).collect();
        all.sort_by_key(|s| commit_order(s));
        all
    }

    #[test]
    fn a_backlog_comes_out_in_commit_order_and_what_fits_earliest_first() {
        let mut ahead = Ahead::default();
        for n in 0..100 {
            ahead.insert(at(n % 10), entry(&format!("REQ-{n}")), firing());
        }
        let batch = ahead.take_due(at(59), 30);
        let mut expected = subjects_in_commit_order(100)[..30].to_vec();
        expected.sort();
        let mut got: Vec<String> = batch.iter().map(|(_, e, _)| e.subject.clone()).collect();
        got.sort();
        assert_eq!(got, expected, "the 30 first in commit order");
        assert!(batch.windows(2).all(|w| w[0].0 <= w[1].0));
        let rest = ahead.take_due(at(59), 70);
        assert_eq!(rest.len(), 70, "the rest fit: all of them");
        assert!(rest.windows(2).all(|w| w[0].0 <= w[1].0), "earliest first");
        assert_eq!(ahead.len(), 0);
    }

    #[test]
    fn due_timers_fire_in_commit_order_only_when_they_fill_more_than_a_batch() {
        let due: Due = (0..20)
            .map(|n| (at(n % 7), entry(&format!("REQ-{n}"))))
            .collect();
        assert_eq!(in_commit_order(due.clone(), 20), due, "one batch: as read");
        let reordered: Vec<String> = in_commit_order(due, 19)
            .into_iter()
            .map(|(_, e)| e.subject)
            .collect();
        assert_eq!(reordered, subjects_in_commit_order(20));
    }

    #[test]
    fn a_backlog_fires_its_expiries_before_the_follow_ups_read_with_them() {
        let follow_up = |n: u32| {
            let entry = TimerEntry::new(crate::app::campaigns::ended::TIMER, format!("REQ-{n}"));
            (at(0), entry)
        };
        let expiry = |n: u32| (at(1), entry(&format!("REQ-{n}")));
        let due: Due = (0..10).map(follow_up).chain((10..20).map(expiry)).collect();
        let kinds: Vec<String> = in_commit_order(due, 5)
            .into_iter()
            .map(|(_, e)| e.kind)
            .collect();
        let expiries = kinds
            .iter()
            .take_while(|k| *k == TIMER_GRANT_EXPIRE)
            .count();
        assert_eq!(expiries, 10, "{kinds:?}");
    }
}
