//! Injected failures: rate limits, HTTP errors, Slack errors and latency on Web
//! API methods (optionally only for one `channel` argument), calls Slack carries out
//! but never answers, and refused websocket handshakes. A cheap clonable handle over
//! shared rules; the Web API and the socket server consult it per request.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Handle to the simulator's fault rules (`sim.faults().rate_limit(...)`).
#[derive(Clone, Default)]
pub struct Faults {
    rules: Arc<Mutex<Rules>>,
}

#[derive(Default)]
struct Rules {
    /// In insertion order; the first rule for a method with `times > 0` applies.
    failures: Vec<Failure>,
    latency: Vec<(Option<String>, Duration)>,
    refuse_handshakes: usize,
    /// Until each instant, every call to the method (every method with `None`,
    /// except `apps.connections.open`) fails this way: Slack down for a while.
    outages: Vec<(Option<String>, FailureKind, std::time::Instant)>,
    hangs: Vec<Failure>,
}

struct Failure {
    method: String,
    /// Only calls whose `channel` argument is exactly this (a user id for a DM
    /// posted to the user); `None`: every call.
    channel: Option<String>,
    kind: FailureKind,
    times: usize,
}

impl Failure {
    fn applies(&self, method: &str, channel: Option<&str>) -> bool {
        self.method == method
            && self.times > 0
            && self.channel.as_deref().is_none_or(|c| Some(c) == channel)
    }
}

/// What an injected failure makes the Web API answer.
#[derive(Debug, Clone, PartialEq)]
pub enum FailureKind {
    /// HTTP 429, `Retry-After: secs`, `{"ok":false,"error":"ratelimited"}`.
    RateLimit { retry_after_secs: u64 },
    /// This HTTP status with `{"ok":false,"error":"http_<status>"}`.
    Http { status: u16 },
    /// HTTP 200 with `{"ok":false,"error":code}`.
    Slack { code: String },
}

impl Faults {
    fn rules(&self) -> MutexGuard<'_, Rules> {
        self.rules.lock().expect("fault rules lock poisoned")
    }

    fn push(&self, method: &str, kind: FailureKind, times: usize) -> &Self {
        self.push_to(method, None, kind, times)
    }

    fn push_to(
        &self,
        method: &str,
        channel: Option<&str>,
        kind: FailureKind,
        times: usize,
    ) -> &Self {
        self.rules().failures.push(Failure {
            method: method.to_string(),
            channel: channel.map(str::to_string),
            kind,
            times,
        });
        self
    }

    /// The next `times` calls to `method` with this `channel` argument get this HTTP
    /// status; calls to other channels are served.
    pub fn http_error_to(&self, method: &str, channel: &str, status: u16, times: usize) -> &Self {
        self.push_to(method, Some(channel), FailureKind::Http { status }, times)
    }

    /// The next `times` calls to `method` with this `channel` argument get HTTP 429.
    pub fn rate_limit_to(
        &self,
        method: &str,
        channel: &str,
        retry_after_secs: u64,
        times: usize,
    ) -> &Self {
        let kind = FailureKind::RateLimit { retry_after_secs };
        self.push_to(method, Some(channel), kind, times)
    }

    /// The next `times` successful calls to `method` (with this `channel` argument,
    /// when given) are carried out (a posted message is there for people to see)
    /// but never answered: the HTTP response hangs until the simulator stops. For
    /// killing the app between Slack accepting a call and the app learning of it.
    pub fn accept_and_hang(&self, method: &str, channel: Option<&str>, times: usize) -> &Self {
        self.rules().hangs.push(Failure {
            method: method.to_string(),
            channel: channel.map(str::to_string),
            kind: FailureKind::Http { status: 0 },
            times,
        });
        self
    }

    /// The next `times` calls to `method` get HTTP 429 with `Retry-After`.
    pub fn rate_limit(&self, method: &str, retry_after_secs: u64, times: usize) -> &Self {
        self.push(method, FailureKind::RateLimit { retry_after_secs }, times)
    }

    /// The next `times` calls to `method` get this HTTP status.
    pub fn http_error(&self, method: &str, status: u16, times: usize) -> &Self {
        self.push(method, FailureKind::Http { status }, times)
    }

    /// The next `times` calls to `method` get `{"ok":false,"error":code}`.
    pub fn slack_error(&self, method: &str, code: &str, times: usize) -> &Self {
        let kind = FailureKind::Slack {
            code: code.to_string(),
        };
        self.push(method, kind, times)
    }

    /// Every call to `method` (or to every method, with `None`) waits `delay` first.
    pub fn latency(&self, method: Option<&str>, delay: Duration) -> &Self {
        self.rules()
            .latency
            .push((method.map(str::to_string), delay));
        self
    }

    /// The next `times` websocket handshakes are refused (HTTP 503), even with a
    /// valid ticket; the ticket stays unused.
    pub fn refuse_socket_handshakes(&self, times: usize) -> &Self {
        self.rules().refuse_handshakes += times;
        self
    }

    /// For `lasting` from now, every call to `method` (or to every Web API method but
    /// `apps.connections.open`, with `None`) fails as `kind`: an outage by the clock,
    /// not by a count of calls.
    pub fn outage(&self, method: Option<&str>, kind: FailureKind, lasting: Duration) -> &Self {
        let until = std::time::Instant::now() + lasting;
        self.rules()
            .outages
            .push((method.map(str::to_string), kind, until));
        self
    }

    /// Removes every rule.
    pub fn clear(&self) -> &Self {
        *self.rules() = Rules::default();
        self
    }

    /// Consumes one matching failure for `method` (called with `channel`), if any.
    pub(crate) fn take_failure(&self, method: &str, channel: Option<&str>) -> Option<FailureKind> {
        let mut rules = self.rules();
        let now = std::time::Instant::now();
        let down = rules.outages.iter().find(|(m, _, until)| {
            *until > now
                && match m {
                    Some(m) => m == method,
                    None => method != "apps.connections.open",
                }
        });
        if let Some((_, kind, _)) = down {
            return Some(kind.clone());
        }
        let rule = rules
            .failures
            .iter_mut()
            .find(|f| f.applies(method, channel))?;
        rule.times -= 1;
        Some(rule.kind.clone())
    }

    /// Consumes one hang for this successful call, if any.
    pub(crate) fn take_hang(&self, method: &str, channel: Option<&str>) -> bool {
        let mut rules = self.rules();
        let Some(rule) = rules.hangs.iter_mut().find(|f| f.applies(method, channel)) else {
            return false;
        };
        rule.times -= 1;
        true
    }

    /// Total injected latency for `method`.
    pub(crate) fn latency_for(&self, method: &str) -> Duration {
        self.rules()
            .latency
            .iter()
            .filter(|(m, _)| m.as_deref().is_none_or(|m| m == method))
            .map(|(_, d)| *d)
            .sum()
    }

    /// Consumes one refused handshake, if any are left.
    pub(crate) fn take_refused_handshake(&self) -> bool {
        let mut rules = self.rules();
        if rules.refuse_handshakes == 0 {
            return false;
        }
        rules.refuse_handshakes -= 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_consumed_in_order_and_per_method() {
        let f = Faults::default();
        f.rate_limit("chat.postMessage", 2, 1)
            .slack_error("chat.postMessage", "fatal_error", 1);
        assert_eq!(f.take_failure("views.open", None), None);
        assert_eq!(
            f.take_failure("chat.postMessage", None),
            Some(FailureKind::RateLimit {
                retry_after_secs: 2
            })
        );
        assert_eq!(
            f.take_failure("chat.postMessage", None),
            Some(FailureKind::Slack {
                code: "fatal_error".into()
            })
        );
        assert_eq!(f.take_failure("chat.postMessage", None), None);
    }

    #[test]
    fn a_failure_for_one_channel_spares_the_others() {
        let f = Faults::default();
        f.http_error_to("chat.postMessage", "U0BOB00001", 503, 2)
            .accept_and_hang("chat.postMessage", Some("U0BOB00001"), 1);
        assert_eq!(f.take_failure("chat.postMessage", Some("U0ALICE001")), None);
        assert_eq!(
            f.take_failure("chat.postMessage", Some("U0BOB00001")),
            Some(FailureKind::Http { status: 503 })
        );
        assert!(!f.take_hang("chat.postMessage", Some("U0ALICE001")));
        assert!(f.take_hang("chat.postMessage", Some("U0BOB00001")));
        assert!(!f.take_hang("chat.postMessage", Some("U0BOB00001")));
    }

    #[test]
    fn latency_for_all_methods_adds_to_method_latency() {
        let f = Faults::default();
        f.latency(None, Duration::from_millis(5))
            .latency(Some("auth.test"), Duration::from_millis(7));
        assert_eq!(f.latency_for("auth.test"), Duration::from_millis(12));
        assert_eq!(f.latency_for("users.info"), Duration::from_millis(5));
        f.clear();
        assert_eq!(f.latency_for("auth.test"), Duration::ZERO);
    }
}
