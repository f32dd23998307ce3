//! Long-running loops under supervision: each runs in its own task, is restarted
//! (with capped backoff) when it panics or returns before shutdown, and reports a
//! heartbeat that `/readyz` reads.
//!
//! Owns the loops' liveness, not their work: a loop decides when it is healthy by
//! calling [`Heartbeat::beat`] after every pass (and at least once per idle wait),
//! so "stuck" means "no pass finished for longer than the loop said it may take".
//! Restarts and the current state are metrics (`c1bot_loop_restarts_total`,
//! `c1bot_loop_up`).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::slack::backoff::Backoff;

/// Wait before restarting a loop that panicked, doubling per consecutive failure.
const RESTART: Backoff = Backoff {
    initial: Duration::from_secs(1),
    max: Duration::from_secs(30),
};

/// A run that lasted this long resets the restart backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);

/// The loops of one process and how each is doing. Cheap to clone.
#[derive(Clone)]
pub struct Supervisor {
    loops: Arc<Mutex<BTreeMap<&'static str, LoopState>>>,
    metrics: Metrics,
}

#[derive(Debug, Clone)]
struct LoopState {
    /// No beat for longer than this means the loop is stuck.
    stale_after: Duration,
    last_beat: Instant,
    /// Set when the loop died; cleared by the first beat of its next run.
    down: Option<String>,
    restarts: u64,
}

/// A loop's way of saying "a pass finished, I am alive".
#[derive(Clone)]
pub struct Heartbeat {
    name: &'static str,
    loops: Arc<Mutex<BTreeMap<&'static str, LoopState>>>,
    metrics: Metrics,
}

impl Heartbeat {
    pub fn beat(&self) {
        let mut loops = self.loops.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = loops.get_mut(self.name) {
            state.last_beat = Instant::now();
            if state.down.take().is_some() {
                tracing::info!(r#loop = self.name, "loop running again");
                self.metrics.set(UP, UP_HELP, &[("loop", self.name)], 1.0);
            }
        }
    }

    /// A heartbeat that reports to nobody, for running a loop outside a supervisor
    /// (tests, one-shot passes).
    pub fn detached() -> Heartbeat {
        Heartbeat {
            name: "detached",
            loops: Arc::default(),
            metrics: Metrics::default(),
        }
    }
}

const UP: &str = "c1bot_loop_up";
const UP_HELP: &str =
    "1 while a supervised loop is running and beating, 0 after it died until it beats again.";
const RESTARTS: &str = "c1bot_loop_restarts_total";
const RESTARTS_HELP: &str = "Supervised loops restarted after a panic or an unexpected return.";

impl Supervisor {
    pub fn new(metrics: Metrics) -> Self {
        Self {
            loops: Arc::default(),
            metrics,
        }
    }

    /// Runs `make(heartbeat)` until `shutdown`, restarting it whenever it panics or
    /// returns early. The loop watches `shutdown` itself and returns when it is
    /// cancelled (after finishing what it holds); the returned handle ends then.
    /// `stale_after` bounds the time between two beats of a healthy loop.
    pub fn spawn<F, Fut>(
        &self,
        name: &'static str,
        stale_after: Duration,
        shutdown: CancellationToken,
        make: F,
    ) -> JoinHandle<()>
    where
        F: Fn(Heartbeat) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.loops.lock().unwrap_or_else(|p| p.into_inner()).insert(
            name,
            LoopState {
                stale_after,
                last_beat: Instant::now(),
                down: None,
                restarts: 0,
            },
        );
        self.metrics.set(UP, UP_HELP, &[("loop", name)], 1.0);
        let heartbeat = Heartbeat {
            name,
            loops: self.loops.clone(),
            metrics: self.metrics.clone(),
        };
        let this = self.clone();
        tokio::spawn(async move {
            let mut failures = 0u32;
            loop {
                let started = Instant::now();
                let outcome = tokio::spawn(make(heartbeat.clone())).await;
                if shutdown.is_cancelled() {
                    return;
                }
                let why = match outcome {
                    Ok(()) => "it returned before shutdown".to_owned(),
                    Err(error) if error.is_panic() => format!("it panicked: {}", panic_text(error)),
                    Err(error) => format!("it was cancelled: {error}"),
                };
                if started.elapsed() >= STABLE_AFTER {
                    failures = 0;
                }
                failures += 1;
                tracing::error!(r#loop = name, why = %why, "supervised loop died; restarting");
                this.mark_down(name, why);
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(RESTART.ceiling(failures)) => {}
                }
            }
        })
    }

    fn mark_down(&self, name: &'static str, why: String) {
        let mut loops = self.loops.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = loops.get_mut(name) {
            state.down = Some(why);
            state.restarts += 1;
        }
        self.metrics.inc(RESTARTS, RESTARTS_HELP, &[("loop", name)]);
        self.metrics.set(UP, UP_HELP, &[("loop", name)], 0.0);
    }

    /// One sentence per loop that is down or stuck, for `/readyz`.
    pub fn problems(&self) -> Vec<String> {
        let loops = self.loops.lock().unwrap_or_else(|p| p.into_inner());
        loops
            .iter()
            .filter_map(|(name, state)| {
                if let Some(why) = &state.down {
                    return Some(format!(
                        "the {name} loop died ({why}) and is restarting ({} restarts)",
                        state.restarts
                    ));
                }
                let quiet = state.last_beat.elapsed();
                (quiet > state.stale_after).then(|| {
                    format!(
                        "the {name} loop is stuck (no pass finished for {} s)",
                        quiet.as_secs()
                    )
                })
            })
            .collect()
    }
}

fn panic_text(error: tokio::task::JoinError) -> String {
    let panic = error.into_panic();
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_panics_is_restarted_and_reported_until_it_beats_again() {
        let supervisor = Supervisor::new(Metrics::default());
        let runs = Arc::new(AtomicU32::new(0));
        let counted = runs.clone();
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let handle = supervisor.spawn(
            "timer",
            Duration::from_secs(60),
            shutdown.clone(),
            move |beat| {
                let run = counted.fetch_add(1, Ordering::SeqCst);
                let stop = stop.clone();
                async move {
                    assert!(run > 0, "injected panic in the first run");
                    while !stop.is_cancelled() {
                        beat.beat();
                        tokio::select! {
                            () = stop.cancelled() => {}
                            () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        }
                    }
                }
            },
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
        let problems = supervisor.problems();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("timer loop died"), "{problems:?}");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert!(supervisor.problems().is_empty());
        assert_eq!(
            supervisor.metrics.value(RESTARTS, &[("loop", "timer")]),
            1.0
        );
        shutdown.cancel();
        handle.await.expect("supervisor ends");
    }

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_stops_beating_is_reported_stuck() {
        let supervisor = Supervisor::new(Metrics::default());
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        let handle = supervisor.spawn(
            "outbox",
            Duration::from_secs(30),
            shutdown.clone(),
            move |beat| {
                let stop = stop.clone();
                async move {
                    beat.beat();
                    stop.cancelled().await;
                }
            },
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(supervisor.problems().is_empty());
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(supervisor.problems()[0].contains("outbox loop is stuck"));
        shutdown.cancel();
        handle.await.expect("supervisor ends");
    }
}
