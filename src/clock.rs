//! c1bot's one clock: the system time plus an offset that only moves forward.
//!
//! Everything that stamps or compares times (timers, expiries, policy input) reads
//! [`Clock::now`], so a forward jump — a real NTP correction, `C1BOT_CLOCK_OFFSET_SECS`,
//! or a test calling [`Clock::advance`] — is seen the same way everywhere. The timer
//! loop waits on [`Clock::jumped`] as well as on its sleep, because a sleep measures
//! monotonic time and would not notice the wall clock moving.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

#[derive(Clone, Debug)]
pub struct Clock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    offset_ms: AtomicI64,
    jumped: Notify,
}

impl Clock {
    /// The system clock, shifted forward by `offset`.
    pub fn new(offset: Duration) -> Self {
        let clock = Self {
            inner: Arc::new(Inner {
                offset_ms: AtomicI64::new(0),
                jumped: Notify::new(),
            }),
        };
        clock.advance(offset);
        clock
    }

    pub fn system() -> Self {
        Self::new(Duration::ZERO)
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::milliseconds(self.inner.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `by` and wakes whoever waits on [`Clock::jumped`].
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX / 4);
        self.inner.offset_ms.fetch_add(ms, Ordering::Relaxed);
        self.inner.jumped.notify_waiters();
    }

    /// How far ahead of the system clock this clock runs.
    pub fn offset(&self) -> Duration {
        Duration::from_millis(self.inner.offset_ms.load(Ordering::Relaxed).max(0) as u64)
    }

    /// Resolves at the next [`Clock::advance`].
    pub async fn jumped(&self) {
        self.inner.jumped.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_now_forward_by_that_much() {
        let clock = Clock::system();
        let before = clock.now();
        clock.advance(Duration::from_secs(4 * 3600));
        let gained = clock.now() - before;
        assert!(gained >= chrono::Duration::hours(4));
        assert!(gained < chrono::Duration::hours(4) + chrono::Duration::seconds(5));
        assert_eq!(clock.offset(), Duration::from_secs(4 * 3600));
    }

    #[tokio::test]
    async fn an_advance_wakes_a_waiter() {
        let clock = Clock::system();
        let waiter = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.jumped().await })
        };
        // The waiter registers when it first runs; advance until it has been woken.
        for _ in 0..500 {
            clock.advance(Duration::from_secs(1));
            if waiter.is_finished() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("an advance never woke the waiter");
    }
}
