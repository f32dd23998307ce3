//! Client-side pacing of Web API calls, so a burst of DMs does not get c1bot throttled.
//!
//! One token bucket per method (per method and channel for `chat.postMessage`), sized
//! from Slack's rate tiers. A bucket may go into debt: a caller reserves the next slot
//! and sleeps until it, so waiting callers are served in arrival order. A 429 blocks
//! the bucket until its `Retry-After` has passed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::methods::{ApiMethod, RateClass};

/// Steady rate and burst for one bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub per_second: f64,
    pub burst: f64,
}

impl Limit {
    const fn per_minute(count: f64, burst: f64) -> Self {
        Self {
            per_second: count / 60.0,
            burst,
        }
    }
}

/// Slack's published tiers. Tier 1 is "1+ per minute" with "a small amount of burst
/// tolerated"; 5 a minute with a burst of 10 matches slack-morphism's defaults and
/// leaves room for a reconnect storm of every connection at once.
pub fn limit_for(rate: RateClass) -> Limit {
    match rate {
        RateClass::Tier1 => Limit::per_minute(5.0, 10.0),
        RateClass::Tier2 => Limit::per_minute(20.0, 20.0),
        RateClass::Tier3 => Limit::per_minute(50.0, 50.0),
        RateClass::Tier4 => Limit::per_minute(100.0, 100.0),
        RateClass::AuthTest => Limit::per_minute(600.0, 100.0),
        RateClass::PerChannel => Limit {
            per_second: 1.0,
            burst: 5.0,
        },
        // Effectively unpaced; see RateClass::TriggerBound.
        RateClass::TriggerBound => Limit {
            per_second: 1.0e6,
            burst: 1.0e6,
        },
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct BucketKey {
    method: &'static str,
    channel: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    updated: Instant,
    blocked_until: Option<Instant>,
}

impl Bucket {
    pub fn full(limit: Limit, now: Instant) -> Self {
        Self {
            tokens: limit.burst,
            updated: now,
            blocked_until: None,
        }
    }

    /// Takes the next slot and says how long to wait for it.
    pub fn reserve(&mut self, limit: Limit, now: Instant) -> Duration {
        let elapsed = now.saturating_duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * limit.per_second).min(limit.burst);
        self.updated = now;
        self.tokens -= 1.0;
        let debt_wait = if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / limit.per_second)
        };
        let block_wait = self
            .blocked_until
            .map(|until| until.saturating_duration_since(now))
            .unwrap_or_default();
        debt_wait.max(block_wait)
    }

    pub fn block_until(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }
}

#[derive(Clone, Default)]
pub struct Pacer {
    buckets: Arc<Mutex<HashMap<BucketKey, Bucket>>>,
}

impl Pacer {
    fn key(method: &ApiMethod, channel: Option<&str>) -> BucketKey {
        BucketKey {
            method: method.name,
            channel: match method.rate {
                RateClass::PerChannel => channel.map(str::to_owned),
                _ => None,
            },
        }
    }

    /// Waits for this call's slot.
    pub async fn wait(&self, method: &ApiMethod, channel: Option<&str>) {
        let limit = limit_for(method.rate);
        let now = Instant::now();
        let wait = {
            let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
            buckets
                .entry(Self::key(method, channel))
                .or_insert_with(|| Bucket::full(limit, now))
                .reserve(limit, now)
        };
        if !wait.is_zero() {
            tracing::debug!(
                method = method.name,
                wait_ms = wait.as_millis() as u64,
                "pacing Web API call"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Slack said 429: nobody calls this method (on this channel) before `retry_after`.
    pub fn rate_limited(&self, method: &ApiMethod, channel: Option<&str>, retry_after: Duration) {
        let limit = limit_for(method.rate);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .entry(Self::key(method, channel))
            .or_insert_with(|| Bucket::full(limit, now))
            .block_until(now + retry_after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_bucket_lets_a_burst_through_then_spaces_calls_at_the_steady_rate() {
        let limit = limit_for(RateClass::PerChannel);
        let start = Instant::now();
        let mut bucket = Bucket::full(limit, start);
        let waits: Vec<Duration> = (0..7).map(|_| bucket.reserve(limit, start)).collect();
        assert!(waits[..5].iter().all(Duration::is_zero));
        assert_eq!(waits[5], Duration::from_secs(1));
        assert_eq!(waits[6], Duration::from_secs(2));
    }

    #[test]
    fn tokens_refill_with_time_up_to_the_burst() {
        let limit = limit_for(RateClass::PerChannel);
        let start = Instant::now();
        let mut bucket = Bucket::full(limit, start);
        for _ in 0..5 {
            bucket.reserve(limit, start);
        }
        let later = start + Duration::from_secs(60);
        let waits: Vec<Duration> = (0..6).map(|_| bucket.reserve(limit, later)).collect();
        assert!(waits[..5].iter().all(Duration::is_zero));
        assert_eq!(waits[5], Duration::from_secs(1));
    }

    #[test]
    fn a_rate_limited_bucket_waits_for_retry_after_even_with_tokens_left() {
        let limit = limit_for(RateClass::Tier4);
        let start = Instant::now();
        let mut bucket = Bucket::full(limit, start);
        bucket.block_until(start + Duration::from_secs(7));
        assert_eq!(bucket.reserve(limit, start), Duration::from_secs(7));
        assert_eq!(
            bucket.reserve(limit, start + Duration::from_secs(8)),
            Duration::ZERO
        );
    }

    #[test]
    fn modal_opens_are_never_held_back_by_pacing() {
        let limit = limit_for(RateClass::TriggerBound);
        let start = Instant::now();
        let mut bucket = Bucket::full(limit, start);
        assert!((0..1000).all(|_| bucket.reserve(limit, start).is_zero()));
    }

    #[tokio::test(start_paused = true)]
    async fn post_message_is_paced_per_channel_not_across_channels() {
        let pacer = Pacer::default();
        let method = super::super::methods::CHAT_POST_MESSAGE;
        let start = Instant::now();
        for _ in 0..5 {
            pacer.wait(method, Some("D1")).await;
        }
        pacer.wait(method, Some("D2")).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        pacer.wait(method, Some("D1")).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }
}
