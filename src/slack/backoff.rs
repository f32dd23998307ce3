//! Reconnect backoff: exponential, capped, with full jitter. Pure.

use std::time::Duration;

/// Delays between reconnect attempts.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The ceiling for attempt `n` (1-based): `initial * 2^(n-1)`, capped at `max`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(20);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before attempt `n`, given a uniform sample `unit` in `[0, 1)`.
    ///
    /// Full jitter (a uniform delay between half the ceiling and the ceiling) keeps
    /// every c1bot process behind a shared NAT from reconnecting in lock-step after a
    /// Slack outage, while keeping a floor so a broken link is never hammered.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let unit = unit.clamp(0.0, 1.0);
        ceiling.mul_f64(0.5 + 0.5 * unit)
    }

    pub fn random_delay(&self, attempt: u32) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(30),
    };

    #[test]
    fn the_ceiling_doubles_each_attempt() {
        let ceilings: Vec<u64> = (1..=6)
            .map(|n| BACKOFF.ceiling(n).as_millis() as u64)
            .collect();
        assert_eq!(ceilings, [500, 1000, 2000, 4000, 8000, 16000]);
    }

    #[test]
    fn the_ceiling_is_capped_at_thirty_seconds_however_many_attempts() {
        assert_eq!(BACKOFF.ceiling(7), Duration::from_secs(30));
        assert_eq!(BACKOFF.ceiling(1_000), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_between_half_the_ceiling_and_the_ceiling() {
        assert_eq!(BACKOFF.delay(3, 0.0), Duration::from_millis(1000));
        assert_eq!(BACKOFF.delay(3, 1.0), Duration::from_millis(2000));
        let sampled = BACKOFF.random_delay(3);
        assert!(sampled >= Duration::from_millis(1000) && sampled <= Duration::from_millis(2000));
    }
}
