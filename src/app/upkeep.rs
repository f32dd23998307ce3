//! Small supervised loops that keep c1bot honest about itself: the store probe
//! (`/readyz` fails when the store cannot write) and the user-group refresher (group
//! members are read ahead of need, so neither an ack nor a timer waits on Slack).

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::app::shared::services::Services;
use crate::catalog::Catalog;
use crate::store::{Change, Record, Store, Table};
use crate::supervise::Heartbeat;

/// How often the store is asked to write.
const PROBE_EVERY: Duration = Duration::from_secs(10);
/// A probe that has not succeeded for this long makes `/readyz` fail.
pub const PROBE_STALE_AFTER: Duration = Duration::from_secs(25);
/// How often cached group members are read again (see `directory::GROUP_TTL`).
const REFRESH_EVERY: Duration = Duration::from_secs(60);
pub const REFRESH_STALE_AFTER: Duration = Duration::from_secs(600);

/// The record the store probe writes.
#[derive(serde::Serialize, serde::Deserialize)]
struct Probe {
    at: DateTime<Utc>,
}

impl Record for Probe {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

/// Reads, then writes and flushes a tiny record, every [`PROBE_EVERY`]; only a
/// success beats, so `/readyz` fails when the store can no longer be read or written.
pub async fn store_probe(store: Store, beat: Heartbeat, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        let change = Change::new().put(Table::Meta, "health/probe", &Probe { at: Utc::now() });
        match store.next_timer_due().await {
            Err(error) => tracing::error!(%error, "the store cannot be read"),
            Ok(_) => match store.commit(change).await {
                Ok(_) => beat.beat(),
                Err(error) => tracing::error!(%error, "the store cannot write"),
            },
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(PROBE_EVERY) => {}
        }
    }
}

/// Every user group the catalog names, as approvers, escalation or assignees.
pub fn catalog_groups(catalog: &Catalog) -> BTreeSet<String> {
    let mut groups = BTreeSet::new();
    for entitlement in catalog
        .resources()
        .iter()
        .flat_map(|r| r.entitlements.iter())
    {
        for step in &entitlement.steps {
            groups.extend(step.approvers.groups.iter().map(|g| g.as_str().to_owned()));
            if let Some(escalation) = &step.escalation {
                groups.extend(escalation.to.groups.iter().map(|g| g.as_str().to_owned()));
            }
        }
        groups.extend(
            entitlement
                .provisioner
                .assignees
                .groups
                .iter()
                .map(|g| g.as_str().to_owned()),
        );
    }
    groups
}

/// Reads every catalog group once at start-up, then keeps the cache fresh.
pub async fn refresh_groups(services: Services, beat: Heartbeat, shutdown: CancellationToken) {
    for group in catalog_groups(&services.catalog) {
        if shutdown.is_cancelled() {
            return;
        }
        if let Err(error) = services.directory.group_members(&group).await {
            tracing::warn!(%error, group, "could not read a user group's members at start-up");
        }
    }
    while !shutdown.is_cancelled() {
        beat.beat();
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(REFRESH_EVERY) => {}
        }
        services.directory.refresh_groups().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_catalogs_groups_are_all_found() {
        let catalog = Catalog::load_file(std::path::Path::new("catalog.example.toml"))
            .expect("example catalog");
        let groups = catalog_groups(&catalog);
        assert!(!groups.is_empty(), "the example names user groups");
        assert!(groups.iter().all(|g| g.starts_with('S')), "{groups:?}");
    }
}
