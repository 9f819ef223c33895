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

/// One campaign's record at `now`, with up to [`FACET_VALUES_SHOWN`] values per facet.
pub(crate) fn campaign(
    c: &mut impl Statements,
    id: CampaignId,
    now: Timestamp,
) -> Result<Option<Campaign>> {
    let head = c.query_opt(&format!("{HEAD} WHERE id = $1"), &[&id])?;
    head.map(|h| record(c, &h, now, FACET_VALUES_SHOWN))
        .transpose()
}

/// The record of a [`HEAD`] row: its facets, distinct counts and the last week's rate. Text
/// sorts in byte order (`COLLATE "C"`), as in SQLite, whatever the database's collation.
fn record(c: &mut impl Statements, h: &Row, now: Timestamp, shown: usize) -> Result<Campaign> {
    let id: CampaignId = h.try_get(0)?;
    let uuid: &[u8] = h.try_get(1)?;
    let first_seen = from_nanos(h.try_get(2)?)?;
    let last_seen = from_nanos(h.try_get(3)?)?;
    let messages: i64 = h.try_get(4)?;
    let verdict: &str = h.try_get(5)?;
    let merged_into: Option<i64> = h.try_get(8)?;
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
    let since = {
        let h = now.unix_timestamp();
        h - h.rem_euclid(3600) - i64::try_from(MAX_RATE_POINTS).unwrap_or(0) * 3600
    };
    Ok(Campaign {
        id,
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
        rate: rate(c, id, since)?,
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
    .map(|r| {
        let (h, n): (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
        Ok(RatePoint {
            hour: from_nanos(h.saturating_mul(1_000_000_000))?,
            messages: u64::try_from(n).unwrap_or(0),
        })
    })
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
