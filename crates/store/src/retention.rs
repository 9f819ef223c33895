//! Retention: delete whole oldest segments within size and age budgets, copying still-active
//! blobs forward first; purged blobs keep their index row (and their sightings) with a purge time.
//!
//! Policy. Segments are visited oldest first. A segment goes when the spool is over
//! `max_blob_bytes` or when its last write is older than `max_blob_age`. Before it goes, each of
//! its live blobs is either purged or, if it was *seen again* recently, copied into the current
//! segment: "recently" means after the age cutoff, and under size pressure also after the next
//! segment was created (i.e. more recently than data we keep anyway). So raw bytes disappear in
//! order of last sighting, approximately, and an ongoing campaign keeps its sample. Segments
//! locked by a live writer (this or another process) are skipped. Runs on the writer thread.

use crate::error::{Result, StoreError};
use crate::segment::{self, SegmentFile};
use crate::writer::WriterState;
use crate::{Timestamp, unix_nanos};
use rusqlite::TransactionBehavior;
use serde::Serialize;
use std::fs::File;

/// What one retention pass did. On PostgreSQL (`pg/retention.rs`) raw bytes are purged in
/// place: `copied_blobs` and `deleted_segments` are 0 there and `freed_bytes` is the raw bytes
/// purged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Blobs whose raw bytes were removed (their sightings remain).
    pub purged_blobs: u64,
    /// Blobs copied forward out of a deleted segment because they were seen recently.
    pub copied_blobs: u64,
    /// Segment bytes deleted minus bytes copied forward.
    pub freed_bytes: u64,
    pub deleted_segments: u64,
}

pub(crate) fn run(state: &mut WriterState, now: Timestamp) -> Result<RetentionReport> {
    let mut report = RetentionReport::default();
    let budget = state.cfg.retention.clone();
    if budget.max_blob_bytes.is_none() && budget.max_blob_age.is_none() {
        return Ok(report);
    }
    let now_ns = unix_nanos(now);
    let age_cutoff = budget
        .max_blob_age
        .map(|age| now_ns.saturating_sub(i64::try_from(age.as_nanos()).unwrap_or(i64::MAX)));
    let spool = state.cfg.spool_dir();
    let segments = segment::list_segments(&spool)?;
    let mut total: u64 = segments.iter().map(|s| s.bytes).sum();
    for (i, seg) in segments.iter().enumerate() {
        let by_age = age_cutoff.is_some_and(|cutoff| seg.modified < cutoff);
        let by_size = budget.max_blob_bytes.is_some_and(|max| total > max);
        if !by_age && !by_size {
            break;
        }
        let next_created = segments
            .get(i + 1)
            .and_then(|s| segment::segment_created(&s.name))
            .unwrap_or(now_ns);
        let keep_after = match (by_size, age_cutoff) {
            (true, Some(cutoff)) => next_created.max(cutoff),
            (true, None) => next_created,
            (false, cutoff) => cutoff.unwrap_or(i64::MAX),
        };
        if state.segment.as_ref().is_some_and(|s| s.name == seg.name) {
            state.segment = None; // roll over so our own segment can go too
        }
        let keep =
            |_: &rusqlite::Transaction<'_>, _: i64, last_seen: i64| Ok(last_seen >= keep_after);
        let Some(done) = delete_segment(state, seg, &keep, now_ns)? else {
            continue; // a live writer owns it
        };
        report.purged_blobs += done.purged;
        report.copied_blobs += done.copied;
        report.deleted_segments += 1;
        report.freed_bytes += seg.bytes.saturating_sub(done.copied_bytes);
        total = total.saturating_sub(seg.bytes) + done.copied_bytes;
    }
    if report.deleted_segments > 0 {
        tracing::info!(?report, "retention pass");
    }
    Ok(report)
}

pub(crate) struct Deleted {
    pub purged: u64,
    pub copied: u64,
    pub copied_bytes: u64,
}

/// Whether a live blob of a segment being deleted is copied forward (`true`) or purged: asked
/// with the blob's key and `last_seen`, inside the pass's write transaction.
pub(crate) type Keep<'a> = dyn Fn(&rusqlite::Transaction<'_>, i64, i64) -> Result<bool> + 'a;

/// Empties one segment (copy forward or purge each live blob, one transaction) and deletes it.
/// Returns `None` when another writer holds the segment's lock. Shared with `release.rs`.
pub(crate) fn delete_segment(
    state: &mut WriterState,
    seg: &SegmentFile,
    keep: &Keep<'_>,
    now: i64,
) -> Result<Option<Deleted>> {
    let path = state.cfg.spool_dir().join(&seg.name);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    if file.try_lock().is_err() {
        return Ok(None);
    }
    // The whole pass over this segment holds the SQLite write lock, so no writer (in any
    // process) can dedup against a blob between our decision and our update.
    let mut conn = state.take_conn()?;
    // Durable commit (synchronous=FULL): the segment file is deleted right after, and the journal
    // cannot replay a purge or a move whose commit a power cut lost.
    let outcome = crate::schema::durable_commits(&mut conn, |conn| {
        empty_segment(state, conn, seg, &path, keep, now)
    });
    state.put_conn(conn);
    if outcome.is_err() {
        state.seal_abandoned();
    }
    let done = outcome?;
    std::fs::remove_file(&path).map_err(|e| StoreError::io(&path, e))?;
    segment::sync_dir(&state.cfg.spool_dir())?;
    Ok(Some(done))
}

fn empty_segment(
    state: &mut WriterState,
    conn: &mut rusqlite::Connection,
    seg: &SegmentFile,
    path: &std::path::Path,
    keep: &Keep<'_>,
    now: i64,
) -> Result<Deleted> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let rows: Vec<(i64, Vec<u8>, i64, i64, i64)> = tx
        .prepare(
            "SELECT id, sha256, offset, length, last_seen FROM blobs
             WHERE segment = ?1 AND purged_at IS NULL",
        )?
        .query_map([&seg.name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut buf = Vec::new();
    let mut copies = Vec::new();
    let mut purges = Vec::new();
    for (key, sha, offset, length, last_seen) in rows {
        let id = crate::query::message_id_from(&sha)?;
        if keep(&tx, key, last_seen)? {
            let read = segment::read_record(path, offset as u64, length as u64, &id);
            match read {
                Ok(raw) => {
                    copies.push((key, segment::encode_record(&mut buf, &id, &raw)));
                    continue;
                }
                Err(e) => tracing::warn!(%id, error = %e, "unreadable blob purged by retention"),
            }
        }
        purges.push(key);
    }
    let (target, base) = if buf.is_empty() {
        (String::new(), 0)
    } else {
        state.append_durably(&buf)?
    };
    if !buf.is_empty() {
        let spans = crate::index::SeqSpans::default();
        crate::index::set_indexed_upto(&tx, &target, base + buf.len() as u64, &spans)?;
    }
    // Its journal is gone with it: nothing left to replay.
    tx.prepare_cached("DELETE FROM segments WHERE name = ?1")?
        .execute([&seg.name])?;
    for (key, rel) in &copies {
        tx.prepare_cached("UPDATE blobs SET segment = ?2, offset = ?3 WHERE id = ?1")?
            .execute((key, &target, (base + rel) as i64))?;
    }
    for key in &purges {
        tx.prepare_cached(
            "UPDATE blobs SET segment = NULL, offset = NULL, purged_at = ?2 WHERE id = ?1",
        )?
        .execute((key, now))?;
    }
    tx.commit()?;
    Ok(Deleted {
        purged: purges.len() as u64,
        copied: copies.len() as u64,
        copied_bytes: buf.len() as u64,
    })
}
