//! Reads: sightings, raw bytes, session records and statistics, on read-only connections.

use crate::error::{Result, StoreError};
use crate::segment;
use crate::{RawLookup, Timestamp, unix_nanos};
use model::{MessageId, SessionRecord, Sighting};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use std::path::Path;

/// Which sightings to list; newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SightingQuery {
    /// At most this many sightings.
    pub limit: usize,
    /// Only sightings received at or after this time.
    pub since: Option<Timestamp>,
    /// Only sightings received strictly before this time (for paging backwards).
    pub before: Option<Timestamp>,
    /// Only arrivals of this message.
    pub message: Option<MessageId>,
}

impl Default for SightingQuery {
    /// The 100 newest sightings: a screenful for `messages list` and the UI.
    fn default() -> Self {
        Self {
            limit: 100,
            since: None,
            before: None,
            message: None,
        }
    }
}

/// One sighting by id.
pub(crate) fn sighting(conn: &Connection, id: uuid::Uuid) -> Result<Option<Sighting>> {
    use rusqlite::OptionalExtension;
    let json: Option<String> = conn
        .prepare_cached("SELECT json FROM sightings WHERE id = ?1")?
        .query_row([id.as_bytes().to_vec()], |r| r.get(0))
        .optional()?;
    json.map(|j| parse_json(&j, "sighting")).transpose()
}

pub(crate) fn sightings(conn: &Connection, q: &SightingQuery) -> Result<Vec<Sighting>> {
    let mut sql = String::from("SELECT json FROM sightings WHERE 1");
    let mut params: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(since) = q.since {
        params.push(unix_nanos(since).into());
        sql.push_str(&format!(" AND received_at >= ?{}", params.len()));
    }
    if let Some(before) = q.before {
        params.push(unix_nanos(before).into());
        sql.push_str(&format!(" AND received_at < ?{}", params.len()));
    }
    if let Some(message) = q.message {
        params.push(message.as_bytes().to_vec().into());
        // By the blob's integer key: `sightings_by_blob` is append-ordered, a hash index is not.
        let n = format!("?{}", params.len());
        sql.push_str(&format!(
            " AND blob = {} AND message_id = {n}",
            crate::index::blob_by_sha(&n)
        ));
    }
    params.push(i64::try_from(q.limit).unwrap_or(i64::MAX).into());
    sql.push_str(&format!(
        " ORDER BY received_at DESC, id DESC LIMIT ?{}",
        params.len()
    ));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(params), |r| {
        r.get::<_, String>(0)
    })?;
    rows.map(|json| parse_json(&json?, "sighting")).collect()
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|e| StoreError::corrupt(format!("stored {what} JSON does not parse: {e}")))
}

/// Looks a blob up and reads it. If retention moved or deleted the segment between the lookup and
/// the read (possibly in another process), the lookup is repeated once.
pub(crate) fn raw(conn: &Connection, spool: &Path, id: &MessageId) -> Result<RawLookup> {
    let sql = format!(
        "SELECT segment, offset, length FROM blobs WHERE id = {}",
        crate::index::blob_by_sha("?1")
    );
    raw_row(conn, spool, id, &sql, id.as_bytes().to_vec().into())
}

/// [`raw`] of the blob whose key is `key` (its hash `id`): by rowid, no lookup by hash (verify,
/// the forwarding outbox). A key never changes its blob: blob rows are deleted only by a
/// sensor's release, which never deletes the largest id, so SQLite never hands one out again.
pub(crate) fn raw_of_blob(
    conn: &Connection,
    spool: &Path,
    key: i64,
    id: &MessageId,
) -> Result<RawLookup> {
    let sql = "SELECT segment, offset, length FROM blobs WHERE id = ?1";
    raw_row(conn, spool, id, sql, key.into())
}

fn raw_row(
    conn: &Connection,
    spool: &Path,
    id: &MessageId,
    sql: &str,
    by: rusqlite::types::Value,
) -> Result<RawLookup> {
    let mut retried = false;
    loop {
        let row: Option<(Option<String>, Option<i64>, i64)> = conn
            .prepare_cached(sql)?
            .query_row([&by], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let (segment_name, offset, length) = match row {
            None => return Ok(RawLookup::Unknown),
            Some((None, _, _)) => return Ok(RawLookup::Purged),
            Some((Some(seg), Some(off), len)) if off >= 0 && len >= 0 => (seg, off, len),
            Some(_) => {
                return Err(StoreError::corrupt(format!(
                    "blob row of {id} is inconsistent"
                )));
            }
        };
        if segment_name.contains('/') || segment_name.starts_with('.') {
            return Err(StoreError::corrupt(format!(
                "blob {id} names segment {segment_name:?}"
            )));
        }
        let path = spool.join(&segment_name);
        match segment::read_record(&path, offset as u64, length as u64, id) {
            Ok(bytes) => return Ok(RawLookup::Found(bytes)),
            Err(StoreError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && !retried =>
            {
                retried = true;
            }
            Err(StoreError::Io { path, source })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(StoreError::corrupt(format!(
                    "segment {} holding {id} is missing ({source})",
                    path.display()
                )));
            }
            Err(e) => return Err(e),
        }
    }
}

pub(crate) fn session(conn: &Connection, id: uuid::Uuid) -> Result<Option<SessionRecord>> {
    let json: Option<String> = conn
        .prepare_cached("SELECT json FROM sessions WHERE id = ?1")?
        .query_row([&id.as_bytes()[..]], |r| r.get(0))
        .optional()?;
    json.map(|j| parse_json(&j, "session")).transpose()
}

/// Where the store's space and work are.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// Distinct messages ever captured (live or purged).
    pub messages: u64,
    pub sightings: u64,
    pub sessions: u64,
    /// Messages whose raw bytes are still stored.
    pub blobs: u64,
    /// Raw bytes of live blobs (without record headers or dead segment bytes).
    pub blob_bytes: u64,
    pub purged_blobs: u64,
    pub segments: u64,
    /// Bytes of segment files on disk (live blobs, headers, torn tails, copied-forward leftovers).
    pub segment_bytes: u64,
    /// Database, WAL and shared-memory files.
    pub sqlite_bytes: u64,
    pub pending_jobs: u64,
    /// Analysis reports stored (one per analysed sighting).
    pub reports: u64,
    /// Reports not yet in a campaign (the clustering step's backlog).
    pub unclustered_reports: u64,
    /// Distinct indicators in the index.
    pub indicators: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub oldest_sighting: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub newest_sighting: Option<Timestamp>,
    /// Sightings of a message already seen before (`sightings - messages`).
    pub duplicate_sightings: u64,
    pub disk_free_bytes: Option<u64>,
    /// Group commits (segment fdatasync + SQLite commit) done by this handle's writer.
    pub commits: u64,
}

pub(crate) fn stats(conn: &Connection, data_dir: &Path, spool: &Path) -> Result<StoreStats> {
    let count = |sql: &str| -> Result<u64> {
        let n: i64 = conn.query_row(sql, [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    };
    let (messages, blobs, blob_bytes, purged_blobs): (i64, i64, i64, i64) = conn.query_row(
        "SELECT count(*),
                coalesce(sum(purged_at IS NULL), 0),
                coalesce(sum(CASE WHEN purged_at IS NULL THEN length END), 0),
                coalesce(sum(purged_at IS NOT NULL), 0)
         FROM blobs",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )?;
    let (oldest, newest): (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT min(received_at), max(received_at) FROM sightings",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let sightings = count("SELECT count(*) FROM sightings")?;
    let segments = segment::list_segments(spool)?;
    let db = data_dir.join("spamhattan.sqlite");
    let sqlite_bytes = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            crate::disk::file_bytes(Path::new(&p))
        })
        .sum();
    let messages = u64::try_from(messages).unwrap_or(0);
    Ok(StoreStats {
        messages,
        sightings,
        sessions: count("SELECT count(*) FROM sessions")?,
        blobs: u64::try_from(blobs).unwrap_or(0),
        blob_bytes: u64::try_from(blob_bytes).unwrap_or(0),
        purged_blobs: u64::try_from(purged_blobs).unwrap_or(0),
        segments: segments.len() as u64,
        segment_bytes: segments.iter().map(|s| s.bytes).sum(),
        sqlite_bytes,
        pending_jobs: crate::jobs::depth(conn)?,
        reports: count("SELECT count(*) FROM reports")?,
        unclustered_reports: count("SELECT count(*) FROM reports WHERE campaign IS NULL")?,
        indicators: count("SELECT count(*) FROM indicators")?,
        oldest_sighting: oldest.map(from_nanos).transpose()?,
        newest_sighting: newest.map(from_nanos).transpose()?,
        duplicate_sightings: sightings.saturating_sub(messages),
        disk_free_bytes: crate::disk::free_bytes(data_dir),
        commits: 0,
    })
}

pub(crate) fn from_nanos(ns: i64) -> Result<Timestamp> {
    Timestamp::from_unix_timestamp_nanos(i128::from(ns))
        .map_err(|e| StoreError::corrupt(format!("time stamp {ns} out of range: {e}")))
}

pub(crate) fn uuid_from(bytes: &[u8]) -> Result<uuid::Uuid> {
    uuid::Uuid::from_slice(bytes)
        .map_err(|_| StoreError::corrupt(format!("a uuid column holds {} bytes", bytes.len())))
}

pub(crate) fn message_id_from(bytes: &[u8]) -> Result<MessageId> {
    <[u8; 32]>::try_from(bytes)
        .map(MessageId::from_bytes)
        .map_err(|_| {
            StoreError::corrupt(format!("a message id column holds {} bytes", bytes.len()))
        })
}
