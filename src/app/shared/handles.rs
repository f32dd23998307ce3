//! In-process handles shared by features and loops, cheap to clone: the automatic
//! provisioner runs under way ([`Jobs`], each started as a [`Job`]) and the timers whose firing is failing now
//! ([`FailingTimers`]). Their owners (`crate::app::grants::provisioning`, `crate::app::timers`) decide
//! what they mean; services only carries them.

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
