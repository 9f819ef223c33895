//! The forwarding outbox of a sensor: its sightings and session records in `seq` order, the
//! durable marks of what the bus acknowledged, and the in-memory count of what is still to go.
//!
//! The sensor's forwarder reads a page ([`Store::outbox`], [`Store::session_outbox`]), publishes
//! it, and once the bus acknowledged every message up to some `seq` stores that as the mark
//! ([`Store::mark_forwarded`]); [`Store::release_forwarded`] then frees the disk of what is at
//! or below the marks. A crash between a publish and its mark publishes again after restart:
//! the bus and the collector's [`Store::ingest`] drop the duplicate.
//!
//! `seq` is the rowid of `sightings`/`sessions`: it grows with every insert and is never handed
//! out twice (release never deletes the row with the largest `seq`). A sighting whose raw
//! bytes are gone (retention configured on a sensor, a damaged segment) cannot be forwarded: it
//! is left out of the page with an error logged, and the mark passes it with the next message.

use crate::error::{Result, StoreError};
use crate::query::{self, parse_json};
use crate::{RawLookup, Store, StoreConfig};
use model::{SessionRecord, Sighting};
use rusqlite::{Connection, OptionalExtension};
use std::sync::atomic::Ordering;

/// Counter rows (`counters` table) of the forward marks.
const SIGHTINGS_MARK: &str = "forwarded_sightings";
const SESSIONS_MARK: &str = "forwarded_sessions";

/// One captured message to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub seq: u64,
    pub sighting: Sighting,
    /// The raw message; always present (its SHA-256 is `sighting.message_id`).
    pub raw: Vec<u8>,
}

/// Everything with a `seq` at or below these was acknowledged by the bus.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ForwardMarks {
    pub sightings: u64,
    pub sessions: u64,
}

/// What waits to be forwarded: sighting and session records, and the raw bytes of those
/// sightings (what the spool budget `StoreConfig::max_spool_bytes` limits).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Unforwarded {
    pub messages: u64,
    pub bytes: u64,
}

/// The stored marks (0 before the first).
pub(crate) fn marks(conn: &Connection) -> Result<ForwardMarks> {
    let get = |name: &str| -> Result<u64> {
        let v: Option<i64> = conn
            .prepare_cached("SELECT value FROM counters WHERE name = ?1")?
            .query_row([name], |r| r.get(0))
            .optional()?;
        Ok(v.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
    };
    Ok(ForwardMarks {
        sightings: get(SIGHTINGS_MARK)?,
        sessions: get(SESSIONS_MARK)?,
    })
}

/// Rows and raw bytes after `marks` (or in `(marks, upto]`): one rowid range scan per table.
fn count_between(conn: &Connection, from: ForwardMarks, upto: ForwardMarks) -> Result<(i64, i64)> {
    let (sightings, bytes): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), coalesce(sum(size), 0) FROM sightings WHERE seq > ?1 AND seq <= ?2",
        )?
        .query_row((seq(from.sightings), seq(upto.sightings)), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let sessions: i64 = conn
        .prepare_cached("SELECT count(*) FROM sessions WHERE seq > ?1 AND seq <= ?2")?
        .query_row((seq(from.sessions), seq(upto.sessions)), |r| r.get(0))?;
    Ok((sightings + sessions, bytes))
}

fn seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Counts what is unforwarded at open (only for a store that forwards: see
/// `StoreConfig::forwards`).
pub(crate) fn count_at_open(conn: &Connection, cfg: &StoreConfig) -> Result<(i64, i64)> {
    if !cfg.forwards() {
        return Ok((0, 0));
    }
    let all = ForwardMarks {
        sightings: u64::MAX >> 1,
        sessions: u64::MAX >> 1,
    };
    count_between(conn, marks(conn)?, all)
}

fn set_mark(conn: &Connection, name: &str, value: u64) -> Result<()> {
    let updated = conn
        .prepare_cached("UPDATE counters SET value = max(value, ?2) WHERE name = ?1")?
        .execute((name, seq(value)))?;
    if updated == 0 {
        conn.prepare_cached("INSERT INTO counters (name, value) VALUES (?1, ?2)")?
            .execute((name, seq(value)))?;
    }
    Ok(())
}

/// Moves the marks forward (never back, never past the largest `seq` stored), durably; returns
/// the rows and bytes the move covered.
fn advance(conn: &mut Connection, to: ForwardMarks) -> Result<(i64, i64)> {
    crate::schema::durable_commits(conn, |conn| {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let old = marks(&tx)?;
        let (max_s, max_ss): (i64, i64) = tx.query_row(
            "SELECT coalesce((SELECT max(seq) FROM sightings), 0),
                    coalesce((SELECT max(seq) FROM sessions), 0)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let new = ForwardMarks {
            sightings: old
                .sightings
                .max(to.sightings.min(u64::try_from(max_s).unwrap_or(0))),
            sessions: old
                .sessions
                .max(to.sessions.min(u64::try_from(max_ss).unwrap_or(0))),
        };
        if new == old {
            return Ok((0, 0));
        }
        let moved = count_between(&tx, old, new)?;
        set_mark(&tx, SIGHTINGS_MARK, new.sightings)?;
        set_mark(&tx, SESSIONS_MARK, new.sessions)?;
        tx.commit()?;
        Ok(moved)
    })
}

/// Sightings after `after` in `seq` order with their raw bytes: at most `max`, and no more
/// than `max_bytes` of raw bytes unless the first alone is larger.
fn sightings(
    conn: &Connection,
    spool: &std::path::Path,
    after: u64,
    max: usize,
    max_bytes: usize,
) -> Result<Vec<Outgoing>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, json, blob FROM sightings WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows: Vec<(i64, String, i64)> = stmt
        .query_map((seq(after), seq(max as u64)), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(rows.len());
    let mut bytes = 0usize;
    for (seq, json, blob) in rows {
        let sighting: Sighting = parse_json(&json, "sighting")?;
        let raw = match query::raw_of_blob(conn, spool, blob, &sighting.message_id) {
            Ok(RawLookup::Found(raw)) => raw,
            Ok(RawLookup::Purged | RawLookup::Unknown) => {
                lost(seq, &sighting, "its raw bytes were purged");
                continue;
            }
            Err(e @ (StoreError::Corrupt { .. } | StoreError::Io { .. })) => {
                lost(seq, &sighting, &e.to_string());
                continue;
            }
            Err(e) => return Err(e),
        };
        if !out.is_empty() && bytes + raw.len() > max_bytes {
            break;
        }
        bytes += raw.len();
        out.push(Outgoing {
            seq: u64::try_from(seq).unwrap_or(0),
            sighting,
            raw,
        });
    }
    Ok(out)
}

fn lost(seq: i64, s: &Sighting, why: &str) {
    tracing::error!(seq, sighting = %s.id, message = %s.message_id, reason = why,
        "sighting cannot be forwarded: no raw bytes; left out");
}

fn sessions(conn: &Connection, after: u64, max: usize) -> Result<Vec<(u64, SessionRecord)>> {
    let mut stmt =
        conn.prepare_cached("SELECT seq, json FROM sessions WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
    let rows = stmt.query_map((seq(after), seq(max as u64)), |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
    })?;
    rows.map(|row| {
        let (seq, json) = row?;
        Ok((
            u64::try_from(seq).unwrap_or(0),
            parse_json(&json, "session")?,
        ))
    })
    .collect()
}

impl Store {
    /// Sightings with `seq > after`, in `seq` order, each with its raw bytes: at most `max`,
    /// and at most `max_bytes` of raw bytes (but always the first, however large).
    pub fn outbox(&self, after: u64, max: usize, max_bytes: usize) -> Result<Vec<Outgoing>> {
        let spool = self.config().spool_dir();
        self.read(|c| sightings(c, &spool, after, max, max_bytes))
    }

    /// Session records with `seq > after`, in `seq` order, at most `max`.
    pub fn session_outbox(&self, after: u64, max: usize) -> Result<Vec<(u64, SessionRecord)>> {
        self.read(|c| sessions(c, after, max))
    }

    /// What the bus has acknowledged so far (0 and 0 on a new store).
    pub fn forward_marks(&self) -> Result<ForwardMarks> {
        self.read(marks)
    }

    /// Records, durably (`synchronous=FULL`), that everything up to `marks` was acknowledged.
    /// A mark never moves backwards (an older value is ignored) nor past the largest `seq`
    /// stored.
    pub fn mark_forwarded(&self, marks: ForwardMarks) -> Result<()> {
        let (rows, bytes) = self.with_jobs_mut(|c| advance(c, marks))?;
        if self.config().forwards() {
            let shared = &self.inner.shared;
            shared.unforwarded_rows.fetch_sub(rows, Ordering::Relaxed);
            shared.unforwarded_bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
        Ok(())
    }

    /// Sighting and session records not yet forwarded and their raw bytes: from memory, for
    /// metrics and the spool budget. Kept on a store that forwards (analysis jobs off, or a
    /// spool budget set); zero elsewhere. Records another process adds to the same directory
    /// are counted at the next open.
    pub fn unforwarded(&self) -> Unforwarded {
        let shared = &self.inner.shared;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Unforwarded {
            messages: n(shared.unforwarded_rows.load(Ordering::Relaxed)),
            bytes: n(shared.unforwarded_bytes.load(Ordering::Relaxed)),
        }
    }

    /// Frees the disk of what was forwarded (see `release.rs`): segments whose records are all
    /// at or below the marks are deleted, their blobs purged or, when an unforwarded sighting
    /// still needs one, copied forward; on a store without analysis jobs the forwarded rows go
    /// too. Runs on the writer thread; call it after [`Store::mark_forwarded`], on a timer.
    pub fn release_forwarded(&self) -> Result<crate::ReleaseReport> {
        let (reply, rx) = std::sync::mpsc::channel();
        self.inner
            .tx
            .send(crate::writer::Cmd::Release(reply))
            .map_err(|_| StoreError::Closed)?;
        rx.recv().unwrap_or(Err(StoreError::Closed))
    }
}
