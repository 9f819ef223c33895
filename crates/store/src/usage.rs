//! Figures cheap enough to read on every Prometheus scrape: no table is scanned.
//!
//! [`Store::stats`] counts every table (full scans of `blobs` and `sightings`: 180 ms on a
//! store of a million messages, and growing with it), so `/metrics` reads [`Store::usage`]
//! instead: a few file sizes, one `statvfs` and a job count capped at [`MAX_COUNTED_JOBS`].

use crate::error::Result;
use crate::{Store, StoreConfig};
use rusqlite::Connection;
use serde::Serialize;

/// Most pending jobs counted for [`StoreUsage::pending_jobs`]. The queue is normally below
/// `max_backlog` (100,000 by default: MAIL is refused past it); only `reanalyze` pushes it
/// further. [`Store::usage`] took 2 ms with 100,000 pending jobs and 27 ms with 1,000,000
/// (`scrape_cost_on_a_large_store` in `crates/web/tests/ops.rs`), so a scrape stays cheap
/// however large the queue grows; past the cap the figure reads "at least this many".
pub const MAX_COUNTED_JOBS: u64 = 1_000_000;

/// Cheap figures about the store's space and work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreUsage {
    /// Analysis jobs waiting or claimed, counted up to [`MAX_COUNTED_JOBS`].
    pub pending_jobs: u64,
    /// Segment files in the spool and their bytes on disk.
    pub segments: u64,
    pub segment_bytes: u64,
    /// Database, WAL and shared-memory files.
    pub sqlite_bytes: u64,
    /// Free bytes for unprivileged users on the store's file system, if it can be asked.
    pub disk_free_bytes: Option<u64>,
    /// Session records this process dropped ([`Store::dropped_session_records`]).
    pub dropped_session_records: u64,
}

impl Store {
    /// The cheap figures: see [`StoreUsage`] (on PostgreSQL, `pg::usage::usage` says what the
    /// spool and file figures mean there). Blocks for a few milliseconds (file metadata and
    /// one capped count): call it off async threads.
    pub fn usage(&self) -> Result<StoreUsage> {
        let dropped = self.dropped_session_records();
        self.on(
            |conn| sqlite_usage(self.config(), conn, dropped),
            |c| crate::pg::usage::usage(c, dropped),
        )
    }

    /// One trivial read through a reader connection: `Ok` when the database answers. For
    /// readiness probes, which must not cost more than a round trip.
    pub fn ping(&self) -> Result<()> {
        self.on(
            |conn| {
                conn.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?;
                Ok(())
            },
            crate::pg::usage::ping,
        )
    }
}

/// The SQLite store's figures: its spool directory's segment files, its database files and
/// the capped job count.
fn sqlite_usage(cfg: &StoreConfig, conn: &Connection, dropped: u64) -> Result<StoreUsage> {
    let segments = crate::segment::list_segments(&cfg.spool_dir())?;
    let db = cfg.data_dir.join("spamhattan.sqlite");
    let sqlite_bytes = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            crate::disk::file_bytes(std::path::Path::new(&p))
        })
        .sum();
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM (SELECT 1 FROM jobs LIMIT ?1)")?
        .query_row([MAX_COUNTED_JOBS as i64], |r| r.get(0))?;
    Ok(StoreUsage {
        pending_jobs: u64::try_from(n).unwrap_or(0),
        segments: segments.len() as u64,
        segment_bytes: segments.iter().map(|s| s.bytes).sum(),
        sqlite_bytes,
        disk_free_bytes: crate::disk::free_bytes(&cfg.data_dir),
        dropped_session_records: dropped,
    })
}
