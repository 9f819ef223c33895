//! PostgreSQL counterpart of `crate::search`.

use crate::error::Result;
use model::{Report, Sighting};
use postgres::Transaction;

/// This module's tables (part of schema version 1, see `schema.rs`).
pub(crate) const DDL: &str = "";

/// The message index rows of one analysed sighting, in the report save's transaction.
pub(crate) fn index_report(tx: &mut Transaction<'_>, s: &Sighting, r: &Report) -> Result<()> {
    let _ = (tx, s, r);
    Ok(())
}
