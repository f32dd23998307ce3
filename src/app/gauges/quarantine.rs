//! `c1bot_quarantined_rows{table}`: rows moved aside because they could not be read
//! (see `Store::quarantine`), per table, read from the store's counters at scrape
//! time (one read for all; nothing is counted here).

use crate::metrics::{Gauge, GaugeSource};
use crate::store::{Store, Table};

pub struct QuarantineGauges {
    pub store: Store,
}

impl GaugeSource for QuarantineGauges {
    fn gauges(&self) -> futures_util::future::BoxFuture<'_, Vec<Gauge>> {
        Box::pin(self.read())
    }
}

impl QuarantineGauges {
    async fn read(&self) -> Vec<Gauge> {
        let tables: Vec<Table> = Table::ALL
            .iter()
            .copied()
            .filter(|t| *t != Table::Quarantine)
            .collect();
        let counts = match self.store.quarantined_counts(&tables).await {
            Ok(counts) => counts.into_iter().map(|n| n as f64).collect(),
            Err(error) => {
                tracing::error!(%error, "cannot read the quarantine counters");
                vec![f64::NAN; tables.len()]
            }
        };
        let values = tables
            .iter()
            .zip(counts)
            .map(|(table, count)| (vec![("table", table.name().to_owned())], count))
            .collect();
        vec![Gauge {
            name: "c1bot_quarantined_rows",
            help: "Rows moved to the quarantine table because they could not be read, by the table they came from.",
            values,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_table_is_reported_with_its_quarantined_rows() {
        let store = Store::temporary().expect("store");
        store
            .sled()
            .expect("sled")
            .tree(Table::Outbox)
            .insert(7u64.to_be_bytes(), &b"not json"[..])
            .expect("planted");
        let moved = store
            .quarantine(
                Table::Outbox,
                &7u64.to_be_bytes(),
                "garbage",
                chrono::Utc::now(),
            )
            .await
            .expect("moved");
        assert!(moved);
        let gauges = QuarantineGauges { store }.gauges().await;
        let values = &gauges[0].values;
        let of = |name: &str| {
            values
                .iter()
                .find(|(labels, _)| labels[0].1 == name)
                .map(|(_, v)| *v)
        };
        assert_eq!(of("outbox"), Some(1.0));
        assert_eq!(of("timers"), Some(0.0));
        assert_eq!(of("quarantine"), None);
    }
}
