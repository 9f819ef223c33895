//! PostgreSQL counterpart of `crate::retention`.

/// This module's tables (part of schema version 1, see `schema.rs`).
pub(crate) const DDL: &str = "";

use crate::RetentionReport;
use crate::config::StoreConfig;
use crate::error::Result;
use model::Timestamp;
use postgres::Client;

/// Applies the retention budgets to the raw messages in the database.
pub(crate) fn run(c: &mut Client, cfg: &StoreConfig, now: Timestamp) -> Result<RetentionReport> {
    let _ = (c, cfg, now);
    Err(crate::StoreError::Unsupported {
        what: "retention",
        why: "not written for PostgreSQL yet",
    })
}
