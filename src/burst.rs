//! Who goes first when the CPU is short: a burst of timer firings (thousands of
//! expiries due in the same second) commits before the outbox sender reads what was
//! queued or makes its next Web API calls. Revoking on time is the promise; the
//! messages about it follow a moment later. The sender waits at most [`MAX_YIELD`]
//! each time, so a burst that never ends slows delivery down but cannot stop it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

/// The longest one Web API call waits for a burst to pass.
pub const MAX_YIELD: Duration = Duration::from_secs(2);

/// Shared between the timer loop (which marks a burst) and the outbox sender (which
/// yields to it); cheap to clone.
#[derive(Clone, Default)]
pub struct Burst {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Bursts under way (guards alive).
    under_way: AtomicUsize,
    ended: Notify,
}

/// A burst under way, until dropped.
pub struct Guard {
    inner: Arc<Inner>,
}

impl Burst {
    /// Marks a burst under way until the guard is dropped.
    pub fn start(&self) -> Guard {
        self.inner.under_way.fetch_add(1, Ordering::AcqRel);
        Guard {
            inner: self.inner.clone(),
        }
    }

    pub fn under_way(&self) -> bool {
        self.inner.under_way.load(Ordering::Acquire) > 0
    }

    /// Returns once no burst is under way, or after `max`.
    pub async fn yield_to(&self, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        while self.under_way() {
            let ended = self.inner.ended.notified();
            // Checked again after registering, so an end in between is not missed.
            if !self.under_way() {
                return;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.inner.under_way.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.ended.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn without_a_burst_nobody_waits() {
        let burst = Burst::default();
        let started = tokio::time::Instant::now();
        burst.yield_to(MAX_YIELD).await;
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_caller_waits_until_the_burst_ends() {
        let burst = Burst::default();
        let guard = burst.start();
        let ender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            drop(guard);
        });
        let started = tokio::time::Instant::now();
        burst.yield_to(MAX_YIELD).await;
        assert_eq!(started.elapsed(), Duration::from_millis(300));
        assert!(!burst.under_way());
        ender.await.expect("the ender runs");
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_that_does_not_end_delays_a_caller_by_at_most_max() {
        let burst = Burst::default();
        let _guard = burst.start();
        let started = tokio::time::Instant::now();
        burst.yield_to(MAX_YIELD).await;
        assert_eq!(started.elapsed(), MAX_YIELD);
        assert!(burst.under_way());
    }

    #[tokio::test(start_paused = true)]
    async fn two_bursts_end_when_both_have_ended() {
        let burst = Burst::default();
        let (first, second) = (burst.start(), burst.start());
        drop(first);
        assert!(burst.under_way());
        drop(second);
        assert!(!burst.under_way());
    }
}
