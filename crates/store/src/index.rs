//! Indexing journal records into SQLite, shared by the writer (live batches) and recovery
//! (replay): every statement is idempotent, so a record indexed twice changes nothing.

use crate::error::{Result, StoreError};
use crate::unix_nanos;
use model::{MessageId, SessionRecord, Sighting, SightingSource};
use rusqlite::{Connection, OptionalExtension};

/// The indexed columns of a sighting plus its JSON, derived from a [`Sighting`] in one place so
/// a live capture and a replayed journal record produce the same row.
#[derive(Debug, Clone)]
pub(crate) struct SightingRow {
    pub id: uuid::Uuid,
    pub message_id: MessageId,
    pub received_at: i64,
    pub source: &'static str,
    pub peer: String,
    pub sender: String,
    pub size: i64,
    pub json: String,
}

impl SightingRow {
    pub fn new(sighting: &Sighting, json: String) -> Self {
        Self {
            id: sighting.id,
            message_id: sighting.message_id,
            received_at: unix_nanos(sighting.received_at),
            source: match sighting.source {
                SightingSource::Smtp => "smtp",
                SightingSource::Import { .. } => "import",
            },
            sender: sighting.sender().to_owned(),
            peer: sighting.peer.clone(),
            size: i64::try_from(sighting.size).unwrap_or(i64::MAX),
            json,
        }
    }

    /// Parses a sighting record's payload.
    pub fn from_json(json: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(json)
            .map_err(|_| StoreError::corrupt("sighting record is not UTF-8"))?;
        let sighting: Sighting = crate::query::parse_json(text, "sighting")?;
        Ok(Self::new(&sighting, text.to_owned()))
    }
}

/// The indexed columns of a session record plus its JSON.
#[derive(Debug, Clone)]
pub(crate) struct SessionRow {
    pub id: uuid::Uuid,
    pub started_at: i64,
    pub peer: String,
    pub json: String,
}

impl SessionRow {
    pub fn new(record: &SessionRecord, json: String) -> Self {
        Self {
            id: record.id,
            started_at: unix_nanos(record.started_at),
            peer: record.peer.clone(),
            json,
        }
    }

    pub fn from_json(json: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(json)
            .map_err(|_| StoreError::corrupt("session record is not UTF-8"))?;
        let record: SessionRecord = crate::query::parse_json(text, "session")?;
        Ok(Self::new(&record, text.to_owned()))
    }
}

/// A blob's row: its key and whether its raw bytes are still stored.
pub(crate) fn lookup_blob(conn: &Connection, id: &MessageId) -> Result<Option<(i64, bool)>> {
    Ok(conn
        .prepare_cached("SELECT id, segment IS NOT NULL FROM blobs WHERE sha256 = ?1")?
        .query_row([&id.as_bytes()[..]], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Indexes a blob record at `segment`/`offset`; returns the blob's key. A blob already live
/// elsewhere keeps its location (the record is a redundant copy); a purged one comes back here.
pub(crate) fn index_blob(
    conn: &Connection,
    id: &MessageId,
    segment: &str,
    offset: u64,
    len: u64,
    now: i64,
) -> Result<i64> {
    let offset = i64::try_from(offset).map_err(|_| StoreError::corrupt("offset overflow"))?;
    let len = i64::try_from(len).map_err(|_| StoreError::corrupt("length overflow"))?;
    let key = &id.as_bytes()[..];
    let inserted: Option<i64> = conn
        .prepare_cached(
            "INSERT INTO blobs (sha256, segment, offset, length, first_seen, last_seen, refcount)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0)
             ON CONFLICT(sha256) DO UPDATE SET
                 segment = excluded.segment, offset = excluded.offset, purged_at = NULL
             WHERE blobs.segment IS NULL
             RETURNING id",
        )?
        .query_row((key, segment, offset, len, now), |r| r.get(0))
        .optional()?;
    match inserted {
        Some(blob) => Ok(blob),
        None => lookup_blob(conn, id)?
            .map(|(blob, _)| blob)
            .ok_or_else(|| StoreError::corrupt(format!("blob {id} vanished while indexing"))),
    }
}

/// Indexes a sighting of blob `blob` and, if it is new, its analysis job. Returns whether it
/// was new (a replayed or retried sighting id changes nothing).
pub(crate) fn index_sighting(
    conn: &Connection,
    s: &SightingRow,
    blob: i64,
    now: i64,
) -> Result<bool> {
    let sid = &s.id.as_bytes()[..];
    let mid = &s.message_id.as_bytes()[..];
    let inserted = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO sightings
                 (id, message_id, received_at, source, peer, sender, size, json, blob)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute((
            sid,
            mid,
            s.received_at,
            s.source,
            &s.peer,
            &s.sender,
            s.size,
            &s.json,
            blob,
        ))?;
    if inserted == 0 {
        return Ok(false);
    }
    conn.prepare_cached(
        "UPDATE blobs SET refcount = refcount + 1, last_seen = max(last_seen, ?2) WHERE id = ?1",
    )?
    .execute((blob, now))?;
    conn.prepare_cached(
        "INSERT INTO jobs (sighting_id, message_id, created_at) VALUES (?1, ?2, ?3)",
    )?
    .execute((sid, mid, now))?;
    Ok(true)
}

pub(crate) fn index_session(conn: &Connection, s: &SessionRow) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO sessions (id, started_at, peer, json) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute((&s.id.as_bytes()[..], s.started_at, &s.peer, &s.json))?;
    Ok(())
}

/// Records that `segment` is indexed up to `upto` (never moves backwards).
pub(crate) fn set_indexed_upto(conn: &Connection, segment: &str, upto: u64) -> Result<()> {
    let upto = i64::try_from(upto).map_err(|_| StoreError::corrupt("offset overflow"))?;
    conn.prepare_cached(
        "INSERT INTO segments (name, indexed_upto) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET indexed_upto = max(indexed_upto, excluded.indexed_upto)",
    )?
    .execute((segment, upto))?;
    Ok(())
}

/// Marks everything from `from` on in `segment` as void: a batch whose fdatasync failed.
pub(crate) fn set_void_from(conn: &Connection, segment: &str, from: u64) -> Result<()> {
    let from = i64::try_from(from).map_err(|_| StoreError::corrupt("offset overflow"))?;
    conn.prepare_cached(
        "INSERT INTO segments (name, indexed_upto, void_from) VALUES (?1, ?2, ?2)
         ON CONFLICT(name) DO UPDATE SET void_from = excluded.void_from",
    )?
    .execute((segment, from))?;
    Ok(())
}

/// Per segment: indexed up to where, void from where.
pub(crate) fn segment_marks(
    conn: &Connection,
) -> Result<std::collections::HashMap<String, (u64, Option<u64>)>> {
    let mut stmt = conn.prepare("SELECT name, indexed_upto, void_from FROM segments")?;
    let rows = stmt.query_map([], |r| {
        let upto: i64 = r.get(1)?;
        let void: Option<i64> = r.get(2)?;
        Ok((
            r.get::<_, String>(0)?,
            (
                u64::try_from(upto).unwrap_or(0),
                void.map(|v| u64::try_from(v).unwrap_or(0)),
            ),
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
