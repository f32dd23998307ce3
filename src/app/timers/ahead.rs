//! Grant expiries prepared ahead of their due time, waiting in memory to commit at
//! it. Preparing (loading the request, running the workflow, rendering the task
//! card) is most of what an expiry costs; done in the seconds before a burst is due,
//! only the commits fall after it. Nothing here is durable and nothing needs to be:
//! the timers stay in the store until their firing commits, so a crash or a
//! prepared change that no longer fits (the request moved on: the commit conflicts)
//! just means the timer is prepared again when due. Pure.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::firing::Firing;
use crate::app::grants::TIMER_GRANT_EXPIRE;
use crate::store::TimerEntry;

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

    /// Up to `limit` prepared firings due by `now`, earliest first.
    pub fn take_due(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Vec<(DateTime<Utc>, TimerEntry, Firing)> {
        let mut out = Vec::new();
        while out.len() < limit {
            match self.ready.first_entry() {
                Some(first) if first.key().0 <= now => {
                    let ((at, _, _), (entry, firing)) = first.remove_entry();
                    out.push((at, entry, firing));
                }
                _ => break,
            }
        }
        out
    }
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
    fn firings_come_out_when_due_earliest_first_and_at_most_limit() {
        let mut ahead = Ahead::default();
        ahead.insert(at(5), entry("REQ-3"), firing());
        ahead.insert(at(1), entry("REQ-1"), firing());
        ahead.insert(at(1), entry("REQ-2"), firing());
        assert_eq!(ahead.earliest(), Some(at(1)));
        assert!(ahead.take_due(at(0), 10).is_empty());
        let first = ahead.take_due(at(2), 1);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].1.subject, "REQ-1");
        let rest = ahead.take_due(at(2), 10);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].1.subject, "REQ-2");
        assert_eq!(ahead.len(), 1);
        assert!(ahead.contains(at(5), &entry("REQ-3")));
        assert!(!ahead.contains(at(1), &entry("REQ-3")));
        assert_eq!(ahead.take_due(at(5), 10).len(), 1);
        assert_eq!(ahead.earliest(), None);
    }
}
