//! Quarantine: a row that cannot be decoded is moved aside instead of stopping the
//! loop that met it (the outbox sender, the timer loop, the intake journal).
//!
//! The row's bytes are kept, untouched, in the `quarantine` table under
//! `<table>/<hex of its key>` with the reason and when, so an operator can look at
//! it; a per-table counter in `meta` moves in the same transaction, so the metric
//! survives restarts without scanning anything.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::QUARANTINED_PREFIX;
use super::records::Record;
use super::{SledStore, StoreError, Table};

/// A row moved aside, as stored in the `quarantine` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quarantined {
    pub table: String,
    /// The original key, hex-encoded (keys of index tables are binary).
    pub key_hex: String,
    /// The original bytes, as text where they were UTF-8 (lossy otherwise).
    pub bytes: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

impl Record for Quarantined {
    const VERSION: u32 = 1;

    fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    fn decode(data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(data)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl SledStore {
    /// Moves the row under `key` in `table` aside (see the module docs). A row that is
    /// already gone is a no-op. Returns whether a row was moved.
    pub async fn quarantine(
        &self,
        table: Table,
        key: &[u8],
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let moved = self
            .transact(|tx| {
                let bytes = match tx.tree(table).remove(key)? {
                    Some(bytes) => bytes.to_vec(),
                    // A timer packed with others: taken out of its group alone.
                    None if table == Table::Timers => match tx.cancel_timer::<StoreError>(key)? {
                        Some(bytes) => bytes,
                        None => return Ok(false),
                    },
                    None => return Ok(false),
                };
                let row = Quarantined {
                    table: table.name().to_owned(),
                    key_hex: hex(key),
                    bytes: String::from_utf8_lossy(&bytes).into_owned(),
                    reason: reason.to_owned(),
                    at: now,
                };
                let quarantine_key = format!("{}/{}", table.name(), row.key_hex);
                tx.put::<_, StoreError>(Table::Quarantine, quarantine_key.as_bytes(), &row)?;
                let counter = format!("{QUARANTINED_PREFIX}{}", table.name());
                tx.next_counter::<StoreError>(&counter, 0)?;
                Ok(true)
            })
            .await?;
        if moved {
            tracing::error!(table = table.name(), key = %hex(key), reason, "an undecodable row was moved to the quarantine table");
        }
        self.flush().await?;
        Ok(moved)
    }

    /// How many rows were ever quarantined from `table` (one read).
    pub fn quarantined_count(&self, table: Table) -> Result<u64, StoreError> {
        self.meta_counter(&format!("{QUARANTINED_PREFIX}{}", table.name()))
    }
}
