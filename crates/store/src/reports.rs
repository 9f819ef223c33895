//! Analysis reports and the indicator index (schema v5; feed columns v7, see `intel.rs`).
//!
//! One report per sighting (authentication depends on the arrival, not only on the bytes).
//! Every indicator of a report is upserted into `indicators` with first/last seen (the
//! sighting's arrival time, not the analysis time, so a re-analysis does not move them) and a
//! count of distinct sightings, and linked to the sighting in `indicator_sightings`. Saving a
//! report again (re-analysis) replaces the report and its links and keeps the counts exact.
//! Trap addresses are inside the report JSON (`trap_addresses`) and never in the index.

use crate::error::Result;
use crate::query::{from_nanos, parse_json, uuid_from};
use crate::{Timestamp, unix_nanos};
use model::report::{IndicatorKind, Report};
use model::{MessageId, Sighting};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

/// One report to save, with the job it completes (none for `spamhattan analyze --store`-like
/// callers and re-analysis without a job).
#[derive(Debug)]
pub struct ReportSave<'a> {
    pub job: Option<i64>,
    pub sighting: &'a Sighting,
    pub report: &'a Report,
}

/// An indicator with its index statistics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndicatorRecord {
    pub kind: String,
    pub value: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: Timestamp,
    /// Distinct sightings it appeared in.
    pub count: u64,
    /// Sightings it appeared in, newest first (bounded by the query).
    pub sightings: Vec<uuid::Uuid>,
}

/// Which indicators to list.
#[derive(Debug, Clone, Default)]
pub struct IndicatorQuery {
    pub kind: Option<IndicatorKind>,
    /// Only indicators seen at or after this time.
    pub since: Option<Timestamp>,
    pub limit: usize,
    /// Sightings listed per indicator.
    pub sightings_per_indicator: usize,
}

/// Saves a batch of reports in one transaction, completing their jobs.
pub(crate) fn save(conn: &mut Connection, batch: &[ReportSave<'_>], now: Timestamp) -> Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = unix_nanos(now);
    let mut completed = 0;
    {
        let mut put = tx.prepare_cached(
            "INSERT INTO reports (sighting_id, message_id, received_at, analyzed_at, engine, class,
                                  score, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT(sighting_id) DO UPDATE SET analyzed_at = ?4, engine = ?5, class = ?6,
                                                    score = ?7, json = ?8",
        )?;
        let mut old_links =
            tx.prepare_cached("SELECT indicator FROM indicator_sightings WHERE sighting = ?1")?;
        let mut unlink = tx.prepare_cached(
            "DELETE FROM indicator_sightings WHERE sighting = ?1 AND indicator = ?2",
        )?;
        let mut uncount =
            tx.prepare_cached("UPDATE indicators SET count = count - 1 WHERE id = ?1")?;
        // `changed_at` moves only when what a feed says changes (first or last seen, file
        // facts); a re-analysis of an old sighting leaves it alone.
        let changed = crate::intel::clock(&tx, now)?;
        let mut upsert = tx.prepare_cached(
            "INSERT INTO indicators (kind, value, first_seen, last_seen, count, uuid, changed_at,
                                     detail)
             VALUES (?1, ?2, ?3, ?3, 0, ?4, ?5, ?6)
             ON CONFLICT(kind, value) DO UPDATE SET
                 first_seen = min(first_seen, ?3),
                 last_seen = max(last_seen, ?3),
                 changed_at = CASE WHEN ?3 < first_seen OR ?3 > last_seen
                                     OR (detail IS NULL AND ?6 IS NOT NULL)
                              THEN ?5 ELSE changed_at END,
                 detail = coalesce(detail, ?6)
             RETURNING id",
        )?;
        let mut link = tx.prepare_cached(
            "INSERT OR IGNORE INTO indicator_sightings (indicator, sighting) VALUES (?1, ?2)",
        )?;
        let mut count =
            tx.prepare_cached("UPDATE indicators SET count = count + 1 WHERE id = ?1")?;
        let mut done = tx.prepare_cached("DELETE FROM jobs WHERE id = ?1")?;
        for item in batch {
            let sid = item.sighting.id.as_bytes().to_vec();
            let received = unix_nanos(item.sighting.received_at);
            crate::search::index_report(&tx, item.sighting, item.report)?;
            let json = serde_json::to_string(item.report)
                .map_err(|e| crate::StoreError::corrupt(format!("report JSON: {e}")))?;
            put.execute((
                &sid,
                item.report.message_id.as_bytes().to_vec(),
                received,
                now,
                &item.report.engine,
                item.report.verdict.class.as_str(),
                item.report.verdict.score,
                json,
            ))?;
            crate::attribution::attribute(&tx, item.sighting)?;
            crate::domains::index_report(&tx, item.sighting)?;
            let mut new_ids = Vec::with_capacity(item.report.indicators.len());
            for ind in &item.report.indicators {
                let detail = match ind.kind {
                    IndicatorKind::Sha256 => crate::intel::file_facts(item.report, &ind.value),
                    _ => None,
                };
                let uuid = crate::intel::new_indicator_uuid();
                let id: i64 = upsert.query_row(
                    (
                        ind.kind.as_str(),
                        &ind.value,
                        received,
                        uuid.as_bytes().to_vec(),
                        changed,
                        detail,
                    ),
                    |r| r.get(0),
                )?;
                if link.execute((id, &sid))? == 1 {
                    count.execute([id])?;
                }
                new_ids.push(id);
            }
            new_ids.sort_unstable();
            let old: Vec<i64> = old_links
                .query_map([&sid], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            for id in old {
                if new_ids.binary_search(&id).is_err() {
                    unlink.execute((&sid, id))?;
                    uncount.execute([id])?;
                }
            }
            if let Some(job) = item.job {
                completed += done.execute([job])? as u64;
            }
        }
    }
    tx.commit()?;
    Ok(completed)
}

/// The report of one sighting.
pub(crate) fn by_sighting(conn: &Connection, sighting: uuid::Uuid) -> Result<Option<Report>> {
    let json: Option<String> = conn
        .prepare_cached("SELECT json FROM reports WHERE sighting_id = ?1")?
        .query_row([sighting.as_bytes().to_vec()], |r| r.get(0))
        .optional()?;
    json.map(|j| parse_json(&j, "report")).transpose()
}

/// The newest report of a message (any of its sightings).
pub(crate) fn by_message(conn: &Connection, message: &MessageId) -> Result<Option<Report>> {
    let json: Option<String> = conn
        .prepare_cached(
            "SELECT json FROM reports WHERE message_id = ?1 ORDER BY received_at DESC LIMIT 1",
        )?
        .query_row([message.as_bytes().to_vec()], |r| r.get(0))
        .optional()?;
    json.map(|j| parse_json(&j, "report")).transpose()
}

/// Indicators matching `q`, most recently seen first.
pub(crate) fn indicators(conn: &Connection, q: &IndicatorQuery) -> Result<Vec<IndicatorRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, kind, value, first_seen, last_seen, count FROM indicators
         WHERE (?1 IS NULL OR kind = ?1) AND last_seen >= ?2
         ORDER BY last_seen DESC, id DESC LIMIT ?3",
    )?;
    let since = q.since.map(unix_nanos).unwrap_or(i64::MIN);
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
    let rows = stmt
        .query_map((q.kind.map(|k| k.as_str()), since, limit), row)?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|r| record(conn, r, q.sightings_per_indicator))
        .collect()
}

/// One indicator by kind and value.
pub(crate) fn indicator(
    conn: &Connection,
    kind: IndicatorKind,
    value: &str,
    sightings: usize,
) -> Result<Option<IndicatorRecord>> {
    let r = conn
        .prepare_cached(
            "SELECT id, kind, value, first_seen, last_seen, count FROM indicators
             WHERE kind = ?1 AND value = ?2",
        )?
        .query_row((kind.as_str(), value), row)
        .optional()?;
    r.map(|r| record(conn, r, sightings)).transpose()
}

type Row = (i64, String, String, i64, i64, i64);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn record(conn: &Connection, r: Row, sightings: usize) -> Result<IndicatorRecord> {
    let (id, kind, value, first, last, count) = r;
    let ids: Vec<Vec<u8>> = conn
        .prepare_cached(
            "SELECT l.sighting FROM indicator_sightings l JOIN sightings s ON s.id = l.sighting
             WHERE l.indicator = ?1 ORDER BY s.received_at DESC LIMIT ?2",
        )?
        .query_map((id, i64::try_from(sightings).unwrap_or(i64::MAX)), |r| {
            r.get(0)
        })?
        .collect::<std::result::Result<_, _>>()?;
    Ok(IndicatorRecord {
        kind,
        value,
        first_seen: from_nanos(first)?,
        last_seen: from_nanos(last)?,
        count: u64::try_from(count).unwrap_or(0),
        sightings: ids.iter().map(|b| uuid_from(b)).collect::<Result<_>>()?,
    })
}

/// Queues analysis again for the sightings received since `since` (all when `None`) whose raw
/// bytes are still stored and that have no pending job. Returns the jobs created.
pub(crate) fn requeue(
    conn: &mut Connection,
    since: Option<Timestamp>,
    now: Timestamp,
) -> Result<u64> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let last = crate::jobs::last_id(&tx)?;
    let since = since.map(unix_nanos).unwrap_or(i64::MIN);
    let added = tx.execute(
        "INSERT INTO jobs (id, sighting_id, message_id, created_at)
         SELECT ?1 + row_number() OVER (ORDER BY s.seq), s.id, s.message_id, ?2
         FROM sightings s JOIN blobs b ON b.id = s.blob
         WHERE s.received_at >= ?3 AND b.segment IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.sighting_id = s.id)",
        (last, unix_nanos(now), since),
    )?;
    let added = added as i64;
    crate::jobs::set_last_id(&tx, last + added)?;
    tx.commit()?;
    Ok(added as u64)
}

/// Counts for `store stats`: reports by verdict class.
pub(crate) fn class_counts(conn: &Connection) -> Result<Vec<(String, u64)>> {
    let mut stmt =
        conn.prepare_cached("SELECT class, count(*) FROM reports GROUP BY class ORDER BY class")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?
        .map(|r| r.map(|(c, n)| (c, u64::try_from(n).unwrap_or(0))))
        .collect::<std::result::Result<_, _>>()?;
    Ok(rows)
}
