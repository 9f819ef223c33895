//! PostgreSQL counterpart of `crate::jobs`: the analysis queue shared by every collector.
//!
//! Same order as the SQLite queue (oldest unclaimed first, then expired leases: `lease_until,
//! id`, with a lease that ends exactly now claimable). SQLite serialises claims with its write
//! lock; here the candidate rows are locked `FOR UPDATE SKIP LOCKED`, so workers of several
//! collectors claiming at once each take different jobs without waiting for each other.

use super::prepared::Conn;
use crate::error::{Result, StoreError};
use crate::jobs::Job;
use crate::query::{message_id_from, uuid_from};
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

/// Claims up to `max` jobs in one statement; returned by id.
pub(crate) fn try_claim_many(
    c: &mut Conn,
    worker: &str,
    lease: Duration,
    now: Timestamp,
    max: usize,
) -> Result<Vec<Job>> {
    let now = unix_nanos(now);
    let until = now.saturating_add(i64::try_from(lease.as_nanos()).unwrap_or(i64::MAX));
    let rows = c.query(
        "UPDATE jobs SET lease_until = $1, worker = $2, attempts = attempts + 1
         WHERE id IN (SELECT id FROM jobs WHERE lease_until <= $3
                      ORDER BY lease_until, id LIMIT $4
                      FOR UPDATE SKIP LOCKED)
         RETURNING id, sighting_id, message_id, attempts",
        &[&until, &worker, &now, &super::big(max)],
    )?;
    let mut jobs = rows
        .iter()
        .map(|r| {
            let attempts: i64 = r.try_get(3)?;
            Ok(Job {
                id: r.try_get(0)?,
                sighting_id: uuid_from(r.try_get(1)?)?,
                message_id: message_id_from(r.try_get(2)?)?,
                attempts: u32::try_from(attempts)
                    .map_err(|_| StoreError::corrupt(format!("a job has {attempts} attempts")))?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    jobs.sort_by_key(|j| j.id);
    Ok(jobs)
}

/// Removes a finished job; returns whether it was still there.
pub(crate) fn complete(c: &mut Conn, job_id: i64) -> Result<bool> {
    Ok(c.execute("DELETE FROM jobs WHERE id = $1", &[&job_id])? > 0)
}

/// Pending jobs, claimed or not, counted.
pub(crate) fn depth(c: &mut impl GenericClient) -> Result<u64> {
    let n: i64 = c.query_one("SELECT count(*) FROM jobs", &[])?.try_get(0)?;
    Ok(super::query::count(n))
}
