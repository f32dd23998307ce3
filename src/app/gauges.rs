//! State gauges for `/metrics`, read from the store at scrape time without a scan:
//! requests and grants by state and open tasks from the store's counters, overdue
//! revocations from the index of revokes in flight, and the outbox depth (messages
//! committed but not yet delivered to Slack) from memory.

use std::collections::BTreeMap;

use crate::metrics::{Gauge, GaugeSource};
use crate::store::{Store, Table};
use crate::workflow::grant::GrantState;
use crate::workflow::request::AccessRequest;

pub struct StoreGauges {
    pub store: Store,
    pub clock: crate::clock::Clock,
    /// A revoke task open longer than this is overdue.
    pub revoke_overdue_after: std::time::Duration,
}

impl GaugeSource for StoreGauges {
    fn gauges(&self) -> futures_util::future::BoxFuture<'_, Vec<Gauge>> {
        Box::pin(self.read())
    }
}

impl StoreGauges {
    /// A counted index entry of the requests (NaN when the store cannot say).
    async fn counted(&self, name: &str) -> f64 {
        match self.store.count(Table::Requests, name).await {
            Ok(n) => n as f64,
            Err(error) => {
                tracing::error!(%error, name, "cannot read a request count");
                f64::NAN
            }
        }
    }

    async fn read(&self) -> Vec<Gauge> {
        let mut by_state: BTreeMap<&'static str, f64> =
            ["pending", "approved", "denied", "cancelled", "expired"]
                .into_iter()
                .map(|s| (s, 0.0))
                .collect();
        let mut grants: BTreeMap<&'static str, f64> = [
            "provisioning",
            "active",
            "deprovisioning",
            "revoked",
            "failed",
            "extended",
        ]
        .into_iter()
        .map(|s| (s, 0.0))
        .collect();
        let mut tasks: BTreeMap<&'static str, f64> =
            [("grant", 0.0), ("revoke", 0.0)].into_iter().collect();
        for (state, n) in by_state.iter_mut() {
            *n = self.counted(&format!("state:{state}")).await;
        }
        for (state, n) in grants.iter_mut() {
            *n = self.counted(&format!("grant:{state}")).await;
        }
        for (kind, n) in tasks.iter_mut() {
            *n = self.counted(&format!("task:{kind}")).await;
        }
        let now = self.clock.now();
        let overdue_after = chrono::Duration::from_std(self.revoke_overdue_after)
            .unwrap_or(chrono::Duration::hours(1));
        // Only the revokes in flight are read, however many requests the store holds.
        let overdue = match self
            .store
            .index::<AccessRequest>(Table::Requests, super::request_index::REVOKE_OPEN)
            .await
        {
            Ok(rows) => rows
                .iter()
                .filter_map(|(_, row)| row.data.grant.as_ref())
                .filter(|grant| {
                    grant.state == GrantState::Deprovisioning
                        && grant
                            .ending_started_at
                            .is_some_and(|started| started + overdue_after <= now)
                })
                .count() as f64,
            Err(error) => {
                tracing::error!(%error, "cannot read the open revokes");
                f64::NAN
            }
        };
        let outbox = self.store.outbox_depth() as f64;
        vec![
            Gauge {
                name: "c1bot_requests",
                help: "Access requests by state.",
                values: by_state
                    .into_iter()
                    .map(|(state, n)| (vec![("state", state.to_owned())], n))
                    .collect(),
            },
            Gauge {
                name: "c1bot_grants",
                help: "Access after approval, by state (active = access held now).",
                values: grants
                    .into_iter()
                    .map(|(state, n)| (vec![("state", state.to_owned())], n))
                    .collect(),
            },
            Gauge {
                name: "c1bot_open_tasks",
                help: "Manual provisioning (grant) and deprovisioning (revoke) tasks waiting for a person.",
                values: tasks
                    .into_iter()
                    .map(|(kind, n)| (vec![("kind", kind.to_owned())], n))
                    .collect(),
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
}
