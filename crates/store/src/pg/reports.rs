//! PostgreSQL counterpart of `crate::reports`: reports, the indicator index, requeue.
//!
//! Same rules as the SQLite module (read its doc comment): one report per sighting, indicator
//! first/last seen from the sighting's arrival, exact distinct-sighting counts across
//! re-analysis, `changed_at` moved only when what a feed says changes.
//!
//! A report's indicators are written with arrays (one upsert, one link insert, one unlink per
//! report) instead of SQLite's statement per indicator: a report may carry 5,000 of them and
//! each statement here is a network round trip. Within one report an indicator is upserted
//! once (a repeated kind and value is the same row, and an upsert may not touch a row twice),
//! in (kind, value) order, so concurrent saves lock rows in one order.
//!
//! PostgreSQL `TEXT` cannot hold a NUL character: an indicator value containing one (a file
//! name decoded from a hostile header, say) is left out of the index (it stays in the report
//! JSON, where JSON escapes it), instead of failing the whole save and leaving its job to be
//! retried forever. Looking such a value up finds nothing.

use super::prepared::{Conn, Tx};
use crate::error::Result;
use crate::query::{from_nanos, parse_json, uuid_from};
use crate::reports::{IndicatorQuery, IndicatorRecord, ReportSave};
use crate::{Timestamp, unix_nanos};
use model::report::{IndicatorKind, Report};
use model::{MessageId, Sighting};
use postgres::{Client, GenericClient, Row};

/// This module's tables (part of schema version 1, see `schema.rs`): SQLite's versions 5 and 7
/// for reports and indicators, with `reports.campaign` (clustering, `campaigns.rs`).
/// Indicator values are bounded by the analysis (2,048 bytes), below the B-tree entry limit
/// (about 2,700 bytes) of the unique `(kind, value)` index.
pub(crate) const DDL: &str = "
    CREATE TABLE reports (
        seq         BIGSERIAL PRIMARY KEY,
        sighting_id BYTEA NOT NULL UNIQUE,
        message_id  BYTEA NOT NULL,
        received_at BIGINT NOT NULL,   -- the sighting's, unix nanoseconds
        analyzed_at BIGINT NOT NULL,
        engine      TEXT NOT NULL,
        class       TEXT NOT NULL,     -- verdict.class
        score       BIGINT NOT NULL,
        json        TEXT NOT NULL,     -- the full model::Report
        campaign    BIGINT             -- campaigns.id; NULL until clustered
    );
    CREATE INDEX reports_by_time ON reports(received_at);
    -- With the time: `report_for_message` wants a message's newest report.
    CREATE INDEX reports_by_message ON reports(message_id, received_at);
    CREATE INDEX reports_unclustered ON reports(seq) WHERE campaign IS NULL;
    CREATE INDEX reports_by_campaign ON reports(campaign, received_at);

    CREATE TABLE indicators (
        id         BIGSERIAL PRIMARY KEY,
        kind       TEXT NOT NULL,      -- url | domain | ip | email | md5 | sha1 | sha256 | ...
        value      TEXT NOT NULL,
        first_seen BIGINT NOT NULL,    -- earliest sighting, unix nanoseconds
        last_seen  BIGINT NOT NULL,
        count      BIGINT NOT NULL,    -- distinct sightings
        uuid       BYTEA NOT NULL,     -- random v4, last 4 bits 0 (STIX id)
        campaign   BIGINT,             -- first campaign it was seen in
        changed_at BIGINT NOT NULL DEFAULT 0,  -- change clock (intel.rs)
        detail     TEXT                -- model::intel::FileFacts JSON (sha256)
    );
    CREATE UNIQUE INDEX indicators_by_value ON indicators(kind, value);
    CREATE INDEX indicators_by_last_seen ON indicators(last_seen);
    CREATE UNIQUE INDEX indicators_by_uuid ON indicators(uuid);
    CREATE INDEX indicators_by_change ON indicators(changed_at, id);
    CREATE INDEX indicators_by_campaign ON indicators(campaign, changed_at);

    CREATE TABLE indicator_sightings (
        indicator BIGINT NOT NULL,     -- indicators.id
        sighting  BYTEA NOT NULL,      -- sightings.id
        PRIMARY KEY (indicator, sighting)
    );
    CREATE INDEX indicator_sightings_by_sighting ON indicator_sightings(sighting);
";

/// Saves a batch of reports in one transaction, completing their jobs; returns the jobs
/// completed. The steps are the SQLite save's; their order differs (see below).
///
/// First reports (nearly all) are saved together, a statement per table for the batch
/// (`first_reports.rs`); a report replacing an earlier one takes the per-report path below,
/// which also takes back what the earlier report counted.
///
/// The feeds' clock is taken as late as it can be: after the first reports' rows, before their
/// indicators (the first rows a `changed_at` stamp or the clustering step touches), so the
/// clustering step, which holds the clock for its whole transaction, waits only for the end
/// of a save. Saves lock rows before the clock that another collector's save may lock after
/// it (a re-analysis, which runs under the clock); PostgreSQL then aborts one of them as a
/// deadlock, and the batch is saved again (at most [`super::writer::BATCH_ATTEMPTS`] times).
pub(crate) fn save(c: &mut Conn, batch: &[ReportSave<'_>], now: Timestamp) -> Result<u64> {
    let mut attempt = 1;
    loop {
        match save_once(c, batch, now) {
            Err(e) if attempt < super::writer::BATCH_ATTEMPTS && super::writer::lost_a_race(&e) => {
                tracing::debug!(error = %e, attempt, "report save lost a race; saving again");
                attempt += 1;
            }
            done => return done,
        }
    }
}

fn save_once(c: &mut Conn, batch: &[ReportSave<'_>], now: Timestamp) -> Result<u64> {
    let mut tx = c.transaction()?;
    let now = unix_nanos(now);
    let (first, again) = first_reports(&mut tx, batch)?;
    super::first_reports::save(&mut tx, &first, now)?;
    let changed = super::intel::clock_prepared(&mut tx, now)?;
    let reports: Vec<_> = first
        .iter()
        .map(|f| (f.item.sighting, f.item.report))
        .collect();
    super::first_reports::indicators(&mut tx, &reports, changed)?;
    for item in again {
        let sid = item.sighting.id.as_bytes().as_slice();
        let received = unix_nanos(item.sighting.received_at);
        let reanalysis = super::search::index_report(&mut tx, item.sighting, item.report)?;
        let json = serde_json::to_string(item.report)
            .map_err(|e| crate::StoreError::corrupt(format!("report JSON: {e}")))?;
        let seq: i64 = tx
            .query_one(
                "INSERT INTO reports (sighting_id, message_id, received_at, analyzed_at, engine,
                                      class, score, json)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (sighting_id) DO UPDATE SET analyzed_at = excluded.analyzed_at,
                     engine = excluded.engine, class = excluded.class, score = excluded.score,
                     json = excluded.json
                 RETURNING seq",
                &[
                    &sid,
                    &item.report.message_id.as_bytes().as_slice(),
                    &received,
                    &now,
                    &item.report.engine,
                    &item.report.verdict.class.as_str(),
                    &i64::from(item.report.verdict.score),
                    &json,
                ],
            )?
            .try_get(0)?;
        super::attribution::attribute(&mut tx, item.sighting)?;
        super::domains::index_report(&mut tx, item.sighting, seq)?;
        index_indicators(&mut tx, item.sighting, item.report, changed, reanalysis)?;
    }
    // The batch's jobs in one statement.
    let jobs: Vec<i64> = batch.iter().filter_map(|item| item.job).collect();
    let completed = if jobs.is_empty() {
        0
    } else {
        tx.execute("DELETE FROM jobs WHERE id = ANY($1)", &[&jobs])?
    };
    tx.commit()?;
    Ok(completed)
}

/// Splits a batch into first reports of stored sightings, each sighting once (with its
/// `sightings.seq`), and the rest. The batch's sightings are locked first, in id order, so a
/// concurrent save of the same sighting (another collector, an expired lease) waits for this
/// one and then finds its report; the reports are read by a statement of their own, after the
/// lock, so that such a wait ends seeing the report that was committed meanwhile.
fn first_reports<'s, 'r>(
    tx: &mut Tx<'_>,
    batch: &'s [ReportSave<'r>],
) -> Result<(
    Vec<super::first_reports::First<'s, 'r>>,
    Vec<&'s ReportSave<'r>>,
)> {
    let mut times: std::collections::BTreeMap<&[u8], usize> = std::collections::BTreeMap::new();
    for item in batch {
        *times
            .entry(item.sighting.id.as_bytes().as_slice())
            .or_default() += 1;
    }
    let ids: Vec<&[u8]> = times.keys().copied().collect();
    let mut seqs: std::collections::HashMap<Vec<u8>, i64> = tx
        .query(
            "SELECT id, seq FROM sightings WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE",
            &[&ids],
        )?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_>>()?;
    for r in tx.query(
        "SELECT sighting_id FROM reports WHERE sighting_id = ANY($1)",
        &[&ids],
    )? {
        let reported: Vec<u8> = r.try_get(0)?;
        seqs.remove(&reported);
    }
    let mut first = Vec::with_capacity(batch.len());
    let mut again = Vec::new();
    for item in batch {
        let id = item.sighting.id.as_bytes().as_slice();
        match seqs.get(id) {
            Some(seq) if times.get(id) == Some(&1) => first.push(super::first_reports::First {
                item,
                sighting_seq: *seq,
            }),
            _ => again.push(item),
        }
    }
    Ok((first, again))
}

/// Indexes the indicators of one report (the batched save's upsert and links, for one), then
/// unlinks (uncounts) the ones a previous analysis found and this one did not.
fn index_indicators(
    tx: &mut Tx<'_>,
    sighting: &Sighting,
    report: &Report,
    changed: i64,
    reanalysis: bool,
) -> Result<()> {
    let ids = super::first_reports::indicators(tx, &[(sighting, report)], changed)?;
    // A first report has no links to take back.
    if !reanalysis {
        return Ok(());
    }
    tx.execute(
        "WITH gone AS (
             DELETE FROM indicator_sightings
             WHERE sighting = $1 AND NOT (indicator = ANY($2::int8[]))
             RETURNING indicator)
         UPDATE indicators SET count = count - 1
         WHERE id IN (SELECT indicator FROM gone)",
        &[&sighting.id.as_bytes().as_slice(), &ids],
    )?;
    Ok(())
}

/// The report of one sighting.
pub(crate) fn by_sighting(
    c: &mut impl GenericClient,
    sighting: uuid::Uuid,
) -> Result<Option<Report>> {
    let row = c.query_opt(
        "SELECT json FROM reports WHERE sighting_id = $1",
        &[&sighting.as_bytes().as_slice()],
    )?;
    row.map(|r| parse_json(r.try_get(0)?, "report")).transpose()
}

/// The newest report of a message (any of its sightings).
pub(crate) fn by_message(
    c: &mut impl GenericClient,
    message: &MessageId,
) -> Result<Option<Report>> {
    let row = c.query_opt(
        "SELECT json FROM reports WHERE message_id = $1 ORDER BY received_at DESC LIMIT 1",
        &[&message.as_bytes().as_slice()],
    )?;
    row.map(|r| parse_json(r.try_get(0)?, "report")).transpose()
}

/// An indicator's columns and its newest sightings (up to `$n`, the statement's last
/// parameter) in one row: one round trip per listing, not one per indicator.
const RECORD: &str = "SELECT i.kind, i.value, i.first_seen, i.last_seen, i.count,
        ARRAY(SELECT l.sighting FROM indicator_sightings l JOIN sightings s ON s.id = l.sighting
              WHERE l.indicator = i.id
              ORDER BY s.received_at DESC, l.sighting DESC LIMIT $n)
    FROM indicators i";

/// Indicators matching `q`, most recently seen first.
pub(crate) fn indicators(
    c: &mut impl GenericClient,
    q: &IndicatorQuery,
) -> Result<Vec<IndicatorRecord>> {
    let sql = format!(
        "{} WHERE ($1::text IS NULL OR i.kind = $1) AND i.last_seen >= $2
         ORDER BY i.last_seen DESC, i.id DESC LIMIT $3",
        RECORD.replace("$n", "$4")
    );
    let since = q.since.map(unix_nanos).unwrap_or(i64::MIN);
    let rows = c.query(
        &sql,
        &[
            &q.kind.map(|k| k.as_str()),
            &since,
            &super::big(q.limit),
            &super::big(q.sightings_per_indicator),
        ],
    )?;
    rows.iter().map(record).collect()
}

/// One indicator by kind and value.
pub(crate) fn indicator(
    c: &mut impl GenericClient,
    kind: IndicatorKind,
    value: &str,
    sightings: usize,
) -> Result<Option<IndicatorRecord>> {
    if value.contains('\0') {
        return Ok(None);
    }
    let sql = format!(
        "{} WHERE i.kind = $1 AND i.value = $2",
        RECORD.replace("$n", "$3")
    );
    let row = c.query_opt(&sql, &[&kind.as_str(), &value, &super::big(sightings)])?;
    row.as_ref().map(record).transpose()
}

fn record(r: &Row) -> Result<IndicatorRecord> {
    let sightings: Vec<&[u8]> = r.try_get(5)?;
    Ok(IndicatorRecord {
        kind: r.try_get(0)?,
        value: r.try_get(1)?,
        first_seen: from_nanos(r.try_get(2)?)?,
        last_seen: from_nanos(r.try_get(3)?)?,
        count: super::query::count(r.try_get(4)?),
        sightings: sightings
            .into_iter()
            .map(uuid_from)
            .collect::<Result<_>>()?,
    })
}

/// Queues analysis again for the sightings received since `since` (all when `None`) whose raw
/// bytes are still stored and that have no pending job. Returns the jobs created. Job ids come
/// from the sequence, in sighting order, so they are never reused.
pub(crate) fn requeue(c: &mut Client, since: Option<Timestamp>, now: Timestamp) -> Result<u64> {
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&super::LOCK_REQUEUE])?;
    let since = since.map(unix_nanos).unwrap_or(i64::MIN);
    let added = tx.execute(
        "INSERT INTO jobs (sighting_id, message_id, created_at)
         SELECT s.id, s.message_id, $1
         FROM sightings s JOIN blobs b ON b.sha256 = s.message_id
         WHERE s.received_at >= $2 AND b.raw IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.sighting_id = s.id)
         ORDER BY s.seq",
        &[&unix_nanos(now), &since],
    )?;
    tx.commit()?;
    Ok(added)
}

/// Reports by verdict class, ordered by class bytes (`COLLATE "C"`) like SQLite's `BINARY`.
pub(crate) fn class_counts(c: &mut impl GenericClient) -> Result<Vec<(String, u64)>> {
    c.query(
        "SELECT class, count(*) FROM reports GROUP BY class ORDER BY class COLLATE \"C\"",
        &[],
    )?
    .iter()
    .map(|r| Ok((r.try_get(0)?, super::query::count(r.try_get(1)?))))
    .collect()
}
