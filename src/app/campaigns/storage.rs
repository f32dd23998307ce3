//! Campaigns in the store: how a campaign is encoded and indexed, the counter that
//! numbers new ones, and reading one back.

use crate::app::shared::services::Services;
use crate::campaign::Campaign;
use crate::store::{Record, Table, Versioned};

pub(super) const COUNTER_KEY: &str = "campaigns/counter";

impl Record for Campaign {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }

    /// Found by its owners (`owner:`) and the reviewers with an item left
    /// (`reviewer:`), so App Home reads only a person's own reviews; and by the
    /// grants of its undecided items (`item:REQ-…`), so a grant that ends closes them.
    fn index(&self) -> Vec<crate::store::IndexKey> {
        let mut names: std::collections::BTreeSet<String> =
            self.owners.iter().map(|o| format!("owner:{o}")).collect();
        names.extend(
            self.items
                .iter()
                .filter(|item| !item.is_decided())
                .filter_map(|item| item.reviewer.as_ref())
                .map(|r| format!("reviewer:{r}")),
        );
        // The follow-up of a grant that ends finds the items it closes (`ended`).
        names.extend(
            self.items
                .iter()
                .filter(|item| !item.is_decided())
                .filter_map(|item| match &item.source {
                    crate::campaign::Source::Grant { request_id } => {
                        Some(super::ended::index_name(request_id))
                    }
                    crate::campaign::Source::Standing => None,
                }),
        );
        names
            .into_iter()
            .map(crate::store::IndexKey::lookup)
            .collect()
    }
}

/// The version of [`Campaign::index`]'s entries; a change re-indexes at start-up.
pub const INDEX_VERSION: u64 = 2;

/// The next campaign number, stored beside the campaigns.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Counter {
    pub(super) next: u64,
}

impl Record for Counter {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

/// The owners of campaign `id` (none when it cannot be read).
pub async fn owners(services: &Services, id: &str) -> Vec<String> {
    match load(services, id).await {
        Ok(Some(stored)) => stored.data.owners.iter().map(|o| o.to_string()).collect(),
        _ => Vec::new(),
    }
}

pub(super) async fn load(
    services: &Services,
    id: &str,
) -> anyhow::Result<Option<Versioned<Campaign>>> {
    Ok(services.store.get::<Campaign>(Table::Campaigns, id).await?)
}

pub(super) async fn stored(services: &Services, id: &str) -> Result<Versioned<Campaign>, String> {
    match load(services, id).await {
        Ok(Some(stored)) => Ok(stored),
        Ok(None) => Err(format!("There is no access review {id}.")),
        Err(error) => {
            tracing::error!(%error, "cannot read a campaign");
            Err("c1bot could not read that review just now; try again.".into())
        }
    }
}
