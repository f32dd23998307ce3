//! Helpers the benchmarks share: a child process killed when dropped, environment
//! knobs, latency summaries, a person filling the request form, a directory's size and a
//! process's resident memory.
//! (Included with `mod common;`: not every benchmark uses every helper.)
#![allow(dead_code)]

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use c1bot::simulator::Person;

/// A child process (the c1bot under test), killed and reaped when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The number in environment variable `key`, or `default`.
pub fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// p50, p99 and max of `samples`, in milliseconds.
pub fn summary(mut samples: Vec<Duration>) -> String {
    samples.sort_unstable();
    let at = |p: f64| {
        let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
        samples
            .get(rank.clamp(1, samples.len().max(1)) - 1)
            .copied()
            .unwrap_or_default()
    };
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    format!(
        "p50 {}  p99 {}  max {}  (n={})",
        ms(at(50.0)),
        ms(at(99.0)),
        ms(samples.last().copied().unwrap_or_default()),
        samples.len()
    )
}

/// `/c1 request` with the form filled for ReadOnly on AWS production, not submitted.
pub async fn fill(person: &Person, why: &str) -> anyhow::Result<()> {
    let outcome = person.slash("/c1", "request", "general").await;
    anyhow::ensure!(outcome.acked, "slash command not acked");
    person.wait_for_modal(Duration::from_secs(5)).await?;
    person.fill("Resource", "AWS production").await?;
    for _ in 0..500 {
        if person
            .modal()
            .is_some_and(|m| m.to_string().contains("\"ReadOnly\""))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    person.fill("Entitlement", "ReadOnly").await?;
    person.fill("Duration", "1 h").await?;
    person.fill("Justification", why).await?;
    Ok(())
}

/// The bytes of every file under `path`.
pub fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The resident memory of process `pid` in MiB (0 when it cannot be read).
pub fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}
