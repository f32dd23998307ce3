//! The small handles [`Services`](super::Services) carries, cheap to clone: a value
//! swapped whole on reload ([`Shared`]), who has App Home open ([`HomeViewers`]) and
//! the faults injected for drills ([`InjectedFaults`]).

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
