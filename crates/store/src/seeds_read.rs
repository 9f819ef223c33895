//! Reading seeds and harvesters (schema v10, written by `seeds.rs`): lists on their indexes,
//! details with every list capped at [`MAX_DETAIL_ROWS`].

use crate::error::{Result, StoreError};
use crate::query::{from_nanos, parse_json, uuid_from};
use crate::search::{Count, network_of};
use crate::seeds::{
    CampaignUse, HarvesterDetail, HarvesterRow, MAX_DETAIL_ROWS, MAX_SEED_PAGE, SeedAttribution,
    SeedDetail, SeedFilter, SeedHit, SeedRecord,
};
use crate::{Timestamp, unix_nanos};
use model::{BaitForm, BaitVisit, SeedOrigin, Sighting};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row};
use std::collections::HashMap;

/// Visits, and hits, of one harvester that its detail view aggregates (user agents, pages,
/// forms, networks), newest first: an IP that fetched the bait a million times is summarised
/// from its latest visits instead of all of them.
pub const MAX_DETAIL_SCAN: usize = 10_000;

/// The seed columns read by [`seed_row`], `d` being `seeds` and `v` its `bait_visits` row.
pub(crate) const SEED_COLS: &str =
    "d.id, d.token, d.address, d.domain, d.origin, d.form, d.label, v.uuid,
    d.issued_at, d.hits, d.first_hit, d.last_hit";
/// Columns after [`SEED_COLS`] read by [`visit_row`].
pub(crate) const VISIT_COLS: &str = "v.uuid, v.at, v.ip, v.user_agent, v.referer, v.path";
pub(crate) const SEED_COL_COUNT: usize = 12;

/// How a seed detail is looked up.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SeedKey<'a> {
    Id(i64),
    Token(&'a str),
}

pub(crate) fn count_of(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Rows of one list read: `n` capped at [`MAX_SEED_PAGE`], 0 meaning the cap.
pub(crate) fn page_limit(n: usize) -> usize {
    match n {
        0 => MAX_SEED_PAGE,
        n => n.min(MAX_SEED_PAGE),
    }
}

pub(crate) fn limit_of(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn seed_row(r: &Row<'_>) -> Result<SeedRecord> {
    SeedCols {
        id: r.get(0)?,
        token: r.get(1)?,
        address: r.get(2)?,
        domain: r.get(3)?,
        origin: r.get(4)?,
        form: r.get(5)?,
        label: r.get(6)?,
        visit: r.get(7)?,
        issued_at: r.get(8)?,
        hits: r.get(9)?,
        first_hit: r.get(10)?,
        last_hit: r.get(11)?,
    }
    .decode()
}

/// The [`SEED_COLS`] of one row, as read by either backend.
pub(crate) struct SeedCols {
    pub(crate) id: i64,
    pub(crate) token: String,
    pub(crate) address: String,
    pub(crate) domain: String,
    pub(crate) origin: String,
    pub(crate) form: Option<String>,
    pub(crate) label: String,
    pub(crate) visit: Option<Vec<u8>>,
    pub(crate) issued_at: i64,
    pub(crate) hits: i64,
    pub(crate) first_hit: Option<i64>,
    pub(crate) last_hit: Option<i64>,
}

impl SeedCols {
    /// The record; an origin or form this build does not know is [`StoreError::Corrupt`].
    pub(crate) fn decode(self) -> Result<SeedRecord> {
        let bad = |what: &str, v: &str| StoreError::corrupt(format!("seed {what} {v:?}"));
        Ok(SeedRecord {
            id: self.id,
            origin: SeedOrigin::parse(&self.origin).ok_or_else(|| bad("origin", &self.origin))?,
            form: self
                .form
                .map(|f| BaitForm::parse(&f).ok_or_else(|| bad("form", &f)))
                .transpose()?,
            token: self.token,
            address: self.address,
            domain: self.domain,
            label: self.label,
            visit: self.visit.map(|b| uuid_from(&b)).transpose()?,
            issued_at: from_nanos(self.issued_at)?,
            hits: count_of(self.hits),
            first_hit: self.first_hit.map(from_nanos).transpose()?,
            last_hit: self.last_hit.map(from_nanos).transpose()?,
        })
    }
}

/// The visit whose [`VISIT_COLS`] start at column `at`; `None` for a seed without a visit.
fn visit_row(r: &Row<'_>, at: usize) -> Result<Option<BaitVisit>> {
    let Some(id) = r.get::<_, Option<Vec<u8>>>(at)? else {
        return Ok(None);
    };
    Ok(Some(BaitVisit {
        id: uuid_from(&id)?,
        at: from_nanos(r.get(at + 1)?)?,
        ip: r.get(at + 2)?,
        user_agent: r.get(at + 3)?,
        referer: r.get(at + 4)?,
        path: r.get(at + 5)?,
    }))
}

/// Seeds matching `f`, newest first. Each filter is one condition on an indexed column, so
/// SQLite walks `seeds_by_label`, `seeds_hit` or the visitor's visits instead of all seeds.
pub(crate) fn seeds(c: &Connection, f: &SeedFilter) -> Result<Vec<SeedRecord>> {
    let limit = page_limit(f.limit);
    let mut sql = format!(
        "SELECT {SEED_COLS} FROM seeds d LEFT JOIN bait_visits v ON v.id = d.visit WHERE d.id < ?1"
    );
    let mut params: Vec<Value> = vec![f.before_id.unwrap_or(i64::MAX).into()];
    let mut and = |cond: &str, v: Value| {
        params.push(v);
        sql.push_str(&format!(" AND {cond} ?{}", params.len()));
    };
    if let Some(label) = &f.label {
        and("d.label =", label.clone().into());
    }
    if let Some(origin) = f.origin {
        and("d.origin =", origin.as_str().to_string().into());
    }
    if let Some(ip) = &f.visitor {
        and("v.ip =", ip.clone().into());
    }
    if f.hit_only {
        sql.push_str(" AND d.hits > 0");
    }
    params.push(limit_of(limit).into());
    sql.push_str(&format!(" ORDER BY d.id DESC LIMIT ?{}", params.len()));
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(seed_row(r)?);
    }
    Ok(out)
}

pub(crate) fn seed_detail(c: &Connection, key: SeedKey<'_>) -> Result<Option<SeedDetail>> {
    let (cond, value): (&str, Value) = match key {
        SeedKey::Id(id) => ("d.id", id.into()),
        SeedKey::Token(t) => ("d.token", t.to_ascii_lowercase().into()),
    };
    let found = c
        .prepare_cached(&format!(
            "SELECT {SEED_COLS}, {VISIT_COLS} FROM seeds d
             LEFT JOIN bait_visits v ON v.id = d.visit WHERE {cond} = ?1"
        ))?
        .query_row([value], |r| Ok(row_pair(r)))
        .optional()?;
    let Some(pair) = found else { return Ok(None) };
    let (seed, visit) = pair?;
    let hits = seed_hits(c, seed.id)?;
    let first_spam_after_secs = seed.first_hit.map(|t| (t - seed.issued_at).whole_seconds());
    Ok(Some(SeedDetail {
        seed,
        visit,
        hits,
        first_spam_after_secs,
    }))
}

fn row_pair(r: &Row<'_>) -> Result<(SeedRecord, Option<BaitVisit>)> {
    Ok((seed_row(r)?, visit_row(r, SEED_COL_COUNT)?))
}

/// A seed's hits, latest capture first (the primary key's order: no sort of all its hits).
fn seed_hits(c: &Connection, seed: i64) -> Result<Vec<SeedHit>> {
    let mut stmt = c.prepare_cached(
        "SELECT s.id, h.received_at, s.peer, s.json, s.sender, f.subject, r.class, k.uuid
         FROM seed_hits h JOIN sightings s ON s.seq = h.seq
         LEFT JOIN reports r ON r.sighting_id = s.id
         LEFT JOIN campaigns k ON k.id = r.campaign
         LEFT JOIN message_facts f ON f.seq = h.seq
         WHERE h.seed = ?1 ORDER BY h.seq DESC LIMIT ?2",
    )?;
    let mut rows = stmt.query((seed, limit_of(MAX_DETAIL_ROWS)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let peer: String = r.get(2)?;
        let sighting: Sighting = parse_json(&r.get::<_, String>(3)?, "sighting")?;
        out.push(SeedHit {
            sighting: uuid_from(&r.get::<_, Vec<u8>>(0)?)?,
            received_at: from_nanos(r.get(1)?)?,
            network: network_of(&peer),
            peer,
            helo: sighting.helo,
            sender: r.get(4)?,
            subject: r.get(5)?,
            class: r
                .get::<_, Option<String>>(6)?
                .unwrap_or_else(|| "unknown".into()),
            campaign: r
                .get::<_, Option<Vec<u8>>>(7)?
                .map(|b| uuid_from(&b))
                .transpose()?,
        });
    }
    Ok(out)
}

pub(crate) fn seeds_of_sighting(
    c: &Connection,
    sighting: uuid::Uuid,
) -> Result<Vec<SeedAttribution>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {SEED_COLS}, {VISIT_COLS}, h.received_at FROM sightings s
         JOIN seed_hits h ON h.seq = s.seq JOIN seeds d ON d.id = h.seed
         LEFT JOIN bait_visits v ON v.id = d.visit
         WHERE s.id = ?1 ORDER BY d.id LIMIT ?2"
    ))?;
    let mut rows = stmt.query((sighting.as_bytes().to_vec(), limit_of(MAX_DETAIL_ROWS)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let (seed, visit) = row_pair(r)?;
        let received = from_nanos(r.get(SEED_COL_COUNT + 6)?)?;
        out.push(SeedAttribution {
            after_secs: (received - seed.issued_at).whole_seconds(),
            seed,
            visit,
        });
    }
    Ok(out)
}

pub(crate) const HARVESTER_COLS: &str =
    "ip, visits, first_visit, last_visit, last_user_agent, seeds, seeds_hit, messages";

fn harvester_row(r: &Row<'_>) -> Result<HarvesterRow> {
    Ok(HarvesterRow {
        ip: r.get(0)?,
        visits: count_of(r.get(1)?),
        first_visit: from_nanos(r.get(2)?)?,
        last_visit: from_nanos(r.get(3)?)?,
        last_user_agent: r.get(4)?,
        seeds: count_of(r.get(5)?),
        seeds_hit: count_of(r.get(6)?),
        messages: count_of(r.get(7)?),
    })
}

pub(crate) fn harvesters(
    c: &Connection,
    limit: usize,
    before: Option<(Timestamp, String)>,
) -> Result<Vec<HarvesterRow>> {
    let limit = page_limit(limit);
    // Keyset on (last_visit, ip): two harvesters with the same latest visit still page apart.
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {HARVESTER_COLS} FROM harvesters WHERE (last_visit, ip) < (?1, ?2)
         ORDER BY last_visit DESC, ip DESC LIMIT ?3"
    ))?;
    let (at, ip) = match before {
        Some((t, ip)) => (unix_nanos(t), ip),
        None => (i64::MAX, String::new()),
    };
    let mut rows = stmt.query((at, ip, limit_of(limit)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(harvester_row(r)?);
    }
    Ok(out)
}

pub(crate) fn harvester(c: &Connection, ip: &str) -> Result<Option<HarvesterDetail>> {
    let found = c
        .prepare_cached(&format!(
            "SELECT {HARVESTER_COLS} FROM harvesters WHERE ip = ?1"
        ))?
        .query_row([ip], |r| Ok(harvester_row(r)))
        .optional()?;
    let Some(harvester) = found else {
        return Ok(None);
    };
    let harvester = harvester?;
    let scan = limit_of(MAX_DETAIL_SCAN);
    let top = limit_of(MAX_DETAIL_ROWS);
    // The harvester's latest visits, as a subquery every breakdown starts from.
    let recent = "SELECT id, user_agent, path, at FROM bait_visits WHERE ip = ?1
                  ORDER BY at DESC LIMIT ?2";
    let user_agents = crate::search::counts(
        c,
        &format!(
            "SELECT user_agent, count(*) AS n FROM ({recent}) GROUP BY user_agent
             ORDER BY n DESC, user_agent LIMIT ?3"
        ),
        (ip, scan, top),
    )?;
    let pages = crate::search::counts(
        c,
        &format!(
            "SELECT path, count(*) AS n FROM ({recent}) GROUP BY path
             ORDER BY n DESC, path LIMIT ?3"
        ),
        (ip, scan, top),
    )?;
    let forms_hit = crate::search::counts(
        c,
        &format!(
            "SELECT d.form, count(*) AS n FROM ({recent}) v JOIN seeds d ON d.visit = v.id
             WHERE d.hits > 0 AND d.form IS NOT NULL GROUP BY d.form
             ORDER BY n DESC, d.form LIMIT ?3"
        ),
        (ip, scan, top),
    )?;
    let delays = first_spam_delays(c, recent, ip, scan)?;
    Ok(Some(HarvesterDetail {
        first_spam_min_secs: delays.first().copied(),
        first_spam_median_secs: delays.get(delays.len() / 2).copied(),
        campaigns: campaigns_of(c, recent, ip, scan)?,
        networks: networks_of(c, recent, ip, scan)?,
        visits: visits_of(c, ip)?,
        seeds: seeds_of(c, ip)?,
        harvester,
        user_agents,
        pages,
        forms_hit,
    }))
}

/// Seconds from each hit seed's visit to its first message, ascending.
fn first_spam_delays(c: &Connection, recent: &str, ip: &str, scan: i64) -> Result<Vec<i64>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT d.first_hit - v.at FROM ({recent}) v JOIN seeds d ON d.visit = v.id
         WHERE d.first_hit IS NOT NULL"
    ))?;
    let mut delays: Vec<i64> = stmt
        .query_map((ip, scan), |r| r.get::<_, i64>(0))?
        .map(|d| d.map(|ns| ns.div_euclid(1_000_000_000)))
        .collect::<std::result::Result<_, _>>()?;
    delays.sort_unstable();
    Ok(delays)
}

/// The distinct messages (`sightings.seq`, peer, campaign row) that reached the seeds of the
/// harvester's latest visits, at most [`MAX_DETAIL_SCAN`].
fn hits_of(recent: &str) -> String {
    format!(
        "SELECT DISTINCT h.seq AS seq FROM ({recent}) v JOIN seeds d ON d.visit = v.id
         JOIN seed_hits h ON h.seed = d.id ORDER BY h.seq DESC LIMIT ?2"
    )
}

fn campaigns_of(c: &Connection, recent: &str, ip: &str, scan: i64) -> Result<Vec<CampaignUse>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT k.uuid, k.label, count(*) AS n FROM ({}) m
         JOIN sightings s ON s.seq = m.seq JOIN reports r ON r.sighting_id = s.id
         JOIN campaigns k ON k.id = r.campaign
         GROUP BY k.id ORDER BY n DESC, k.id LIMIT ?3",
        hits_of(recent)
    ))?;
    let mut rows = stmt.query((ip, scan, limit_of(MAX_DETAIL_ROWS)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let label: String = r.get(1)?;
        out.push(CampaignUse {
            campaign: uuid_from(&r.get::<_, Vec<u8>>(0)?)?,
            label: (!label.is_empty()).then_some(label),
            messages: count_of(r.get(2)?),
        });
    }
    Ok(out)
}

fn networks_of(c: &Connection, recent: &str, ip: &str, scan: i64) -> Result<Vec<Count>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT s.peer FROM ({}) m JOIN sightings s ON s.seq = m.seq",
        hits_of(recent)
    ))?;
    let peers = stmt
        .query_map((ip, scan), |r| r.get::<_, String>(0))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(network_counts(peers))
}

/// Messages per sending network of their peers, most first (ties by network), at most
/// [`MAX_DETAIL_ROWS`].
pub(crate) fn network_counts(peers: impl IntoIterator<Item = String>) -> Vec<Count> {
    let mut by_network: HashMap<String, u64> = HashMap::new();
    for peer in peers {
        *by_network.entry(network_of(&peer)).or_default() += 1;
    }
    let mut out: Vec<Count> = by_network
        .into_iter()
        .map(|(key, count)| Count { key, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out.truncate(MAX_DETAIL_ROWS);
    out
}

fn visits_of(c: &Connection, ip: &str) -> Result<Vec<BaitVisit>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {VISIT_COLS} FROM bait_visits v WHERE v.ip = ?1 ORDER BY v.at DESC LIMIT ?2"
    ))?;
    let mut rows = stmt.query((ip, limit_of(MAX_DETAIL_ROWS)))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.extend(visit_row(r, 0)?);
    }
    Ok(out)
}

fn seeds_of(c: &Connection, ip: &str) -> Result<Vec<SeedRecord>> {
    seeds(
        c,
        &SeedFilter {
            visitor: Some(ip.to_string()),
            limit: MAX_DETAIL_ROWS,
            ..SeedFilter::default()
        },
    )
}
