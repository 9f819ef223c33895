//! Releasing what a sensor forwarded: segments whose every record was forwarded are deleted
//! (their live blobs purged, or copied forward when a sighting not yet forwarded still needs
//! them), and on a store that analyses nothing the forwarded rows go too. Runs on the writer
//! thread, like retention, whose segment deletion it reuses.
//!
//! Decisions:
//! * A segment goes only when its `seq` ranges (schema v11) are at or below both forward marks
//!   and it is indexed to its end (records after `indexed_upto` are recovery's, never released).
//!   Marks only move forward, so a stale read is merely conservative.
//! * A purged blob keeps being known until its row is deleted; a message that arrives again
//!   after that is stored again with its raw bytes (the writer revives a purged blob, or
//!   inserts a new row once it was deleted), so the outbox always finds raw bytes.
//! * Rows (sightings, sessions, purged blobs without sightings) are deleted only when the store
//!   creates no analysis jobs (a sensor keeps no history; a store that analyses keeps its rows
//!   for its reports), only up to the forward marks, and only below the smallest `seq` a
//!   remaining segment holds a record of, so `verify` never finds a journal record without its
//!   row. The row with the largest `seq` (and the blob with the largest id) is never deleted:
//!   SQLite would hand its rowid out again, and a reused `seq` at or below the mark would never
//!   be forwarded. Blob rows are deleted only once keyed (`blob_keys`), never from the writer's
//!   in-memory tail. So the SQLite file stays bounded on a long-running sensor.

use crate::error::Result;
use crate::forward::{self, ForwardMarks};
use crate::retention;
use crate::segment;
use crate::writer::WriterState;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use std::collections::HashMap;

/// What one release pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseReport {
    pub deleted_segments: u64,
    /// Segment bytes deleted minus bytes copied forward.
    pub freed_bytes: u64,
    /// Blobs whose raw bytes were removed (every sighting of them was forwarded).
    pub purged_blobs: u64,
    /// Blobs copied out of a deleted segment because an unforwarded sighting needs them.
    pub copied_blobs: u64,
    /// Rows deleted (stores without analysis jobs only).
    pub deleted_sightings: u64,
    pub deleted_sessions: u64,
    pub deleted_blobs: u64,
}

/// A segment's row: indexed up to, void from, and the largest `seq`s its records hold.
struct SegmentRow {
    indexed_upto: u64,
    void_from: Option<u64>,
    sightings_upto: u64,
    sessions_upto: u64,
}

pub(crate) fn run(state: &mut WriterState) -> Result<ReleaseReport> {
    let mut report = ReleaseReport::default();
    let (marks, rows) = {
        let conn = state.conn()?;
        (forward::marks(conn)?, segment_rows(conn)?)
    };
    let now = crate::unix_nanos(model::now());
    for seg in segment::list_segments(&state.cfg.spool_dir())? {
        let Some(row) = rows.get(&seg.name) else {
            continue; // not indexed yet: a new file, or another writer's first batch
        };
        let limit = row.void_from.map_or(seg.bytes, |v| v.min(seg.bytes));
        if row.indexed_upto < limit
            || row.sightings_upto > marks.sightings
            || row.sessions_upto > marks.sessions
        {
            continue;
        }
        let mark = i64::try_from(marks.sightings).unwrap_or(i64::MAX);
        if row.sightings_upto == 0
            && row.sessions_upto == 0
            && needs_any(state.conn()?, &seg.name, mark)?
        {
            // Only blobs copied forward by an earlier pass, still needed: copying them again
            // would free nothing.
            continue;
        }
        if state.segment.as_ref().is_some_and(|s| s.name == seg.name) {
            state.segment = None; // roll over so our own segment can go too
        }
        let keep = |tx: &rusqlite::Transaction<'_>, key: i64, _last_seen: i64| {
            let needed = tx
                .prepare_cached("SELECT 1 FROM sightings WHERE blob = ?1 AND seq > ?2 LIMIT 1")?
                .exists((key, mark))?;
            Ok(needed)
        };
        let Some(done) = retention::delete_segment(state, &seg, &keep, now)? else {
            continue; // a live writer owns it
        };
        report.deleted_segments += 1;
        report.purged_blobs += done.purged;
        report.copied_blobs += done.copied;
        report.freed_bytes += seg.bytes.saturating_sub(done.copied_bytes);
    }
    if !state.cfg.analysis_jobs {
        let conn = state.conn()?;
        delete_rows(conn, &marks, &mut report)?;
        // Blob rows and keys changed under the writer's in-memory tail: reload it.
        state.forget_tail();
    }
    if report != ReleaseReport::default() {
        tracing::debug!(?report, "forwarded records released");
    }
    Ok(report)
}

/// Whether a live blob of `segment` is named by a sighting after `mark`.
fn needs_any(conn: &Connection, segment: &str, mark: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT 1 FROM blobs b WHERE b.segment = ?1 AND b.purged_at IS NULL
               AND EXISTS (SELECT 1 FROM sightings s WHERE s.blob = b.id AND s.seq > ?2)",
        )?
        .exists((segment, mark))?)
}

fn segment_rows(conn: &Connection) -> Result<HashMap<String, SegmentRow>> {
    let mut stmt = conn.prepare(
        "SELECT name, indexed_upto, void_from, sightings_upto, sessions_upto FROM segments",
    )?;
    let rows = stmt.query_map([], |r| {
        let n = |i: usize| -> rusqlite::Result<u64> {
            Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
        };
        let void: Option<i64> = r.get(2)?;
        Ok((
            r.get::<_, String>(0)?,
            SegmentRow {
                indexed_upto: n(1)?,
                void_from: void.map(|v| u64::try_from(v).unwrap_or(0)),
                sightings_upto: n(3)?,
                sessions_upto: n(4)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Deletes the forwarded rows no remaining segment holds a record of (see the module docs).
fn delete_rows(
    conn: &mut Connection,
    marks: &ForwardMarks,
    report: &mut ReleaseReport,
) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let limit = |table: &str, from_col: &str, mark: u64| -> Result<i64> {
        let (max, held): (Option<i64>, Option<i64>) = tx.query_row(
            &format!(
                "SELECT (SELECT max(seq) FROM {table}),
                        (SELECT min({from_col}) FROM segments WHERE {from_col} > 0)"
            ),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mark = i64::try_from(mark).unwrap_or(i64::MAX);
        Ok(mark
            .min(max.unwrap_or(0) - 1)
            .min(held.map_or(i64::MAX, |h| h - 1)))
    };
    let sightings = limit("sightings", "sightings_from", marks.sightings)?;
    let sessions = limit("sessions", "sessions_from", marks.sessions)?;
    report.deleted_sightings +=
        tx.execute("DELETE FROM sightings WHERE seq <= ?1", [sightings])? as u64;
    report.deleted_sessions +=
        tx.execute("DELETE FROM sessions WHERE seq <= ?1", [sessions])? as u64;
    // Key the unindexed tail first, so its purged blobs can go now too (the writer's tail map
    // is reloaded after this pass).
    crate::index::index_tail(&tx, 1)?;
    let keyed = crate::index::keyed_upto(&tx)?;
    let max_blob: Option<i64> = tx
        .query_row("SELECT max(id) FROM blobs", [], |r| r.get(0))
        .optional()?
        .flatten();
    let gone: Vec<(i64, Vec<u8>)> = tx
        .prepare(
            "SELECT id, sha256 FROM blobs b
             WHERE purged_at IS NOT NULL AND id <= ?1 AND id < ?2
               AND NOT EXISTS (SELECT 1 FROM sightings s WHERE s.blob = b.id)",
        )?
        .query_map((keyed, max_blob.unwrap_or(0)), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    for (id, sha) in &gone {
        tx.prepare_cached("DELETE FROM blob_keys WHERE sha256 = ?1 AND blob = ?2")?
            .execute((sha, id))?;
        tx.prepare_cached("DELETE FROM blobs WHERE id = ?1")?
            .execute([id])?;
    }
    report.deleted_blobs += gone.len() as u64;
    tx.commit()?;
    Ok(())
}
