//! PostgreSQL counterpart of `crate::usage`.

use crate::error::Result;
use crate::usage::{MAX_COUNTED_JOBS, StoreUsage};
use postgres::GenericClient;

/// Pending analysis jobs, counted up to [`MAX_COUNTED_JOBS`].
pub(crate) fn job_count(c: &mut impl GenericClient) -> Result<u64> {
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM (SELECT 1 FROM jobs LIMIT $1) AS j",
            &[&(MAX_COUNTED_JOBS as i64)],
        )?
        .try_get(0)?;
    Ok(super::query::count(n))
}

/// The cheap figures, still without a table scan: the capped job count and relation sizes from
/// the catalog. There are no segment files: `segments` is 0 and `segment_bytes` is the size of
/// the `blobs` table (with its TOAST and indexes), where the raw messages are kept, so the
/// spool gauge still follows the raw bytes (on disk, compressed: not the sum of message lengths
/// that `stats()` reports, which needs a scan). `sqlite_bytes` is the whole schema's tables.
/// `disk_free_bytes` is `None`: the disk is the database server's.
pub(crate) fn usage(c: &mut impl GenericClient, dropped: u64) -> Result<StoreUsage> {
    let pending_jobs = job_count(c)?;
    let (blobs, all) = super::query::relation_bytes(c)?;
    Ok(StoreUsage {
        pending_jobs,
        segments: 0,
        segment_bytes: blobs,
        sqlite_bytes: all,
        disk_free_bytes: None,
        dropped_session_records: dropped,
    })
}

/// A round trip: `Ok` when the server answers.
pub(crate) fn ping(c: &mut impl GenericClient) -> Result<()> {
    c.query_one("SELECT 1", &[])?;
    Ok(())
}
