//! `StoreError`: every way a store operation can fail, with messages an operator can act on.

use std::path::PathBuf;
use std::sync::Arc;

/// A store failure. Capture errors make the trap answer `451 4.3.0`, never `250`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file or directory operation failed.
    #[error("I/O error on {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The metadata database failed.
    #[error("SQLite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The PostgreSQL store failed (a collector's store). The message carries the whole
    /// chain: tokio-postgres says only "db error" or "error performing TLS handshake" at the
    /// top, and the reason (the server's message, the certificate problem) is in its sources.
    #[error("PostgreSQL error: {}", pg_chain(.0))]
    Postgres(postgres::Error),
    /// An operation that only the SQLite store (a single node or a sensor) has.
    #[error("{what} is not available on a PostgreSQL store: {why}")]
    Unsupported {
        what: &'static str,
        why: &'static str,
    },
    /// The writer thread has stopped (store closed or writer crashed).
    #[error("the store is closed: its writer thread has stopped")]
    Closed,
    /// No space left: the disk, the database or an in-memory queue is full.
    #[error("the store is full: {detail}")]
    Full { detail: String },
    /// Stored data does not match what the index says (damaged segment, bad row).
    #[error("corrupt store data: {detail}")]
    Corrupt { detail: String },
    /// The caller's message id is not the SHA-256 of the raw bytes it passed.
    #[error("sighting message id {claimed} is not the SHA-256 of the raw bytes ({actual})")]
    IdMismatch {
        claimed: model::MessageId,
        actual: model::MessageId,
    },
    /// The raw message is larger than the store accepts.
    #[error("message of {size} bytes exceeds the store limit of {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    /// The database was written by a newer spamhattan.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    /// The caller asked for something the store refuses (a bad account name, a duplicate).
    #[error("{detail}")]
    Invalid { detail: String },
    /// The group-commit batch holding this request failed; the cause is shared by the batch.
    #[error("the write batch failed: {0}")]
    WriteFailed(#[source] Arc<StoreError>),
}

impl StoreError {
    /// Wraps an I/O error with the path it concerns; `ENOSPC` becomes [`StoreError::Full`].
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::StorageFull {
            return StoreError::Full {
                detail: format!("{}: {source}", path.display()),
            };
        }
        StoreError::Io { path, source }
    }

    pub(crate) fn corrupt(detail: impl Into<String>) -> Self {
        StoreError::Corrupt {
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> Self {
        StoreError::Invalid {
            detail: detail.into(),
        }
    }

    /// A SQLite error, with `SQLITE_FULL` reported as [`StoreError::Full`].
    pub(crate) fn sqlite(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DiskFull) => StoreError::Full {
                detail: e.to_string(),
            },
            _ => StoreError::Sqlite(e),
        }
    }
}

/// Shorthand used throughout the crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Postgres(e)
    }
}

/// `e` and each of its sources, joined with ": ".
fn pg_chain(e: &postgres::Error) -> String {
    let mut out = e.to_string();
    let mut next = std::error::Error::source(e);
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}
