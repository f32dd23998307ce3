//! Backups: a consistent copy of the whole database in a new directory, taken while
//! c1bot keeps running ([`SledStore::backup_to`]).
//!
//! Owns what makes a backup safe for the running bot: the copy runs on a blocking
//! thread, never on the async runtime; the destination is created first and its free
//! space checked before anything is copied; a panic inside sled (its own `import`
//! panics on a full disk, which is why the copy is written here with errors instead)
//! is caught, the partial copy removed and the reason returned. While the copy is
//! taken it holds the store's gate exclusively: commits wait for it without blocking
//! their runtime threads (`SledStore::transact` awaits the gate), reads do not wait.

use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use super::{SledStore, StoreError};

/// Room kept beyond the source's size: a fresh sled directory's own files and the
/// slack of its log segments.
const COPY_OVERHEAD: u64 = 8 * 1024 * 1024;

/// The copy's page cache; it is written once and closed.
const COPY_CACHE_BYTES: u64 = 16 * 1024 * 1024;

/// How the free space at a place is found; [`available_space`] in production, a
/// stand-in for a full disk in tests and drills.
pub type FreeSpace = fn(&Path) -> io::Result<u64>;

/// Bytes an unprivileged writer may still use on the filesystem holding `path`
/// (`statvfs`: available blocks times the fragment size).
pub fn available_space(path: &Path) -> io::Result<u64> {
    let stat = rustix::fs::statvfs(path)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// What a copy of a database of `size_on_disk` bytes may need. sled's files hold at
/// least the live data, but a fresh copy written in one go came out up to a third
/// larger than its source (20,000 audit entries: 21.8 MB became 29.4 MB), so half
/// again plus a fixed overhead.
pub(crate) fn needed_bytes(size_on_disk: u64) -> u64 {
    size_on_disk
        .saturating_add(size_on_disk / 2)
        .saturating_add(COPY_OVERHEAD)
}

/// Refuses, with a sentence, a copy of `needed` bytes where only `available` are free.
pub(crate) fn check_room(place: &Path, needed: u64, available: u64) -> Result<(), String> {
    if needed <= available {
        return Ok(());
    }
    Err(format!(
        "not enough free space at {}: the copy needs about {}, and {} is free; free some space or choose another place",
        place.display(),
        megabytes(needed),
        megabytes(available)
    ))
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1_000_000.0)
}

impl SledStore {
    /// Writes a consistent copy of the whole database to `dest`, a new directory;
    /// returns the number of entries copied. Safe while c1bot runs: see the module
    /// docs. On failure nothing is left at `dest` and the error says why.
    pub async fn backup_to(&self, dest: &Path) -> Result<u64, StoreError> {
        self.backup_to_with(dest, available_space).await
    }

    /// [`SledStore::backup_to`] with the free-space probe given: how a drill or a test
    /// stands in a full disk.
    pub async fn backup_to_with(
        &self,
        dest: &Path,
        free_space: FreeSpace,
    ) -> Result<u64, StoreError> {
        let store = self.clone();
        let target = dest.to_owned();
        let copied = tokio::task::spawn_blocking(move || store.copy_blocking(&target, free_space))
            .await
            .unwrap_or_else(|e| Err(format!("the backup task failed: {e}")));
        copied.map_err(|reason| StoreError::Backup {
            dest: dest.to_owned(),
            reason,
        })
    }

    /// The backup proper, on a blocking thread.
    fn copy_blocking(&self, dest: &Path, free_space: FreeSpace) -> Result<u64, String> {
        if dest.exists() {
            return Err("the destination already exists; name a new directory".into());
        }
        std::fs::create_dir_all(dest)
            .map_err(|e| format!("cannot create the destination directory: {e}"))?;
        // From here on, whatever fails leaves nothing behind.
        let mut partial = Partial(Some(dest.to_owned()));
        let available = free_space(dest)
            .map_err(|e| format!("cannot tell how much space is free there: {e}"))?;
        let size = self
            .inner
            .db
            .size_on_disk()
            .map_err(|e| format!("cannot tell the size of the data directory: {e}"))?;
        check_room(dest, needed_bytes(size), available)?;
        let _exclusive = self.inner.gate.blocking_write();
        self.inner
            .db
            .flush()
            .map_err(|e| format!("flushing before the copy failed: {e}"))?;
        let entries = guarded(|| copy_trees(&self.inner.db, dest))?;
        partial.keep();
        Ok(entries)
    }
}

/// Removes a partly written destination when dropped (an error or a panic).
struct Partial(Option<PathBuf>);

impl Partial {
    /// The copy is complete: keep it.
    fn keep(&mut self) {
        self.0 = None;
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            if let Err(error) = std::fs::remove_dir_all(&dir) {
                tracing::warn!(dir = %dir.display(), %error, "could not remove a failed backup's partial copy");
            }
        }
    }
}

/// Runs `copy`, turning a panic into an error with the panic's message.
fn guarded(copy: impl FnOnce() -> Result<u64, String>) -> Result<u64, String> {
    catch_unwind(AssertUnwindSafe(copy)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "no message".to_owned());
        Err(format!(
            "the storage engine failed while copying ({message})"
        ))
    })
}

/// Copies every tree of `source` into a new database at `dest`, reporting write
/// errors (a full disk) instead of panicking as `sled::Db::import` does.
fn copy_trees(source: &sled::Db, dest: &Path) -> Result<u64, String> {
    let copy = sled::Config::new()
        .path(dest)
        .cache_capacity(COPY_CACHE_BYTES)
        .open()
        .map_err(|e| format!("cannot open a database there: {e}"))?;
    let mut entries = 0;
    for name in source.tree_names() {
        let read = |e: sled::Error| format!("reading the data directory failed: {e}");
        let write = |e: sled::Error| format!("writing the copy failed: {e}");
        let from = source.open_tree(&name).map_err(read)?;
        let to = copy.open_tree(&name).map_err(write)?;
        for item in from.iter() {
            let (key, value) = item.map_err(read)?;
            to.insert(key, value).map_err(write)?;
            entries += 1;
        }
    }
    copy.flush()
        .map_err(|e| format!("writing the copy to disk failed: {e}"))?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AuditEvent, Change};

    fn audited(subject: &str) -> Change {
        Change::new().audit(AuditEvent {
            actor: "U0ALICE001".into(),
            action: "request.created".into(),
            subject: subject.into(),
            detail: serde_json::json!({}),
        })
    }

    #[test]
    fn a_copy_that_fits_is_allowed() {
        assert_eq!(check_room(Path::new("/b"), 10, 10), Ok(()));
    }

    #[test]
    fn a_copy_that_does_not_fit_is_refused_with_both_sizes() {
        let refused = check_room(Path::new("/backups/x"), needed_bytes(4_000_000), 2_500_000)
            .expect_err("no room");
        assert!(
            refused.starts_with("not enough free space at /backups/x:"),
            "{refused}"
        );
        assert!(refused.contains("needs about 14.4 MB"), "{refused}");
        assert!(refused.contains("2.5 MB is free"), "{refused}");
    }

    #[test]
    fn the_estimate_exceeds_the_source_and_never_overflows() {
        assert!(needed_bytes(0) >= COPY_OVERHEAD);
        assert!(needed_bytes(1 << 30) > 1 << 30);
        assert_eq!(needed_bytes(u64::MAX), u64::MAX);
    }

    #[test]
    fn a_panic_in_the_copy_becomes_an_error_with_its_message() {
        let outcome = guarded(|| panic!("failed to insert value during tree import"));
        let reason = outcome.expect_err("caught");
        assert!(
            reason.contains("failed to insert value during tree import"),
            "{reason}"
        );
    }

    #[tokio::test]
    async fn a_refused_backup_leaves_nothing_behind_and_the_store_keeps_committing() {
        let store = SledStore::temporary().expect("store");
        let dir = tempfile::tempdir().expect("temp dir");
        let dest = dir.path().join("copy");
        let refused = store
            .backup_to_with(&dest, |_| Ok(4096))
            .await
            .expect_err("no room");
        assert!(
            refused.to_string().contains("not enough free space"),
            "{refused}"
        );
        assert!(!dest.exists(), "the destination was removed");
        store.commit(audited("REQ-1")).await.expect("commits go on");
    }

    #[tokio::test]
    async fn a_backup_copies_every_entry_into_a_database_that_opens() {
        let store = SledStore::temporary().expect("store");
        store.commit(audited("REQ-1")).await.expect("commit");
        let dir = tempfile::tempdir().expect("temp dir");
        let dest = dir.path().join("copy");
        store.backup_to(&dest).await.expect("backup");
        let copy = SledStore::open(&dest).expect("the copy opens");
        let verified = copy.verify_audit().expect("readable");
        assert_eq!((verified.count, verified.problem), (1, None));
    }

    /// A commit that meets a backup in progress waits for it without holding its
    /// runtime thread: on a one-thread runtime other tasks still run meanwhile.
    #[test]
    fn a_commit_waiting_for_a_backup_leaves_its_thread_to_other_tasks() {
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let store = SledStore::temporary().expect("store");
                let backup = store.inner.gate.try_write().expect("as a backup holds it");
                let waiting = tokio::spawn({
                    let store = store.clone();
                    async move { store.commit(audited("REQ-1")).await.is_ok() }
                });
                for _ in 0..10 {
                    tokio::task::yield_now().await;
                }
                let other = tokio::spawn(async { "ran" }).await.expect("another task");
                let parked = !waiting.is_finished();
                drop(backup);
                let committed = waiting.await.expect("the commit task");
                let _ = done.send((other, parked, committed));
            });
        });
        let outcome = finished
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the runtime thread was blocked by the waiting commit");
        assert_eq!(outcome, ("ran", true, true));
    }

    #[test]
    fn a_real_directory_reports_its_free_space() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert!(available_space(dir.path()).expect("statvfs") > 0);
        assert!(available_space(&dir.path().join("absent")).is_err());
    }
}
