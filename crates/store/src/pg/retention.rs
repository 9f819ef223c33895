//! PostgreSQL counterpart of `crate::retention`: the same budgets over `blobs.raw`.
//!
//! There are no segments to delete here, so retention purges blob by blob, in the order the
//! SQLite store only approximates: by last sighting. `max_blob_age` purges every raw message
//! not seen since the cutoff; `max_blob_bytes` then purges the least recently seen ones until
//! the stored raw bytes fit the budget. A message seen again recently is therefore kept, which
//! is what SQLite's copying forward achieves. Purging sets `raw = NULL` and `purged_at`; the
//! blob row and its sightings stay, and the writer stores the bytes again when the message
//! arrives again. `vacuum` (autovacuum) returns the space to the server, not this pass.
//!
//! In the [`RetentionReport`], `copied_blobs` and `deleted_segments` are always 0 (nothing moves
//! and there are no segment files), and `freed_bytes` is the raw bytes purged.
//!
//! One pass at a time across collectors ([`LOCK_RETENTION`]): two passes measuring the same
//! excess would each purge it. A message re-seen while the pass runs is not purged: the purge
//! re-checks `last_seen` on the row it locks.

use super::LOCK_RETENTION;
use crate::RetentionReport;
use crate::config::StoreConfig;
use crate::error::Result;
use crate::unix_nanos;
use model::Timestamp;
use postgres::{Client, Transaction};

/// This module's tables (part of schema version 1, see `schema.rs`): the purge order of the
/// stored raw messages, with their lengths so the size pass reads only the index.
pub(crate) const DDL: &str = "
    CREATE INDEX blobs_by_last_seen ON blobs(last_seen, first_seen, sha256) INCLUDE (length)
        WHERE raw IS NOT NULL;
";

/// Applies the retention budgets to the raw messages in the database, in one transaction.
pub(crate) fn run(c: &mut Client, cfg: &StoreConfig, now: Timestamp) -> Result<RetentionReport> {
    let mut report = RetentionReport::default();
    let budget = &cfg.retention;
    if budget.max_blob_bytes.is_none() && budget.max_blob_age.is_none() {
        return Ok(report);
    }
    let now_ns = unix_nanos(now);
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_RETENTION])?;
    if let Some(age) = budget.max_blob_age {
        let cutoff = now_ns.saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX));
        let (n, bytes) = purge_older(&mut tx, cutoff, now_ns)?;
        report.purged_blobs += n;
        report.freed_bytes += bytes;
    }
    if let Some(max) = budget.max_blob_bytes {
        let (n, bytes) = purge_over(&mut tx, i64::try_from(max).unwrap_or(i64::MAX), now_ns)?;
        report.purged_blobs += n;
        report.freed_bytes += bytes;
    }
    tx.commit()?;
    if report.purged_blobs > 0 {
        tracing::info!(?report, "retention pass");
    }
    Ok(report)
}

/// Purges the raw bytes of every message last seen before `cutoff`: (messages, bytes).
fn purge_older(tx: &mut Transaction<'_>, cutoff: i64, now: i64) -> Result<(u64, u64)> {
    let row = tx.query_one(
        "WITH purged AS (
             UPDATE blobs SET raw = NULL, purged_at = $2
             WHERE raw IS NOT NULL AND last_seen < $1
             RETURNING length)
         SELECT count(*), coalesce(sum(length), 0)::BIGINT FROM purged",
        &[&cutoff, &now],
    )?;
    counts(&row)
}

/// Purges the least recently seen raw messages until at most `max` raw bytes are stored:
/// (messages, bytes). A message is purged when the bytes of the ones seen before it are still
/// short of the excess, so the pass stops at the first one that brings the total under.
fn purge_over(tx: &mut Transaction<'_>, max: i64, now: i64) -> Result<(u64, u64)> {
    let total: i64 = tx
        .query_one(
            "SELECT coalesce(sum(length), 0)::BIGINT FROM blobs WHERE raw IS NOT NULL",
            &[],
        )?
        .try_get(0)?;
    let excess = total.saturating_sub(max);
    if excess <= 0 {
        return Ok((0, 0));
    }
    let row = tx.query_one(
        "WITH oldest AS (
             SELECT sha256, last_seen,
                    (sum(length) OVER (ORDER BY last_seen, first_seen, sha256
                                       ROWS UNBOUNDED PRECEDING))::BIGINT - length AS before
             FROM blobs WHERE raw IS NOT NULL),
         purged AS (
             UPDATE blobs b SET raw = NULL, purged_at = $2
             FROM oldest o
             WHERE b.sha256 = o.sha256 AND o.before < $1::BIGINT
               AND b.raw IS NOT NULL AND b.last_seen = o.last_seen
             RETURNING b.length)
         SELECT count(*), coalesce(sum(length), 0)::BIGINT FROM purged",
        &[&excess, &now],
    )?;
    counts(&row)
}

fn counts(row: &postgres::Row) -> Result<(u64, u64)> {
    let n: i64 = row.try_get(0)?;
    let bytes: i64 = row.try_get(1)?;
    Ok((
        u64::try_from(n).unwrap_or(0),
        u64::try_from(bytes).unwrap_or(0),
    ))
}
