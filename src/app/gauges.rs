//! State gauges for `/metrics`, read from the store at scrape time: requests by
//! state and the outbox depth (messages committed but not yet delivered to Slack).

use std::collections::BTreeMap;

use crate::metrics::{Gauge, GaugeSource};
use crate::store::{Store, Table};
use crate::workflow::request::AccessRequest;

pub struct StoreGauges {
    pub store: Store,
}

impl GaugeSource for StoreGauges {
    fn gauges(&self) -> Vec<Gauge> {
        let mut by_state: BTreeMap<&'static str, f64> =
            ["pending", "approved", "denied", "cancelled", "expired"]
                .into_iter()
                .map(|s| (s, 0.0))
                .collect();
        // A scan per scrape: fine at the request volumes of one organisation; an
        // index by state is the next step if this shows up in profiles.
        if let Ok(rows) = self
            .store
            .scan_prefix::<AccessRequest>(Table::Requests, "REQ-")
        {
            for (_, row) in rows {
                *by_state.entry(row.data.state.label()).or_default() += 1.0;
            }
        }
        let outbox = self
            .store
            .pending_outbox()
            .map(|p| p.len() as f64)
            .unwrap_or(f64::NAN);
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
                name: "c1bot_outbox_depth",
                help: "Slack messages committed but not yet delivered.",
                values: vec![(Vec::new(), outbox)],
            },
        ]
    }
}
