//! Automatic provisioners: the I/O edge that grants or revokes access by calling a
//! webhook or running a command, with a timeout per attempt and bounded retries.
//!
//! Owns the document sent (the same JSON for both kinds), request signing, and the
//! retry loop. It does not decide anything: `app::provisioning` runs it under a
//! durable lease and records the [`Outcome`]; a provisioner that still fails after
//! its retries makes the task go to the entitlement's fallback assignees there.

mod command;
mod document;
mod signature;
mod webhook;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::catalog::{Automatic, Catalog};

pub use document::{DocItem, DocUser, Document, Operation};
pub use signature::{sign, verify_signature, SIGNATURE_HEADER, TIMESTAMP_HEADER};

/// Longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How a run ended, after its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// 2xx (webhook) or exit status 0 (command).
    pub ok: bool,
    pub attempts: u32,
    pub elapsed: Duration,
    /// For people and the audit log: "HTTP 200", "timed out after 5 s", "exit status 3:
    /// <stderr>".
    pub detail: String,
}

/// Runs automatic provisioners; cheap to clone.
#[derive(Clone)]
pub struct Runner {
    http: reqwest::Client,
    /// Webhook HMAC keys by the environment variable that held them.
    secrets: Arc<HashMap<String, Vec<u8>>>,
}

impl Runner {
    /// Reads every webhook's `secret_env` through `env` now, so a missing secret stops
    /// start-up with the entitlement and variable named instead of failing a grant later.
    pub fn new(catalog: &Catalog, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Runner> {
        let mut secrets = HashMap::new();
        for resource in catalog.resources() {
            for entitlement in &resource.entitlements {
                let Some(Automatic::Webhook(webhook)) = &entitlement.provisioner.automatic else {
                    continue;
                };
                let secret = env(&webhook.secret_env)
                    .filter(|s| !s.trim().is_empty())
                    .with_context(|| {
                        format!(
                            "resource '{}' entitlement '{}': its webhook's secret_env {} is not set; set it to the HMAC key the receiver verifies with",
                            resource.id, entitlement.id, webhook.secret_env
                        )
                    })?;
                secrets.insert(webhook.secret_env.clone(), secret.into_bytes());
            }
        }
        // The per-attempt timeout is set on each request; redirects would re-send the
        // signed grant somewhere the catalog does not name.
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the webhook HTTP client")?;
        Ok(Runner {
            http,
            secrets: Arc::new(secrets),
        })
    }

    /// Carries out `document` with `spec`, retrying failures with doubling backoff.
    pub async fn run(&self, spec: &Automatic, document: &Document) -> Outcome {
        let started = Instant::now();
        let (timeout, retries, first_backoff) = spec.timing();
        let body = match serde_json::to_vec(document) {
            Ok(body) => body,
            Err(error) => {
                return Outcome {
                    ok: false,
                    attempts: 0,
                    elapsed: started.elapsed(),
                    detail: format!("the document could not be serialized: {error}"),
                }
            }
        };
        let mut backoff = first_backoff;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let attempt = match spec {
                Automatic::Webhook(webhook) => {
                    let secret = self
                        .secrets
                        .get(&webhook.secret_env)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    webhook::call(&self.http, webhook, secret, &body, timeout).await
                }
                Automatic::Command(command) => {
                    command::run(command, document, &body, timeout).await
                }
            };
            let last = attempts > retries;
            if attempt.ok || last {
                let detail = if attempt.ok || attempts == 1 {
                    attempt.detail
                } else {
                    format!("{} (after {attempts} attempts)", attempt.detail)
                };
                tracing::info!(
                    request_id = %document.request_id,
                    operation = ?document.operation,
                    kind = spec.kind(),
                    attempts,
                    ok = attempt.ok,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "provisioner finished"
                );
                return Outcome {
                    ok: attempt.ok,
                    attempts,
                    elapsed: started.elapsed(),
                    detail,
                };
            }
            tracing::warn!(
                request_id = %document.request_id,
                kind = spec.kind(),
                attempt = attempts,
                detail = %attempt.detail,
                "provisioner attempt failed; retrying"
            );
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// One attempt's result.
struct Attempt {
    ok: bool,
    detail: String,
}

/// "5 s", "250 ms".
fn shown(duration: Duration) -> String {
    if duration.as_millis().is_multiple_of(1000) {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}
