//! State gauges for `/metrics`, read from the store at scrape time: requests and
//! grants by state, open tasks, overdue revocations, and the outbox depth (messages
//! committed but not yet delivered to Slack).

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
        let mut overdue = 0.0;
        let now = self.clock.now();
        let overdue_after = chrono::Duration::from_std(self.revoke_overdue_after)
            .unwrap_or(chrono::Duration::hours(1));
        // A scan per scrape: fine at the request volumes of one organisation; an
        // index by state is the next step if this shows up in profiles.
        if let Ok(rows) = self
            .store
            .scan_prefix::<AccessRequest>(Table::Requests, "REQ-")
            .await
        {
            for (_, row) in rows {
                *by_state.entry(row.data.state.label()).or_default() += 1.0;
                let Some(grant) = &row.data.grant else {
                    continue;
                };
                *grants.entry(grant.state.label()).or_default() += 1.0;
                if let Some(task) = grant.open_task().filter(|t| t.is_manual()) {
                    *tasks.entry(task.kind.as_str()).or_default() += 1.0;
                }
                if grant.state == GrantState::Deprovisioning
                    && grant
                        .ending_started_at
                        .is_some_and(|started| started + overdue_after <= now)
                {
                    overdue += 1.0;
                }
            }
        }
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
