//! Process metrics, rendered in Prometheus' text format for `/metrics`.
//!
//! Counters and the ack-latency histogram are updated on the hot path with atomics
//! or a short uncontended lock; state gauges (requests by state, outbox depth, …)
//! are read from their owners at scrape time through [`GaugeSource`], so nothing is
//! counted twice or drifts from the store.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::slack::dispatch::AckObserver;
use crate::slack::frame::EnvelopeKind;

/// Upper bounds of the ack-latency buckets, in seconds.
const ACK_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// A gauge read when `/metrics` is scraped: (name, help, labelled values). Async,
/// because a source may read the store.
pub trait GaugeSource: Send + Sync + 'static {
    fn gauges(&self) -> futures_util::future::BoxFuture<'_, Vec<Gauge>>;
}

pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub values: Vec<(Vec<(&'static str, String)>, f64)>,
}

#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

#[derive(Default)]
struct Inner {
    envelopes: Mutex<BTreeMap<(String, String), u64>>,
    duplicates: AtomicU64,
    ack_buckets: [AtomicU64; ACK_BUCKETS.len()],
    ack_count: AtomicU64,
    ack_sum_nanos: AtomicU64,
    web_calls: Mutex<BTreeMap<(String, String), u64>>,
    rate_limited: AtomicU64,
    sources: Mutex<Vec<Arc<dyn GaugeSource>>>,
    /// Named series kept by their owners: counters and gauges set in memory.
    series: Mutex<BTreeMap<&'static str, Series>>,
}

/// One named metric's help, type and values by label set.
struct Series {
    help: &'static str,
    kind: &'static str,
    values: BTreeMap<Vec<(&'static str, String)>, f64>,
}

fn labelled(labels: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

impl Metrics {
    /// One Web API call finished with `result` (`ok`, a Slack error code, `http_503`, …).
    pub fn web_call(&self, method: &str, result: &str) {
        let mut calls = self
            .inner
            .web_calls
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *calls
            .entry((method.to_owned(), result.to_owned()))
            .or_default() += 1;
    }

    /// Slack answered HTTP 429.
    pub fn rate_limited(&self) {
        self.inner.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `by` to the counter `name` with `labels` (created at 0 on first use).
    pub fn add(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        by: u64,
    ) {
        let mut series = self.inner.series.lock().unwrap_or_else(|p| p.into_inner());
        let entry = series.entry(name).or_insert_with(|| Series {
            help,
            kind: "counter",
            values: BTreeMap::new(),
        });
        *entry.values.entry(labelled(labels)).or_default() += by as f64;
    }

    /// Adds one to the counter `name` with `labels`.
    pub fn inc(&self, name: &'static str, help: &'static str, labels: &[(&'static str, &str)]) {
        self.add(name, help, labels, 1);
    }

    /// Sets the in-memory gauge `name` with `labels` to `value`.
    pub fn set(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        let mut series = self.inner.series.lock().unwrap_or_else(|p| p.into_inner());
        let entry = series.entry(name).or_insert_with(|| Series {
            help,
            kind: "gauge",
            values: BTreeMap::new(),
        });
        entry.values.insert(labelled(labels), value);
    }

    /// The current value of a series set with [`Metrics::add`] or [`Metrics::set`]
    /// (0 when never set): for tests and the admin socket.
    pub fn value(&self, name: &str, labels: &[(&'static str, &str)]) -> f64 {
        let series = self.inner.series.lock().unwrap_or_else(|p| p.into_inner());
        series
            .get(name)
            .and_then(|s| s.values.get(&labelled(labels)).copied())
            .unwrap_or(0.0)
    }

    pub fn add_source(&self, source: Arc<dyn GaugeSource>) {
        self.inner
            .sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(source);
    }

    /// The exposition text.
    pub async fn render(&self) -> String {
        let mut out = String::new();
        header(
            &mut out,
            "c1bot_envelopes_total",
            "Socket Mode envelopes acked, by envelope and payload type.",
            "counter",
        );
        for ((kind, payload), n) in self
            .inner
            .envelopes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "c1bot_envelopes_total{{kind=\"{}\",payload_type=\"{}\"}} {n}",
                label(kind),
                label(payload)
            );
        }
        header(
            &mut out,
            "c1bot_duplicate_envelopes_total",
            "Envelopes delivered again and answered with the original's ack.",
            "counter",
        );
        let _ = writeln!(
            out,
            "c1bot_duplicate_envelopes_total {}",
            self.inner.duplicates.load(Ordering::Relaxed)
        );

        header(
            &mut out,
            "c1bot_ack_latency_seconds",
            "Time from receiving an envelope to sending its ack.",
            "histogram",
        );
        let mut cumulative = 0;
        for (bound, bucket) in ACK_BUCKETS.iter().zip(&self.inner.ack_buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "c1bot_ack_latency_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.inner.ack_count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "c1bot_ack_latency_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let sum = self.inner.ack_sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "c1bot_ack_latency_seconds_sum {sum}");
        let _ = writeln!(out, "c1bot_ack_latency_seconds_count {count}");

        header(
            &mut out,
            "c1bot_web_api_calls_total",
            "Web API calls, by method and result (ok or Slack's error code).",
            "counter",
        );
        for ((method, result), n) in self
            .inner
            .web_calls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "c1bot_web_api_calls_total{{method=\"{}\",result=\"{}\"}} {n}",
                label(method),
                label(result)
            );
        }
        header(
            &mut out,
            "c1bot_web_api_rate_limited_total",
            "HTTP 429 answers from Slack.",
            "counter",
        );
        let _ = writeln!(
            out,
            "c1bot_web_api_rate_limited_total {}",
            self.inner.rate_limited.load(Ordering::Relaxed)
        );

        for (name, series) in self
            .inner
            .series
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            header(&mut out, name, series.help, series.kind);
            for (labels, value) in &series.values {
                let _ = writeln!(out, "{name}{} {value}", label_set(labels));
            }
        }

        let sources = self
            .inner
            .sources
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut gauges = Vec::new();
        for source in &sources {
            gauges.extend(source.gauges().await);
        }
        for gauge in gauges {
            header(&mut out, gauge.name, gauge.help, "gauge");
            for (labels, value) in gauge.values {
                let _ = writeln!(out, "{}{} {value}", gauge.name, label_set(&labels));
            }
        }
        out
    }
}

impl AckObserver for Metrics {
    fn acked(&self, kind: EnvelopeKind, payload_type: &str, latency: Duration, duplicate: bool) {
        if duplicate {
            self.inner.duplicates.fetch_add(1, Ordering::Relaxed);
        }
        {
            let mut envelopes = self
                .inner
                .envelopes
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *envelopes
                .entry((kind.as_str().to_owned(), payload_type.to_owned()))
                .or_default() += 1;
        }
        let seconds = latency.as_secs_f64();
        if let Some(i) = ACK_BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.inner.ack_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.inner.ack_count.fetch_add(1, Ordering::Relaxed);
        self.inner.ack_sum_nanos.fetch_add(
            latency.as_nanos().min(u64::MAX as u128) as u64,
            Ordering::Relaxed,
        );
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `{k="v",…}`, or nothing for no labels.
fn label_set(labels: &[(&'static str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let pairs: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", label(v)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// Escapes a label value as the exposition format requires.
fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_ack_histogram_is_cumulative_and_counts_every_ack() {
        let metrics = Metrics::default();
        metrics.acked(
            EnvelopeKind::SlashCommands,
            "",
            Duration::from_micros(200),
            false,
        );
        metrics.acked(
            EnvelopeKind::EventsApi,
            "event_callback",
            Duration::from_millis(3),
            true,
        );
        let text = metrics.render().await;
        assert!(
            text.contains("c1bot_ack_latency_seconds_bucket{le=\"0.00025\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("c1bot_ack_latency_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("c1bot_ack_latency_seconds_count 2\n"));
        assert!(text.contains(
            "c1bot_envelopes_total{kind=\"events_api\",payload_type=\"event_callback\"} 1\n"
        ));
        assert!(text.contains("c1bot_duplicate_envelopes_total 1\n"));
    }

    #[tokio::test]
    async fn named_counters_and_gauges_render_with_their_labels() {
        let metrics = Metrics::default();
        metrics.inc("c1bot_x_total", "Xs.", &[("table", "timers")]);
        metrics.inc("c1bot_x_total", "Xs.", &[("table", "timers")]);
        metrics.set("c1bot_y", "Y.", &[], 3.0);
        let text = metrics.render().await;
        assert!(text.contains("# TYPE c1bot_x_total counter\n"), "{text}");
        assert!(
            text.contains("c1bot_x_total{table=\"timers\"} 2\n"),
            "{text}"
        );
        assert!(text.contains("c1bot_y 3\n"), "{text}");
        assert_eq!(metrics.value("c1bot_x_total", &[("table", "timers")]), 2.0);
    }

    #[tokio::test]
    async fn label_values_are_escaped() {
        let metrics = Metrics::default();
        metrics.web_call("chat.postMessage", "weird\"code");
        assert!(metrics.render().await.contains("result=\"weird\\\"code\""));
    }
}
