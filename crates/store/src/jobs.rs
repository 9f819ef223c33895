//! The analysis job queue: one job per sighting, claimed with a lease, deleted when completed.

use crate::error::Result;
use crate::{Timestamp, unix_nanos};
use model::MessageId;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use std::time::Duration;

/// One pending analysis of one sighting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Job {
    pub id: i64,
    pub sighting_id: uuid::Uuid,
    pub message_id: MessageId,
    /// Claims so far, including this one (a job whose worker died comes back with 2, 3...).
    pub attempts: u32,
}

/// A claimed job with what its analysis needs: the sighting (`None`: not stored) and the raw
/// message.
#[derive(Debug)]
pub struct Claimed {
    pub job: Job,
    pub sighting: Option<model::Sighting>,
    pub raw: crate::RawLookup,
}

/// When a lease taken at `now` (unix nanoseconds) for `lease` ends; saturating.
pub(crate) fn lease_end(now: i64, lease: Duration) -> i64 {
    now.saturating_add(i64::try_from(lease.as_nanos()).unwrap_or(i64::MAX))
}

/// Claims the oldest unclaimed job, or else the oldest whose lease expired. One statement, so
/// SQLite's write lock makes the claim atomic across threads and processes.
pub(crate) fn try_claim(
    conn: &Connection,
    worker: &str,
    lease: Duration,
    now: Timestamp,
) -> Result<Option<Job>> {
    let now = unix_nanos(now);
    let until = lease_end(now, lease);
    let row = conn
        .prepare_cached(
            "UPDATE jobs SET lease_until = ?1, worker = ?2, attempts = attempts + 1
             WHERE id = (SELECT id FROM jobs WHERE lease_until <= ?3
                         ORDER BY lease_until, id LIMIT 1)
             RETURNING id, sighting_id, message_id, attempts",
        )?
        .query_row((until, worker, now), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get(3)?,
            ))
        })
        .optional()?;
    let Some((id, sighting, message, attempts)) = row else {
        return Ok(None);
    };
    Ok(Some(Job {
        id,
        sighting_id: crate::query::uuid_from(&sighting)?,
        message_id: crate::query::message_id_from(&message)?,
        attempts,
    }))
}

/// Claims up to `max` jobs (oldest unclaimed first, then expired leases) in one statement.
pub(crate) fn try_claim_many(
    conn: &Connection,
    worker: &str,
    lease: Duration,
    now: Timestamp,
    max: usize,
) -> Result<Vec<Job>> {
    let now = unix_nanos(now);
    let until = lease_end(now, lease);
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "UPDATE jobs SET lease_until = ?1, worker = ?2, attempts = attempts + 1
         WHERE id IN (SELECT id FROM jobs WHERE lease_until <= ?3
                      ORDER BY lease_until, id LIMIT ?4)
         RETURNING id, sighting_id, message_id, attempts",
    )?;
    let rows = stmt
        .query_map((until, worker, now, max), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Vec<u8>>(1)?,
                r.get::<_, Vec<u8>>(2)?,
                r.get::<_, u32>(3)?,
            ))
        })?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let mut jobs = rows
        .into_iter()
        .map(|(id, sighting, message, attempts)| {
            Ok(Job {
                id,
                sighting_id: crate::query::uuid_from(&sighting)?,
                message_id: crate::query::message_id_from(&message)?,
                attempts,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// Removes a finished job; returns whether it was still there. Completing an unknown (already
/// completed) job is not an error.
pub(crate) fn complete(conn: &Connection, job_id: i64) -> Result<bool> {
    let deleted = conn
        .prepare_cached("DELETE FROM jobs WHERE id = ?1")?
        .execute([job_id])?;
    Ok(deleted > 0)
}

/// Pending (unfinished) jobs, claimed or not, counted (not on the hot path: the writer keeps
/// the in-memory count `Shared::pending_jobs` that [`crate::Store::pressure`] reads).
pub(crate) fn depth(conn: &Connection) -> Result<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM jobs")?
        .query_row([], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The highest job id ever handed out (schema v3): new jobs get the ids after it.
pub(crate) fn last_id(conn: &Connection) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT value FROM counters WHERE name = 'last_job_id'")?
        .query_row([], |r| r.get(0))?)
}

/// Advances the job-id high-water mark to `id` (never backwards).
pub(crate) fn set_last_id(conn: &Connection, id: i64) -> Result<()> {
    conn.prepare_cached("UPDATE counters SET value = max(value, ?1) WHERE name = 'last_job_id'")?
        .execute([id])?;
    Ok(())
}
