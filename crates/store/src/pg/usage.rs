//! PostgreSQL counterpart of `crate::usage`.

use crate::error::Result;
use crate::usage::MAX_COUNTED_JOBS;
use postgres::GenericClient;

/// Pending analysis jobs, counted up to [`MAX_COUNTED_JOBS`].
pub(crate) fn job_count(c: &mut impl GenericClient) -> Result<u64> {
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM (SELECT 1 FROM jobs LIMIT $1) AS j",
            &[&(MAX_COUNTED_JOBS as i64)],
        )?
        .get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}
