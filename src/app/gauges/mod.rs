//! State gauges for `/metrics`, read from the store at scrape time without a scan:
//! requests and grants by state and open tasks from the store's counters, overdue
//! revocations from the keys of the revokes in flight (each request read once, when
//! its revoke could first be overdue: `overdue`), and the outbox depth (messages committed but not yet
//! delivered to Slack) from memory.

pub mod overdue;
pub mod quarantine;

use std::sync::Mutex;

use crate::app::gauges::overdue::RevokeStarts;
use crate::metrics::{Gauge, GaugeSource};
use crate::store::{Store, Table};
use crate::workflow::grant::GrantState;
use crate::workflow::request::AccessRequest;

pub struct StoreGauges {
    pub store: Store,
    pub clock: crate::clock::Clock,
    /// A revoke task open longer than this is overdue.
    pub revoke_overdue_after: std::time::Duration,
    /// When each open revoke started, as far as the scrapes know: a revoke's start
    /// never changes while it is open, so a scrape lists the open revokes' keys and
    /// reads a request only once its revoke could be overdue (see [`RevokeStarts`]).
    pub revoke_started: Mutex<RevokeStarts>,
}

impl GaugeSource for StoreGauges {
    fn gauges(&self) -> futures_util::future::BoxFuture<'_, Vec<Gauge>> {
        Box::pin(self.read())
    }
}

impl StoreGauges {
    async fn read(&self) -> Vec<Gauge> {
        let by_state = ["pending", "approved", "denied", "cancelled", "expired"];
        let grants = [
            "provisioning",
            "active",
            "deprovisioning",
            "revoked",
            "failed",
            "extended",
        ];
        let tasks = ["grant", "revoke"];
        let names: Vec<String> = (by_state.iter().map(|s| format!("state:{s}")))
            .chain(grants.iter().map(|s| format!("grant:{s}")))
            .chain(tasks.iter().map(|k| format!("task:{k}")))
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        // One read for every counter (one round trip on PostgreSQL).
        let counts: Vec<f64> = match self.store.counts(Table::Requests, &names).await {
            Ok(counts) => counts.into_iter().map(|n| n as f64).collect(),
            Err(error) => {
                tracing::error!(%error, "cannot read the request counters");
                vec![f64::NAN; names.len()]
            }
        };
        // Each label with its count, `from` the counter where its gauge's run starts.
        let labelled = |label: &'static str, values: &[&str], from: usize| {
            values
                .iter()
                .zip(&counts[from..])
                .map(|(value, n)| (vec![(label, (*value).to_owned())], *n))
                .collect::<Vec<_>>()
        };
        let overdue = self.overdue_revokes().await;
        let outbox = self.store.outbox_depth() as f64;
        vec![
            Gauge {
                name: "c1bot_requests",
                help: "Access requests by state.",
                values: labelled("state", &by_state, 0),
            },
            Gauge {
                name: "c1bot_grants",
                help: "Access after approval, by state (active = access held now).",
                values: labelled("state", &grants, by_state.len()),
            },
            Gauge {
                name: "c1bot_open_tasks",
                help: "Manual provisioning (grant) and deprovisioning (revoke) tasks waiting for a person.",
                values: labelled("kind", &tasks, by_state.len() + grants.len()),
            },
            Gauge {
                name: "c1bot_overdue_revocations",
                help: "Access that should have been removed more than revoke_overdue_after ago and still is not.",
                values: vec![(Vec::new(), overdue)],
            },
            Gauge {
                name: "c1bot_outbox_depth",
                help: "Slack messages committed but not yet delivered.",
                values: vec![(Vec::new(), outbox)],
            },
        ]
    }

    /// Revokes open longer than `revoke_overdue_after` (NaN when the store cannot say).
    async fn overdue_revokes(&self) -> f64 {
        let open = match self
            .store
            .index_keys(
                Table::Requests,
                crate::app::shared::request_index::REVOKE_OPEN,
            )
            .await
        {
            Ok(keys) => keys,
            Err(error) => {
                tracing::error!(%error, "cannot read the open revokes");
                return f64::NAN;
            }
        };
        let now = self.clock.now();
        let cutoff = now
            - chrono::Duration::from_std(self.revoke_overdue_after)
                .unwrap_or(chrono::Duration::hours(1));
        let to_read = self.starts().listed(&open, now, cutoff);
        for key in to_read {
            match self.store.get::<AccessRequest>(Table::Requests, &key).await {
                Ok(stored) => {
                    let started = stored.and_then(|stored| {
                        let grant = stored.data.grant?;
                        (grant.state == GrantState::Deprovisioning)
                            .then_some(grant.ending_started_at)
                            .flatten()
                    });
                    match started {
                        Some(at) => self.starts().started(key, at),
                        None => self.starts().unknown(key),
                    }
                }
                Err(error) => {
                    tracing::error!(%error, request_id = %key, "cannot read an open revoke");
                    return f64::NAN;
                }
            }
        }
        self.starts().overdue(cutoff) as f64
    }

    fn starts(&self) -> std::sync::MutexGuard<'_, RevokeStarts> {
        self.revoke_started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}
