//! The store's errors: opening a data directory, reading, and committing.
//!
//! Text shown to an operator names the directory (sled) or the database (PostgreSQL,
//! its URL without the password) and says what to do; the driver's own error is kept
//! as the source for the log.

use std::path::PathBuf;

use super::Table;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("another c1bot is using {}: only one instance may write a data directory", .dir.display())]
    Locked { dir: PathBuf },
    #[error("the data directory {} is corrupt and cannot be opened ({detail}); restore it from a backup or an export", .dir.display())]
    Corrupt { dir: PathBuf, detail: String },
    #[error("the data directory {} was written by a newer c1bot (format {found}, this build reads up to {supported})", .dir.display())]
    NewerFormat {
        dir: PathBuf,
        found: u64,
        supported: u64,
    },
    #[error("could not create the data directory {}: {source}", .dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not open the data directory {}: {source}", .dir.display())]
    Open {
        dir: PathBuf,
        #[source]
        source: sled::Error,
    },
    #[error("storage error while {context}: {source}")]
    Storage {
        context: &'static str,
        #[source]
        source: sled::Error,
    },
    #[error("the stored value {key:?} in {table} cannot be read: {detail}")]
    Decode {
        table: Table,
        key: String,
        detail: String,
    },
    #[error("backup to {}: {reason}", .dest.display())]
    Backup { dest: PathBuf, reason: String },
    #[error("writing the audit export failed: {source}")]
    Export {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot use the PostgreSQL database {database}: {detail}")]
    Connect { database: String, detail: String },
    #[error("the PostgreSQL database {database} holds c1bot schema version {found}, newer than this build knows (up to {supported}): run the newer c1bot, or restore a dump taken before the upgrade")]
    NewerSchema {
        database: String,
        found: i32,
        supported: i32,
    },
    #[error("database error while {context}: {detail}")]
    Postgres {
        context: &'static str,
        detail: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// The write was refused because this process no longer holds the lease that
    /// fences writes (another instance took over): nothing was written.
    #[error("fenced: the lease {lease:?} is now held under token {found:?}, not ours ({ours}); nothing was written")]
    Fenced {
        lease: String,
        ours: i64,
        found: Option<i64>,
    },
    #[error("{what} is not available on the {backend} backend")]
    Unsupported {
        what: &'static str,
        backend: &'static str,
    },
}

impl StoreError {
    pub(crate) fn storage(context: &'static str, source: sled::Error) -> Self {
        StoreError::Storage { context, source }
    }

    /// A PostgreSQL error with what c1bot was doing and the server's own message.
    pub(crate) fn postgres(context: &'static str, source: tokio_postgres::Error) -> Self {
        let detail = match source.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => match std::error::Error::source(&source) {
                Some(cause) => format!("{source}: {cause}"),
                None => source.to_string(),
            },
        };
        StoreError::Postgres {
            context,
            detail,
            source,
        }
    }

    /// Whether this write was refused by the fence (see [`StoreError::Fenced`]).
    pub fn is_fenced(&self) -> bool {
        matches!(self, StoreError::Fenced { .. })
    }

    pub(crate) fn decode(table: Table, key: &[u8], detail: impl ToString) -> Self {
        StoreError::Decode {
            table,
            key: String::from_utf8_lossy(key).into_owned(),
            detail: detail.to_string(),
        }
    }
}

/// Why [`super::SledStore::commit`] wrote nothing (or, for `Storage` after the
/// transaction, could not confirm durability).
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// An `expect` did not hold: someone else changed the record first.
    #[error("{table} record {key:?} changed since it was read")]
    Conflict { table: Table, key: String },
    /// The change itself is malformed (a reserved key, an index table, a bad timer key,
    /// a record that does not serialize). A programming error, not a race.
    #[error("invalid change: {detail}")]
    Invalid { detail: String },
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl CommitError {
    /// The commit was refused because another instance holds the lease now.
    pub fn is_fenced(&self) -> bool {
        matches!(self, CommitError::Storage(e) if e.is_fenced())
    }

    /// The conflict was on a journal row: its envelope was processed already (by
    /// another task or before a restart), so this attempt must stop, not retry.
    pub fn already_processed(&self) -> bool {
        matches!(
            self,
            CommitError::Conflict {
                table: Table::Journal,
                ..
            }
        )
    }
}
