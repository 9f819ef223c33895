//! Reading campaigns: records with facets and rates, lists, members, merge history, labels.

use crate::campaigns::{MAX_RATE_POINTS, class_of, facet_value, status, to_facet, uuid_col};
use crate::error::Result;
use crate::query::{from_nanos, message_id_from};
use crate::{Timestamp, unix_nanos};
use model::campaign::{CampaignId, CampaignMerge, RatePoint};
use model::{Campaign, MessageId};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;
use std::collections::BTreeMap;

/// Facet values listed per facet in a record read (the stored bound is larger).
pub const FACET_VALUES_SHOWN: usize = 50;

/// Which campaigns to list; most recently active first.
#[derive(Debug, Clone)]
pub struct CampaignQuery {
    pub limit: usize,
    /// Only campaigns active at or after this time.
    pub since: Option<Timestamp>,
    /// Include campaigns merged into others.
    pub include_merged: bool,
    /// Only campaigns with at least this many messages.
    pub min_messages: u64,
    /// Facet values per facet in each record.
    pub facet_values: usize,
}

impl Default for CampaignQuery {
    fn default() -> Self {
        CampaignQuery {
            limit: 100,
            since: None,
            include_merged: false,
            min_messages: 0,
            facet_values: FACET_VALUES_SHOWN,
        }
    }
}

/// A campaign's members: one entry per sighting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub sighting: uuid::Uuid,
    pub message_id: MessageId,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: Timestamp,
    pub class: String,
}

type Head = (
    CampaignId,
    Vec<u8>,
    i64,
    i64,
    i64,
    String,
    String,
    String,
    Option<i64>,
);

const HEAD: &str = "SELECT id, uuid, first_seen, last_seen, messages, verdict, label, notes,
                    merged_into FROM campaigns";

fn head(r: &rusqlite::Row<'_>) -> rusqlite::Result<Head> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
    ))
}

/// One campaign's record at `now`, with up to [`FACET_VALUES_SHOWN`] values per facet.
pub(crate) fn campaign(
    conn: &Connection,
    id: CampaignId,
    now: Timestamp,
) -> Result<Option<Campaign>> {
    let h = conn
        .prepare_cached(&format!("{HEAD} WHERE id = ?1"))?
        .query_row([id], head)
        .optional()?;
    h.map(|h| record(conn, h, now, FACET_VALUES_SHOWN))
        .transpose()
}

fn record(conn: &Connection, h: Head, now: Timestamp, shown: usize) -> Result<Campaign> {
    let (id, uuid, first, last, messages, verdict, label, notes, merged_into) = h;
    let first_seen = from_nanos(first)?;
    let last_seen = from_nanos(last)?;
    let mut facets: BTreeMap<String, Vec<model::campaign::FacetValue>> = BTreeMap::new();
    let rows: Vec<(String, (String, u64, i64, i64))> = conn
        .prepare_cached(
            "SELECT facet, value, count, first_seen, last_seen FROM (
                 SELECT facet, value, count, first_seen, last_seen, row_number() OVER (
                     PARTITION BY facet ORDER BY count DESC, last_seen DESC, value) AS n
                 FROM campaign_facets WHERE campaign = ?1)
             WHERE n <= ?2 ORDER BY facet, n",
        )?
        .query_map((id, i64::try_from(shown).unwrap_or(i64::MAX)), |r| {
            Ok((r.get(0)?, facet_value(r, 1)?))
        })?
        .collect::<std::result::Result<_, _>>()?;
    for (facet, v) in rows {
        facets.entry(facet).or_default().push(to_facet(v)?);
    }
    let distinct: BTreeMap<String, u64> = conn
        .prepare_cached("SELECT facet, n FROM campaign_distinct WHERE campaign = ?1")?
        .query_map([id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
            ))
        })?
        .collect::<std::result::Result<_, _>>()?;
    let since = {
        let h = now.unix_timestamp();
        h - h.rem_euclid(3600) - i64::try_from(MAX_RATE_POINTS).unwrap_or(0) * 3600
    };
    Ok(Campaign {
        id,
        uuid: uuid_col(&uuid)?,
        first_seen,
        last_seen,
        messages: u64::try_from(messages).unwrap_or(0),
        status: status(first_seen, last_seen, merged_into.is_some(), now),
        verdict: class_of(&verdict),
        label,
        notes,
        merged_into,
        facets,
        distinct,
        rate: rate(conn, id, since)?,
    })
}

/// Hourly counts of a campaign (0: the trap) from the hour starting at `from_hour` (unix s).
pub(crate) fn rate(conn: &Connection, id: CampaignId, from_hour: i64) -> Result<Vec<RatePoint>> {
    let rows: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT hour, messages FROM campaign_rate WHERE campaign = ?1 AND hour >= ?2
             ORDER BY hour",
        )?
        .query_map((id, from_hour), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    rows.into_iter()
        .map(|(h, n)| {
            Ok(RatePoint {
                hour: from_nanos(h.saturating_mul(1_000_000_000))?,
                messages: u64::try_from(n).unwrap_or(0),
            })
        })
        .collect()
}

/// Campaigns matching `q`, most recently active first.
pub(crate) fn list(conn: &Connection, q: &CampaignQuery, now: Timestamp) -> Result<Vec<Campaign>> {
    let heads: Vec<Head> = conn
        .prepare_cached(&format!(
            "{HEAD} WHERE last_seen >= ?1 AND (?2 OR merged_into IS NULL) AND messages >= ?3
             ORDER BY last_seen DESC, id DESC LIMIT ?4"
        ))?
        .query_map(
            (
                q.since.map(unix_nanos).unwrap_or(i64::MIN),
                q.include_merged,
                i64::try_from(q.min_messages).unwrap_or(i64::MAX),
                i64::try_from(q.limit).unwrap_or(i64::MAX),
            ),
            head,
        )?
        .collect::<std::result::Result<_, _>>()?;
    heads
        .into_iter()
        .map(|h| record(conn, h, now, q.facet_values))
        .collect()
}

/// Campaigns by id, descending, below `before` (all when `None`): paging for exports.
pub(crate) fn by_id(
    conn: &Connection,
    before: Option<CampaignId>,
    limit: usize,
    include_merged: bool,
    now: Timestamp,
) -> Result<Vec<Campaign>> {
    let heads: Vec<Head> = conn
        .prepare_cached(&format!(
            "{HEAD} WHERE id < ?1 AND (?2 OR merged_into IS NULL) ORDER BY id DESC LIMIT ?3"
        ))?
        .query_map(
            (
                before.unwrap_or(i64::MAX),
                include_merged,
                i64::try_from(limit).unwrap_or(i64::MAX),
            ),
            head,
        )?
        .collect::<std::result::Result<_, _>>()?;
    heads
        .into_iter()
        .map(|h| record(conn, h, now, FACET_VALUES_SHOWN))
        .collect()
}

/// The sightings of a campaign, oldest first, at most `limit`.
pub(crate) fn members(conn: &Connection, id: CampaignId, limit: usize) -> Result<Vec<Member>> {
    let rows: Vec<(Vec<u8>, Vec<u8>, i64, String)> = conn
        .prepare_cached(
            "SELECT sighting_id, message_id, received_at, class FROM reports
             WHERE campaign = ?1 ORDER BY received_at, seq LIMIT ?2",
        )?
        .query_map((id, i64::try_from(limit).unwrap_or(i64::MAX)), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?
        .collect::<std::result::Result<_, _>>()?;
    rows.into_iter()
        .map(|(s, m, t, class)| {
            Ok(Member {
                sighting: uuid_col(&s)?,
                message_id: message_id_from(&m)?,
                received_at: from_nanos(t)?,
                class,
            })
        })
        .collect()
}

/// Merges into or out of a campaign, oldest first.
pub(crate) fn merges(conn: &Connection, id: CampaignId) -> Result<Vec<CampaignMerge>> {
    let rows: Vec<(i64, i64, i64, String, String)> = conn
        .prepare_cached(
            "SELECT from_id, into_id, at, by, detail FROM campaign_merges
             WHERE into_id = ?1 OR from_id = ?1 ORDER BY seq",
        )?
        .query_map([id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<std::result::Result<_, _>>()?;
    rows.into_iter()
        .map(|(from, into, at, by, detail)| {
            Ok(CampaignMerge {
                from,
                into,
                at: from_nanos(at)?,
                by,
                detail,
            })
        })
        .collect()
}

/// Sets an analyst label and/or notes. False when the campaign does not exist.
pub(crate) fn annotate(
    conn: &mut Connection,
    id: CampaignId,
    label: Option<&str>,
    notes: Option<&str>,
) -> Result<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let n = tx.execute(
        "UPDATE campaigns SET label = coalesce(?2, label), notes = coalesce(?3, notes),
                              changed_at = ?4
         WHERE id = ?1",
        (
            id,
            label,
            notes,
            crate::intel::clock(&tx, unix_nanos(model::now()))?,
        ),
    )?;
    tx.commit()?;
    Ok(n == 1)
}

/// Counts for `store stats`: campaigns that are live, merged, and unclustered reports.
pub(crate) fn counts(conn: &Connection) -> Result<(u64, u64, u64)> {
    let (live, merged): (i64, i64) = conn.query_row(
        "SELECT count(*) FILTER (WHERE merged_into IS NULL),
                count(*) FILTER (WHERE merged_into IS NOT NULL) FROM campaigns",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let pending: i64 = conn.query_row(
        "SELECT count(*) FROM reports WHERE campaign IS NULL",
        [],
        |r| r.get(0),
    )?;
    let u = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok((u(live), u(merged), u(pending)))
}
