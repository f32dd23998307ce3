//! Opening a format-1 data directory: its timers and index rows, a key each, are
//! moved into packed groups (`packed`), a batch per transaction, before anything else
//! reads or writes the store.
//!
//! Each batch removes the rows it packs in the same transaction, so a crash part-way
//! leaves every row in exactly one layout; the reads accept both, and the next open
//! packs the rest (the format is stamped only when nothing is left).

use std::time::Instant;

use super::keys::timer_window;
use super::packed::is_bucket_key;
use super::{SledStore, StoreError, Table};

/// Rows packed per transaction.
const BATCH: usize = 5_000;

/// One unpacked row on its way into a group.
struct Unpacked {
    key: Vec<u8>,
    group: Vec<u8>,
    member: Vec<u8>,
    value: Vec<u8>,
}

impl SledStore {
    /// Packs every unpacked timer and index row (see the module docs).
    pub(crate) fn pack_unpacked_rows(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let mut packed = 0;
        for table in [Table::Timers, Table::Index] {
            let mut batch = Vec::with_capacity(BATCH);
            for item in self.tree(table).iter() {
                let (key, value) =
                    item.map_err(|e| StoreError::storage("reading rows to pack", e))?;
                if let Some(row) = unpacked(table, &key, &value) {
                    batch.push(row);
                }
                if batch.len() >= BATCH {
                    packed += self.pack(table, std::mem::take(&mut batch))?;
                }
            }
            packed += self.pack(table, batch)?;
        }
        if packed > 0 {
            tracing::info!(
                rows = packed,
                seconds = started.elapsed().as_secs_f64(),
                "timers and index rows packed (data directory format 2)"
            );
        }
        Ok(())
    }

    fn pack(&self, table: Table, batch: Vec<Unpacked>) -> Result<usize, StoreError> {
        if batch.is_empty() {
            return Ok(0);
        }
        self.transact_ungated(|tx| {
            for row in &batch {
                tx.tree(table).remove(row.key.as_slice())?;
                tx.group(table, &row.group)
                    .insert::<StoreError>(&row.member, &row.value)?;
            }
            Ok(())
        })?;
        Ok(batch.len())
    }
}

/// The group and member of a format-1 row, or `None` for a packed bucket or a row
/// that is no timer or index row (left for the reads to report and quarantine).
fn unpacked(table: Table, key: &[u8], value: &[u8]) -> Option<Unpacked> {
    let group = match table {
        Table::Timers => {
            if key.len() <= 8 || is_bucket_key(key, 8) {
                return None;
            }
            timer_window(key)?.to_vec()
        }
        _ => {
            // `<table> 0 <entry name> 0 <record key>`
            let first = key.iter().position(|b| *b == 0)?;
            let second = first + 1 + key[first + 1..].iter().position(|b| *b == 0)?;
            if is_bucket_key(key, second + 1) {
                return None;
            }
            key[..=second].to_vec()
        }
    };
    Some(Unpacked {
        key: key.to_vec(),
        member: if table == Table::Timers {
            key.to_vec()
        } else {
            key[group.len()..].to_vec()
        },
        group,
        value: value.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::keys::TIMER_WINDOW_MS;

    #[test]
    fn an_index_row_packs_into_its_entry_and_a_timer_into_its_window() {
        let row = unpacked(Table::Index, b"requests\0person:U1\0REQ-7", b"").expect("a row");
        assert_eq!(row.group, b"requests\0person:U1\0");
        assert_eq!(row.member, b"REQ-7");
        let mut timer = (TIMER_WINDOW_MS * 3 + 5).to_be_bytes().to_vec();
        timer.extend_from_slice(b"REQ-7\0expiry");
        let row = unpacked(Table::Timers, &timer, b"{}").expect("a timer");
        assert_eq!(row.group, (TIMER_WINDOW_MS * 3).to_be_bytes());
        assert_eq!(row.member, timer);
        assert!(unpacked(Table::Timers, b"short", b"").is_none());
        assert!(unpacked(Table::Index, b"no separators", b"").is_none());
    }
}
