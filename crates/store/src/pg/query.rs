//! PostgreSQL counterpart of `crate::query`: sightings, raw bytes, session records, statistics.
//!
//! Rows decode with the SQLite module's helpers (`parse_json`, `from_nanos`), so both backends
//! read the same JSON the same way.

use super::prepared::Conn;
use crate::error::{Result, StoreError};
use crate::query::{SightingQuery, from_nanos, parse_json};
use crate::{RawLookup, unix_nanos};
use model::{MessageId, SessionRecord, Sighting};
use postgres::GenericClient;
use postgres::types::ToSql;

/// One sighting by id.
pub(crate) fn sighting(c: &mut Conn, id: uuid::Uuid) -> Result<Option<Sighting>> {
    let row = c.query_opt(
        "SELECT json FROM sightings WHERE id = $1",
        &[&id.as_bytes().as_slice()],
    )?;
    row.map(|r| parse_json(r.try_get(0)?, "sighting"))
        .transpose()
}

/// Sightings matching `q`, newest first (ties by id, as in SQLite: both compare bytes).
pub(crate) fn sightings(c: &mut impl GenericClient, q: &SightingQuery) -> Result<Vec<Sighting>> {
    let since = q.since.map(unix_nanos);
    let before = q.before.map(unix_nanos);
    let message = q.message.map(|m| m.as_bytes().to_vec());
    let limit = super::big(q.limit);
    let mut sql = String::from("SELECT json FROM sightings WHERE true");
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    if let Some(since) = &since {
        params.push(since);
        sql.push_str(&format!(" AND received_at >= ${}", params.len()));
    }
    if let Some(before) = &before {
        params.push(before);
        sql.push_str(&format!(" AND received_at < ${}", params.len()));
    }
    if let Some(message) = &message {
        params.push(message);
        sql.push_str(&format!(" AND message_id = ${}", params.len()));
    }
    params.push(&limit);
    sql.push_str(&format!(
        " ORDER BY received_at DESC, id DESC LIMIT ${}",
        params.len()
    ));
    c.query(&sql, &params)?
        .iter()
        .map(|r| parse_json(r.try_get(0)?, "sighting"))
        .collect()
}

/// The raw bytes of a message. They are re-hashed like the SQLite store's segment reads, so a
/// damaged row is reported as corrupt rather than served as the message.
pub(crate) fn raw(c: &mut Conn, id: &MessageId) -> Result<RawLookup> {
    let row = c.query_opt(
        "SELECT raw FROM blobs WHERE sha256 = $1",
        &[&id.as_bytes().as_slice()],
    )?;
    let Some(row) = row else {
        return Ok(RawLookup::Unknown);
    };
    raw_found(id, row.try_get(0)?)
}

/// A stored blob row's raw bytes (`None`: purged), checked against the id they are stored
/// under.
pub(crate) fn raw_found(id: &MessageId, raw: Option<Vec<u8>>) -> Result<RawLookup> {
    match raw {
        None => Ok(RawLookup::Purged),
        Some(raw) if MessageId::of(&raw) == *id => Ok(RawLookup::Found(raw)),
        Some(_) => Err(StoreError::corrupt(format!(
            "the stored bytes of {id} do not hash to its id"
        ))),
    }
}

pub(crate) fn session(c: &mut impl GenericClient, id: uuid::Uuid) -> Result<Option<SessionRecord>> {
    let row = c.query_opt(
        "SELECT json FROM sessions WHERE id = $1",
        &[&id.as_bytes().as_slice()],
    )?;
    row.map(|r| parse_json(r.try_get(0)?, "session"))
        .transpose()
}

/// Bytes of this store's tables in the database (rows, indexes and TOAST): `(blobs, all)`.
/// Read from the catalog (no table scan), so [`crate::Store::usage`] can call it per scrape.
pub(crate) fn relation_bytes(c: &mut impl GenericClient) -> Result<(u64, u64)> {
    let row = c.query_one(
        "SELECT coalesce(sum(pg_total_relation_size(oid)) FILTER (WHERE relname = 'blobs'), 0)
                    ::BIGINT,
                coalesce(sum(pg_total_relation_size(oid)), 0)::BIGINT
         FROM pg_class
         WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'",
        &[],
    )?;
    Ok((count(row.try_get(0)?), count(row.try_get(1)?)))
}

/// The store's statistics. No segment files here: `segments` is 0 and `segment_bytes` is what
/// the SQLite figure measures that still makes sense, the raw bytes kept (lengths of the blobs
/// whose raw is stored, the figure retention's `max_blob_bytes` budgets, like `blob_bytes`).
/// `sqlite_bytes` is the database side: every table of the store's schema with its indexes and
/// TOAST (raw messages included). `disk_free_bytes` is `None`: the disk is the server's.
pub(crate) fn stats(c: &mut impl GenericClient) -> Result<crate::StoreStats> {
    let b = c.query_one(
        "SELECT count(*),
                count(*) FILTER (WHERE raw IS NOT NULL),
                coalesce(sum(length) FILTER (WHERE raw IS NOT NULL), 0)::BIGINT,
                count(*) FILTER (WHERE raw IS NULL)
         FROM blobs",
        &[],
    )?;
    let s = c.query_one(
        "SELECT count(*), min(received_at), max(received_at) FROM sightings",
        &[],
    )?;
    let other = c.query_one(
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM jobs),
                (SELECT count(*) FROM reports), (SELECT count(*) FROM indicators),
                (SELECT count(*) FROM reports WHERE campaign IS NULL)",
        &[],
    )?;
    let (_, db_bytes) = relation_bytes(c)?;
    let messages = count(b.try_get(0)?);
    let sightings = count(s.try_get(0)?);
    let blob_bytes = count(b.try_get(2)?);
    let oldest: Option<i64> = s.try_get(1)?;
    let newest: Option<i64> = s.try_get(2)?;
    Ok(crate::StoreStats {
        messages,
        sightings,
        sessions: count(other.try_get(0)?),
        blobs: count(b.try_get(1)?),
        blob_bytes,
        purged_blobs: count(b.try_get(3)?),
        segments: 0,
        segment_bytes: blob_bytes,
        sqlite_bytes: db_bytes,
        pending_jobs: count(other.try_get(1)?),
        reports: count(other.try_get(2)?),
        indicators: count(other.try_get(3)?),
        unclustered_reports: count(other.try_get(4)?),
        oldest_sighting: oldest.map(from_nanos).transpose()?,
        newest_sighting: newest.map(from_nanos).transpose()?,
        duplicate_sightings: sightings.saturating_sub(messages),
        disk_free_bytes: None,
        commits: 0,
    })
}

/// A count or size from the database (never negative; a negative one reads as 0).
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
