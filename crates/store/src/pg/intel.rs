//! PostgreSQL counterpart of `crate::intel`.

use super::LOCK_CLOCK;
use crate::error::Result;
use postgres::GenericClient;

/// This module's tables (part of schema version 1, see `schema.rs`).
pub(crate) const DDL: &str = "";

/// The change clock for a transaction that stamps `changed_at` (indicators, campaigns): past
/// every stamp already committed. Taken under [`LOCK_CLOCK`] until the transaction ends, so two
/// collectors never commit changes out of clock order (a feed reader paging by `changed_at`
/// would otherwise skip the one that committed second with the smaller stamp).
pub(crate) fn clock(tx: &mut impl GenericClient, now: i64) -> Result<i64> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_CLOCK])?;
    let last: i64 = tx
        .query_one(
            "SELECT greatest(coalesce((SELECT max(changed_at) FROM indicators), 0),
                             coalesce((SELECT max(changed_at) FROM campaigns), 0))::BIGINT",
            &[],
        )?
        .get(0);
    Ok(now.max(last.saturating_add(1)))
}
