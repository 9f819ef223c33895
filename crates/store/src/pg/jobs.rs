//! PostgreSQL counterpart of `crate::jobs`: the analysis queue shared by every collector.
//!
//! Same order as the SQLite queue (oldest unclaimed first, then expired leases: `lease_until,
//! id`, with a lease that ends exactly now claimable). SQLite serialises claims with its write
//! lock; here the candidate rows are locked `FOR UPDATE SKIP LOCKED`, so workers of several
//! collectors claiming at once each take different jobs without waiting for each other.

use super::prepared::Conn;
use crate::RawLookup;
use crate::error::{Result, StoreError};
use crate::jobs::{Claimed, Job};
use crate::query::{message_id_from, parse_json, uuid_from};
use crate::{Timestamp, unix_nanos};
use postgres::GenericClient;
use std::time::Duration;

/// Claims the oldest unclaimed job, or else the oldest whose lease expired.
pub(crate) fn try_claim(
    c: &mut Conn,
    worker: &str,
    lease: Duration,
    now: Timestamp,
) -> Result<Option<Job>> {
    Ok(try_claim_many(c, worker, lease, now, 1)?.pop())
}

/// The claim: `$1` the lease's end, `$2` the lease holder, `$3` now, `$4` jobs at most. Both
/// claims below use it, so their order and lease rule cannot drift apart.
macro_rules! claim {
    () => {
        "UPDATE jobs SET lease_until = $1, worker = $2, attempts = attempts + 1
         WHERE id IN (SELECT id FROM jobs WHERE lease_until <= $3
                      ORDER BY lease_until, id LIMIT $4
                      FOR UPDATE SKIP LOCKED)
         RETURNING id, sighting_id, message_id, attempts"
    };
}

/// [`try_claim_many`]'s statement.
const CLAIM: &str = claim!();

/// [`claim_messages`]' statement: the claim, then each job's sighting and blob.
const CLAIM_MESSAGES: &str = concat!(
    "WITH claimed AS (",
    claim!(),
    ") SELECT c.id, c.sighting_id, c.message_id, c.attempts, s.json, b.sha256 IS NOT NULL,
            b.raw
     FROM claimed c LEFT JOIN sightings s ON s.id = c.sighting_id
     LEFT JOIN blobs b ON b.sha256 = c.message_id
     ORDER BY c.id"
);

/// Claims up to `max` jobs in one statement; returned by id.
pub(crate) fn try_claim_many(
    c: &mut Conn,
    worker: &str,
    lease: Duration,
    now: Timestamp,
    max: usize,
) -> Result<Vec<Job>> {
    let now = unix_nanos(now);
    let until = crate::jobs::lease_end(now, lease);
    let rows = c.query(CLAIM, &[&until, &worker, &now, &super::big(max)])?;
    let mut jobs = rows.iter().map(job).collect::<Result<Vec<_>>>()?;
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// Claims up to `max` jobs as [`try_claim_many`] does, with each job's sighting and raw
/// message, in one statement; by job id.
pub(crate) fn claim_messages(
    c: &mut Conn,
    worker: &str,
    lease: Duration,
    now: Timestamp,
    max: usize,
) -> Result<Vec<Claimed>> {
    let now = unix_nanos(now);
    let until = crate::jobs::lease_end(now, lease);
    let rows = c.query(CLAIM_MESSAGES, &[&until, &worker, &now, &super::big(max)])?;
    rows.iter()
        .map(|r| {
            let job = job(r)?;
            let sighting = r
                .try_get::<_, Option<&str>>(4)?
                .map(|j| parse_json(j, "sighting"))
                .transpose()?;
            let raw = if r.try_get(5)? {
                super::query::raw_found(&job.message_id, r.try_get(6)?)?
            } else {
                RawLookup::Unknown
            };
            Ok(Claimed { job, sighting, raw })
        })
        .collect()
}

/// The job of a row that starts with `id, sighting_id, message_id, attempts`.
fn job(r: &postgres::Row) -> Result<Job> {
    let attempts: i64 = r.try_get(3)?;
    Ok(Job {
        id: r.try_get(0)?,
        sighting_id: uuid_from(r.try_get(1)?)?,
        message_id: message_id_from(r.try_get(2)?)?,
        attempts: u32::try_from(attempts)
            .map_err(|_| StoreError::corrupt(format!("a job has {attempts} attempts")))?,
    })
}

/// Gives back jobs leased to `worker` and not analysed: claimable at once, the attempt that
/// never ran not counted. Returns how many.
pub(crate) fn release(c: &mut Conn, ids: &[i64], worker: &str) -> Result<usize> {
    let n = c.execute(RELEASE, &[&ids, &worker])?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// [`release`]'s statement: `$1` the job ids, `$2` the lease holder.
pub(crate) const RELEASE: &str = "
    UPDATE jobs SET lease_until = 0, worker = NULL, attempts = greatest(attempts - 1, 0)
    WHERE id = ANY($1) AND worker = $2";

/// Removes a finished job; returns whether it was still there.
pub(crate) fn complete(c: &mut Conn, job_id: i64) -> Result<bool> {
    Ok(c.execute("DELETE FROM jobs WHERE id = $1", &[&job_id])? > 0)
}

/// Pending jobs, claimed or not, counted.
pub(crate) fn depth(c: &mut impl GenericClient) -> Result<u64> {
    let n: i64 = c.query_one("SELECT count(*) FROM jobs", &[])?.try_get(0)?;
    Ok(super::query::count(n))
}
