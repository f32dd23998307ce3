//! Opening a format-2 data directory: every timer window's members are placed again
//! by their subject's hash (`packed::timer_hash`), which format 3 uses so that a
//! request's timers and index rows share buckets; format 2 hashed the whole timer
//! key. One window per transaction, before anything else reads or writes the store.
//!
//! Each transaction removes a window's old buckets and writes its new ones, so a
//! crash part-way leaves every window whole in one placement or the other; the
//! format is stamped only after the last window, so the next open places the rest
//! (placing a placed window again moves nothing).

use std::collections::BTreeMap;
use std::time::Instant;

use super::packed::{is_bucket_key, Bucket};
use super::{SledStore, StoreError, Table};

/// One window's buckets as read: their keys, and every member they hold.
#[derive(Default)]
struct Window {
    prefix: Vec<u8>,
    buckets: Vec<Vec<u8>>,
    members: BTreeMap<Vec<u8>, Vec<u8>>,
    unreadable: bool,
}

impl SledStore {
    /// Places every packed timer again by its subject (see the module docs). A window
    /// with a bucket that cannot be decoded is left as it is, for the timer loop to
    /// report and quarantine; its timers are still read, as every window's are.
    pub(crate) fn rehash_timer_windows(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let (mut windows, mut timers) = (0usize, 0usize);
        let mut window = Window::default();
        for item in self.tree(Table::Timers).iter() {
            let (key, value) =
                item.map_err(|e| StoreError::storage("reading timers to place again", e))?;
            // Rows from before packing are read as they are; only buckets move.
            if !is_bucket_key(&key, 8) {
                continue;
            }
            if window.prefix != key[..8] {
                (windows, timers) =
                    self.place_again(std::mem::take(&mut window), windows, timers)?;
                window.prefix = key[..8].to_vec();
            }
            match Bucket::decode(&value) {
                Ok(bucket) => window.members.extend(bucket.members),
                Err(detail) => {
                    tracing::error!(key = ?key, detail, "a timer bucket cannot be read; its window is left as it is");
                    window.unreadable = true;
                }
            }
            window.buckets.push(key.to_vec());
        }
        (windows, timers) = self.place_again(window, windows, timers)?;
        if timers > 0 {
            tracing::info!(
                windows,
                timers,
                seconds = started.elapsed().as_secs_f64(),
                "timers placed by their request (data directory format 3)"
            );
        }
        Ok(())
    }

    /// Writes `window`'s members into new buckets in place of its old ones; returns the
    /// running counts.
    fn place_again(
        &self,
        window: Window,
        windows: usize,
        timers: usize,
    ) -> Result<(usize, usize), StoreError> {
        if window.buckets.is_empty() || window.unreadable {
            return Ok((windows, timers));
        }
        self.transact_ungated(|tx| {
            for key in &window.buckets {
                tx.tree(Table::Timers).remove(key.as_slice())?;
            }
            let group = tx.group(Table::Timers, &window.prefix);
            for (member, value) in &window.members {
                group.insert::<StoreError>(member, value)?;
            }
            Ok(())
        })?;
        Ok((windows + 1, timers + window.members.len()))
    }
}
