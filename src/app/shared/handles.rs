//! In-process handles shared by features and loops, cheap to clone: a value swapped
//! whole on reload ([`Shared`]), who has App Home open ([`HomeViewers`]), the faults
//! injected for drills ([`InjectedFaults`]), the automatic provisioner runs under way
//! ([`Jobs`], each started as a [`Job`]) and the timers whose firing is failing now
//! ([`FailingTimers`]). Their owners (`crate::app::grants::provisioning`,
//! `crate::app::timers`, …) decide what they mean; `Services` only carries them.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

use chrono::{DateTime, Utc};

use crate::store::TimerEntry;
use crate::workflow::grant::TaskKind;

/// A run to start once its lease is committed.
#[derive(Debug, Clone)]
pub struct Job {
    pub request_id: String,
    pub kind: TaskKind,
    pub lease: DateTime<Utc>,
}

/// Provisioner runs allowed at once in this process.
const CONCURRENCY: usize = 64;

/// Runs under way in this process; cheap to clone.
#[derive(Clone)]
pub struct Jobs {
    running: Arc<Mutex<HashSet<String>>>,
    permits: Arc<Semaphore>,
}

impl Default for Jobs {
    fn default() -> Self {
        Self {
            running: Arc::default(),
            permits: Arc::new(Semaphore::new(CONCURRENCY)),
        }
    }
}

impl Jobs {
    pub fn is_running(&self, request_id: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(request_id)
    }

    pub fn set_running(&self, request_id: &str, running: bool) {
        let mut set = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if running {
            set.insert(request_id.to_owned());
        } else {
            set.remove(request_id);
        }
    }

    /// A slot among the [`CONCURRENCY`] runs allowed at once.
    pub fn permits(&self) -> Arc<Semaphore> {
        self.permits.clone()
    }
}

/// Timers whose firing is failing now, for the `c1bot_timers_failing` gauge. Cheap
/// to clone; kept across restarts of the loop.
#[derive(Clone, Default)]
pub struct FailingTimers(Arc<Mutex<BTreeMap<(String, String), String>>>);

impl FailingTimers {
    pub fn failed(&self, entry: &TimerEntry, error: &str) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(
            (entry.kind.clone(), entry.subject.clone()),
            error.to_owned(),
        );
    }

    pub fn recovered(&self, entry: &TimerEntry) {
        if entry.failures > 0 {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&(entry.kind.clone(), entry.subject.clone()));
        }
    }

    pub fn publish(&self, metrics: &crate::metrics::Metrics) {
        let count = self.0.lock().unwrap_or_else(|p| p.into_inner()).len();
        metrics.set(
            "c1bot_timers_failing",
            "Timers whose last firing failed; each is tried again with backoff.",
            &[],
            count as f64,
        );
    }
}

/// A value replaced whole at run time (policies and templates on reload). Readers take
/// a cheap snapshot, so one decision never sees half of an old and half of a new set.
#[derive(Clone)]
pub struct Shared<T>(std::sync::Arc<std::sync::RwLock<T>>);

impl<T: Clone> Shared<T> {
    pub fn new(value: T) -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(value)))
    }

    pub fn get(&self) -> T {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set(&self, value: T) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = value;
    }
}

/// People who opened App Home since start-up: the only ones whose Home is worth
/// republishing when something changes. Bounded: past the cap it starts over, and
/// the next `app_home_opened` adds people back.
#[derive(Clone, Default)]
pub struct HomeViewers(std::sync::Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

impl HomeViewers {
    const CAP: usize = 50_000;

    pub fn insert(&self, user: &str) {
        let mut set = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if set.len() >= Self::CAP {
            set.clear();
        }
        set.insert(user.to_owned());
    }

    pub fn contains(&self, user: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(user)
    }
}

/// The faults `C1BOT_FAULTS` asked for, counted down as they happen.
#[derive(Clone, Default)]
pub struct InjectedFaults {
    timer_loop_panics: std::sync::Arc<std::sync::atomic::AtomicU32>,
    prepare_ahead_failures: std::sync::Arc<std::sync::atomic::AtomicU32>,
    /// How long a journaled envelope waits between its ack and its processing.
    pub hold_after_ack: std::time::Duration,
}

impl InjectedFaults {
    pub fn new(faults: crate::config::Faults) -> Self {
        Self {
            timer_loop_panics: std::sync::Arc::new(std::sync::atomic::AtomicU32::new(
                faults.timer_loop_panics,
            )),
            prepare_ahead_failures: std::sync::Arc::new(std::sync::atomic::AtomicU32::new(
                faults.prepare_ahead_failures,
            )),
            hold_after_ack: std::time::Duration::from_secs(faults.hold_after_ack_secs.into()),
        }
    }

    /// Whether this timer pass must panic (one fewer left).
    pub fn take_timer_loop_panic(&self) -> bool {
        take_one(&self.timer_loop_panics)
    }

    /// Whether this round of preparing expiries ahead must fail (one fewer left).
    pub fn take_prepare_ahead_failure(&self) -> bool {
        take_one(&self.prepare_ahead_failures)
    }
}

/// Takes one from `left` if any is left.
fn take_one(left: &std::sync::atomic::AtomicU32) -> bool {
    use std::sync::atomic::Ordering;
    left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
        .is_ok()
}
