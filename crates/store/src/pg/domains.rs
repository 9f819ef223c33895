//! PostgreSQL counterpart of `crate::domains`.

use crate::error::Result;
use model::Sighting;
use postgres::Transaction;

/// This module's tables (part of schema version 1, see `schema.rs`).
pub(crate) const DDL: &str = "";

/// Per trap domain statistics of one analysed sighting, in the report save's transaction.
pub(crate) fn index_report(tx: &mut Transaction<'_>, s: &Sighting) -> Result<()> {
    let _ = (tx, s);
    Ok(())
}
