//! PostgreSQL counterpart of `crate::campaign_read`: campaign records, lists, members, merge
//! history, labels. Generic over the client so the clustering transaction reads its own writes
//! (`CampaignTx::campaign`) with the same code as the console.

use super::big;
use super::prepared::Statements;
use crate::campaign_read::{CampaignQuery, FACET_VALUES_SHOWN, Member};
use crate::campaigns::{MAX_RATE_POINTS, class_of, status, to_facet, uuid_col};
use crate::error::Result;
use crate::query::{from_nanos, message_id_from};
use crate::{Timestamp, unix_nanos};
use model::Campaign;
use model::campaign::{CampaignId, CampaignMerge, FacetValue, RatePoint};
use postgres::Row;
use std::collections::BTreeMap;

/// This module's tables (part of schema version 1, see `schema.rs`): none, it reads those of
/// `campaigns.rs`.
pub(crate) const DDL: &str = "";

const HEAD: &str = "SELECT id, uuid, first_seen, last_seen, messages, verdict, label, notes,
                    merged_into FROM campaigns";

/// One campaign's record at `now`, with up to [`FACET_VALUES_SHOWN`] values per facet. One
/// statement (the clustering step reads the record after every message it places): the head
/// row with its facets, distinct counts and rate as arrays.
pub(crate) fn campaign(
    c: &mut impl Statements,
    id: CampaignId,
    now: Timestamp,
) -> Result<Option<Campaign>> {
    let row = c.query_opt(ONE, &[&id, &big(FACET_VALUES_SHOWN), &rate_since(now)])?;
    let Some(r) = row else { return Ok(None) };
    let mut facets: BTreeMap<String, Vec<FacetValue>> = BTreeMap::new();
    let names: Vec<String> = r.try_get(9)?;
    let values: Vec<String> = r.try_get(10)?;
    let counts: Vec<i64> = r.try_get(11)?;
    let firsts: Vec<i64> = r.try_get(12)?;
    let lasts: Vec<i64> = r.try_get(13)?;
    for (i, name) in names.into_iter().enumerate() {
        let at = |v: &[i64]| v.get(i).copied().unwrap_or(0);
        let v = (
            values.get(i).cloned().unwrap_or_default(),
            u64::try_from(at(&counts)).unwrap_or(0),
            at(&firsts),
            at(&lasts),
        );
        facets.entry(name).or_default().push(to_facet(v)?);
    }
    let d_names: Vec<String> = r.try_get(14)?;
    let d_counts: Vec<i64> = r.try_get(15)?;
    let distinct = d_names
        .into_iter()
        .zip(d_counts)
        .map(|(f, n)| (f, u64::try_from(n).unwrap_or(0)))
        .collect();
    let hours: Vec<i64> = r.try_get(16)?;
    let messages: Vec<i64> = r.try_get(17)?;
    let rate = hours
        .into_iter()
        .zip(messages)
        .map(|(h, n)| rate_point(h, n))
        .collect::<Result<_>>()?;
    head(&r, now, facets, distinct, rate).map(Some)
}

/// [`campaign`]'s statement: `$1` the id, `$2` values shown per facet, `$3` the rate's first
/// hour. Arrays come out empty, not NULL, when there is nothing to aggregate.
const ONE: &str = "
    SELECT c.id, c.uuid, c.first_seen, c.last_seen, c.messages, c.verdict, c.label, c.notes,
           c.merged_into,
           coalesce(f.facets, '{}'), coalesce(f.vals, '{}'), coalesce(f.counts, '{}'),
           coalesce(f.firsts, '{}'), coalesce(f.lasts, '{}'),
           coalesce(d.facets, '{}'), coalesce(d.ns, '{}'),
           coalesce(r.hours, '{}'), coalesce(r.msgs, '{}')
    FROM campaigns c
    LEFT JOIN LATERAL (
        SELECT array_agg(facet ORDER BY facet COLLATE \"C\", n) AS facets,
               array_agg(value ORDER BY facet COLLATE \"C\", n) AS vals,
               array_agg(count ORDER BY facet COLLATE \"C\", n) AS counts,
               array_agg(first_seen ORDER BY facet COLLATE \"C\", n) AS firsts,
               array_agg(last_seen ORDER BY facet COLLATE \"C\", n) AS lasts
        FROM (SELECT facet, value, count, first_seen, last_seen, row_number() OVER (
                  PARTITION BY facet ORDER BY count DESC, last_seen DESC, value COLLATE \"C\") AS n
              FROM campaign_facets WHERE campaign = c.id) ranked
        WHERE n <= $2) f ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(facet) AS facets, array_agg(n) AS ns
        FROM campaign_distinct WHERE campaign = c.id) d ON true
    LEFT JOIN LATERAL (
        SELECT array_agg(hour ORDER BY hour) AS hours, array_agg(messages ORDER BY hour) AS msgs
        FROM campaign_rate WHERE campaign = c.id AND hour >= $3) r ON true
    WHERE c.id = $1";

/// The record of a [`HEAD`] row: its facets, distinct counts and the last week's rate. Text
/// sorts in byte order (`COLLATE "C"`), as in SQLite, whatever the database's collation.
fn record(c: &mut impl Statements, h: &Row, now: Timestamp, shown: usize) -> Result<Campaign> {
    let id: CampaignId = h.try_get(0)?;
    let mut facets: BTreeMap<String, Vec<FacetValue>> = BTreeMap::new();
    let rows = c.query(
        "SELECT facet, value, count, first_seen, last_seen FROM (
             SELECT facet, value, count, first_seen, last_seen, row_number() OVER (
                 PARTITION BY facet ORDER BY count DESC, last_seen DESC, value COLLATE \"C\") AS n
             FROM campaign_facets WHERE campaign = $1) ranked
         WHERE n <= $2 ORDER BY facet COLLATE \"C\", n",
        &[&id, &big(shown)],
    )?;
    for r in &rows {
        let count: i64 = r.try_get(2)?;
        let v = (
            r.try_get(1)?,
            u64::try_from(count).unwrap_or(0),
            r.try_get(3)?,
            r.try_get(4)?,
        );
        facets.entry(r.try_get(0)?).or_default().push(to_facet(v)?);
    }
    let mut distinct: BTreeMap<String, u64> = BTreeMap::new();
    for r in c.query(
        "SELECT facet, n FROM campaign_distinct WHERE campaign = $1",
        &[&id],
    )? {
        let n: i64 = r.try_get(1)?;
        distinct.insert(r.try_get(0)?, u64::try_from(n).unwrap_or(0));
    }
    let rate = rate(c, id, rate_since(now))?;
    head(h, now, facets, distinct, rate)
}

/// The first hour (unix s) of the rate a record shows: [`MAX_RATE_POINTS`] hours before
/// `now`'s.
pub(crate) fn rate_since(now: Timestamp) -> i64 {
    let h = now.unix_timestamp();
    h - h.rem_euclid(3600) - i64::try_from(MAX_RATE_POINTS).unwrap_or(0) * 3600
}

/// A campaign from the [`HEAD`] columns of `h` and its parts.
fn head(
    h: &Row,
    now: Timestamp,
    facets: BTreeMap<String, Vec<FacetValue>>,
    distinct: BTreeMap<String, u64>,
    rate: Vec<RatePoint>,
) -> Result<Campaign> {
    let uuid: &[u8] = h.try_get(1)?;
    let first_seen = from_nanos(h.try_get(2)?)?;
    let last_seen = from_nanos(h.try_get(3)?)?;
    let messages: i64 = h.try_get(4)?;
    let verdict: &str = h.try_get(5)?;
    let merged_into: Option<i64> = h.try_get(8)?;
    Ok(Campaign {
        id: h.try_get(0)?,
        uuid: uuid_col(uuid)?,
        first_seen,
        last_seen,
        messages: u64::try_from(messages).unwrap_or(0),
        status: status(first_seen, last_seen, merged_into.is_some(), now),
        verdict: class_of(verdict),
        label: h.try_get(6)?,
        notes: h.try_get(7)?,
        merged_into,
        facets,
        distinct,
        rate,
    })
}

/// One hour's count: `hour` in unix seconds.
pub(crate) fn rate_point(hour: i64, messages: i64) -> Result<RatePoint> {
    Ok(RatePoint {
        hour: from_nanos(hour.saturating_mul(1_000_000_000))?,
        messages: u64::try_from(messages).unwrap_or(0),
    })
}

/// Hourly counts of a campaign (0: the trap) from the hour starting at `from_hour` (unix s).
pub(crate) fn rate(
    c: &mut impl Statements,
    id: CampaignId,
    from_hour: i64,
) -> Result<Vec<RatePoint>> {
    c.query(
        "SELECT hour, messages FROM campaign_rate WHERE campaign = $1 AND hour >= $2
         ORDER BY hour",
        &[&id, &from_hour],
    )?
    .iter()
    .map(|r| rate_point(r.try_get(0)?, r.try_get(1)?))
    .collect()
}

/// Campaigns matching `q`, most recently active first.
pub(crate) fn list(
    c: &mut impl Statements,
    q: &CampaignQuery,
    now: Timestamp,
) -> Result<Vec<Campaign>> {
    let heads = c.query(
        &format!(
            "{HEAD} WHERE last_seen >= $1 AND ($2 OR merged_into IS NULL) AND messages >= $3
             ORDER BY last_seen DESC, id DESC LIMIT $4"
        ),
        &[
            &q.since.map(unix_nanos).unwrap_or(i64::MIN),
            &q.include_merged,
            &i64::try_from(q.min_messages).unwrap_or(i64::MAX),
            &big(q.limit),
        ],
    )?;
    heads
        .iter()
        .map(|h| record(c, h, now, q.facet_values))
        .collect()
}

/// Campaigns by id, descending, below `before` (all when `None`): paging for exports.
pub(crate) fn by_id(
    c: &mut impl Statements,
    before: Option<CampaignId>,
    limit: usize,
    include_merged: bool,
    now: Timestamp,
) -> Result<Vec<Campaign>> {
    let heads = c.query(
        &format!("{HEAD} WHERE id < $1 AND ($2 OR merged_into IS NULL) ORDER BY id DESC LIMIT $3"),
        &[&before.unwrap_or(i64::MAX), &include_merged, &big(limit)],
    )?;
    heads
        .iter()
        .map(|h| record(c, h, now, FACET_VALUES_SHOWN))
        .collect()
}

/// The sightings of a campaign, oldest first, at most `limit`.
pub(crate) fn members(
    c: &mut impl Statements,
    id: CampaignId,
    limit: usize,
) -> Result<Vec<Member>> {
    c.query(
        "SELECT sighting_id, message_id, received_at, class FROM reports
         WHERE campaign = $1 ORDER BY received_at, seq LIMIT $2",
        &[&id, &big(limit)],
    )?
    .iter()
    .map(|r| {
        Ok(Member {
            sighting: uuid_col(r.try_get(0)?)?,
            message_id: message_id_from(r.try_get(1)?)?,
            received_at: from_nanos(r.try_get(2)?)?,
            class: r.try_get(3)?,
        })
    })
    .collect()
}

/// Merges into or out of a campaign, oldest first.
pub(crate) fn merges(c: &mut impl Statements, id: CampaignId) -> Result<Vec<CampaignMerge>> {
    c.query(
        "SELECT from_id, into_id, at, \"by\", detail FROM campaign_merges
         WHERE into_id = $1 OR from_id = $1 ORDER BY seq",
        &[&id],
    )?
    .iter()
    .map(|r| {
        Ok(CampaignMerge {
            from: r.try_get(0)?,
            into: r.try_get(1)?,
            at: from_nanos(r.try_get(2)?)?,
            by: r.try_get(3)?,
            detail: r.try_get(4)?,
        })
    })
    .collect()
}

/// Sets an analyst label and/or notes. False when the campaign does not exist. The clock comes
/// before the row lock, as in the clustering step (see `campaigns.rs`).
pub(crate) fn annotate(
    c: &mut postgres::Client,
    id: CampaignId,
    label: Option<&str>,
    notes: Option<&str>,
) -> Result<bool> {
    let mut tx = c.transaction()?;
    let changed = super::intel::clock(&mut tx, unix_nanos(model::now()))?;
    let n = tx.execute(
        "UPDATE campaigns SET label = coalesce($2, label), notes = coalesce($3, notes),
                              changed_at = $4
         WHERE id = $1",
        &[&id, &label, &notes, &changed],
    )?;
    tx.commit()?;
    Ok(n == 1)
}

/// Counts for `store stats`: campaigns that are live, merged, and unclustered reports.
pub(crate) fn counts(c: &mut impl Statements) -> Result<(u64, u64, u64)> {
    let r = c.query_one(
        "SELECT (SELECT count(*) FROM campaigns WHERE merged_into IS NULL),
                (SELECT count(*) FROM campaigns WHERE merged_into IS NOT NULL),
                (SELECT count(*) FROM reports WHERE campaign IS NULL)",
        &[],
    )?;
    let u = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok((u(r.try_get(0)?), u(r.try_get(1)?), u(r.try_get(2)?)))
}
