//! PostgreSQL counterpart of `crate::seeds_read`: the same lists and details, the same caps,
//! the same row decoding (`SeedCols`); the visitor's strings come back from `BYTEA`.

use super::search::counts;
use crate::error::{Result, StoreError};
use crate::query::{from_nanos, parse_json, uuid_from};
use crate::search::{Count, network_of};
use crate::seeds::{
    CampaignUse, HarvesterDetail, HarvesterRow, MAX_DETAIL_ROWS, SeedAttribution, SeedDetail,
    SeedFilter, SeedHit, SeedRecord,
};
use crate::seeds_read::{
    HARVESTER_COLS, MAX_DETAIL_SCAN, SEED_COL_COUNT, SEED_COLS, SeedCols, SeedKey, VISIT_COLS,
    count_of, limit_of, network_counts, page_limit,
};
use crate::{Timestamp, unix_nanos};
use model::{BaitVisit, Sighting};
use postgres::types::ToSql;
use postgres::{GenericClient, Row};

/// This module's tables (part of schema version 1, see `schema.rs`): none, `seeds.rs` has them.
pub(crate) const DDL: &str = "";

/// The harvester's latest visits, as a subquery every breakdown starts from (`$1` its IP,
/// `$2` how many visits).
const RECENT: &str = "SELECT id, user_agent, path, at FROM bait_visits WHERE ip = $1
                      ORDER BY at DESC LIMIT $2";

/// A visitor string stored as bytes (see `pg/seeds.rs`).
fn text(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|_| StoreError::corrupt("a bait visit field is not UTF-8"))
}

fn seed_row(r: &Row) -> Result<SeedRecord> {
    SeedCols {
        id: r.try_get(0)?,
        token: r.try_get(1)?,
        address: r.try_get(2)?,
        domain: r.try_get(3)?,
        origin: r.try_get(4)?,
        form: r.try_get(5)?,
        label: r.try_get(6)?,
        visit: r.try_get(7)?,
        issued_at: r.try_get(8)?,
        hits: r.try_get(9)?,
        first_hit: r.try_get(10)?,
        last_hit: r.try_get(11)?,
    }
    .decode()
}

/// The visit whose `VISIT_COLS` start at column `at`; `None` for a seed without a visit.
fn visit_row(r: &Row, at: usize) -> Result<Option<BaitVisit>> {
    let Some(id) = r.try_get::<_, Option<Vec<u8>>>(at)? else {
        return Ok(None);
    };
    Ok(Some(BaitVisit {
        id: uuid_from(&id)?,
        at: from_nanos(r.try_get(at + 1)?)?,
        ip: text(r.try_get(at + 2)?)?,
        user_agent: text(r.try_get(at + 3)?)?,
        referer: text(r.try_get(at + 4)?)?,
        path: text(r.try_get(at + 5)?)?,
    }))
}

fn row_pair(r: &Row) -> Result<(SeedRecord, Option<BaitVisit>)> {
    Ok((seed_row(r)?, visit_row(r, SEED_COL_COUNT)?))
}

/// Seeds matching `f`, newest first.
pub(crate) fn seeds(c: &mut impl GenericClient, f: &SeedFilter) -> Result<Vec<SeedRecord>> {
    let mut params: Vec<Box<dyn ToSql + Sync>> = vec![Box::new(f.before_id.unwrap_or(i64::MAX))];
    let mut sql = format!(
        "SELECT {SEED_COLS} FROM seeds d LEFT JOIN bait_visits v ON v.id = d.visit WHERE d.id < $1"
    );
    let mut and = |cond: &str, v: Box<dyn ToSql + Sync>| {
        params.push(v);
        sql.push_str(&format!(" AND {cond} ${}", params.len()));
    };
    if let Some(label) = &f.label {
        and("d.label =", Box::new(label.clone()));
    }
    if let Some(origin) = f.origin {
        and("d.origin =", Box::new(origin.as_str()));
    }
    if let Some(ip) = &f.visitor {
        and("v.ip =", Box::new(ip.as_bytes().to_vec()));
    }
    if f.hit_only {
        sql.push_str(" AND d.hits > 0");
    }
    params.push(Box::new(limit_of(page_limit(f.limit))));
    sql.push_str(&format!(" ORDER BY d.id DESC LIMIT ${}", params.len()));
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
    c.query(&sql, &refs)?.iter().map(seed_row).collect()
}

pub(crate) fn seed_detail(
    c: &mut impl GenericClient,
    key: SeedKey<'_>,
) -> Result<Option<SeedDetail>> {
    let sql = |cond: &str| {
        format!(
            "SELECT {SEED_COLS}, {VISIT_COLS} FROM seeds d
             LEFT JOIN bait_visits v ON v.id = d.visit WHERE {cond} = $1"
        )
    };
    let found = match key {
        SeedKey::Id(id) => c.query_opt(&sql("d.id"), &[&id])?,
        SeedKey::Token(t) => c.query_opt(&sql("d.token"), &[&t.to_ascii_lowercase()])?,
    };
    let Some(row) = found else { return Ok(None) };
    let (seed, visit) = row_pair(&row)?;
    let hits = seed_hits(c, seed.id)?;
    let first_spam_after_secs = seed.first_hit.map(|t| (t - seed.issued_at).whole_seconds());
    Ok(Some(SeedDetail {
        seed,
        visit,
        hits,
        first_spam_after_secs,
    }))
}

/// A seed's hits, latest capture first.
fn seed_hits(c: &mut impl GenericClient, seed: i64) -> Result<Vec<SeedHit>> {
    let rows = c.query(
        "SELECT s.id, h.received_at, s.peer, s.json, s.sender, f.subject, r.class, k.uuid
         FROM seed_hits h JOIN sightings s ON s.seq = h.seq
         LEFT JOIN reports r ON r.sighting_id = s.id
         LEFT JOIN campaigns k ON k.id = r.campaign
         LEFT JOIN message_facts f ON f.seq = h.seq
         WHERE h.seed = $1 ORDER BY h.seq DESC LIMIT $2",
        &[&seed, &limit_of(MAX_DETAIL_ROWS)],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let peer: String = r.try_get(2)?;
        let sighting: Sighting = parse_json(r.try_get(3)?, "sighting")?;
        out.push(SeedHit {
            sighting: uuid_from(r.try_get(0)?)?,
            received_at: from_nanos(r.try_get(1)?)?,
            network: network_of(&peer),
            peer,
            helo: sighting.helo,
            sender: r.try_get(4)?,
            subject: super::search::utf8(r.try_get(5)?)?,
            class: r
                .try_get::<_, Option<String>>(6)?
                .unwrap_or_else(|| "unknown".into()),
            campaign: r
                .try_get::<_, Option<&[u8]>>(7)?
                .map(uuid_from)
                .transpose()?,
        });
    }
    Ok(out)
}

pub(crate) fn seeds_of_sighting(
    c: &mut impl GenericClient,
    sighting: uuid::Uuid,
) -> Result<Vec<SeedAttribution>> {
    let rows = c.query(
        &format!(
            "SELECT {SEED_COLS}, {VISIT_COLS}, h.received_at FROM sightings s
             JOIN seed_hits h ON h.seq = s.seq JOIN seeds d ON d.id = h.seed
             LEFT JOIN bait_visits v ON v.id = d.visit
             WHERE s.id = $1 ORDER BY d.id LIMIT $2"
        ),
        &[&sighting.as_bytes().as_slice(), &limit_of(MAX_DETAIL_ROWS)],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let (seed, visit) = row_pair(r)?;
        let received = from_nanos(r.try_get(SEED_COL_COUNT + 6)?)?;
        out.push(SeedAttribution {
            after_secs: (received - seed.issued_at).whole_seconds(),
            seed,
            visit,
        });
    }
    Ok(out)
}

fn harvester_row(r: &Row) -> Result<HarvesterRow> {
    Ok(HarvesterRow {
        ip: text(r.try_get(0)?)?,
        visits: count_of(r.try_get(1)?),
        first_visit: from_nanos(r.try_get(2)?)?,
        last_visit: from_nanos(r.try_get(3)?)?,
        last_user_agent: text(r.try_get(4)?)?,
        seeds: count_of(r.try_get(5)?),
        seeds_hit: count_of(r.try_get(6)?),
        messages: count_of(r.try_get(7)?),
    })
}

pub(crate) fn harvesters(
    c: &mut impl GenericClient,
    limit: usize,
    before: Option<(Timestamp, String)>,
) -> Result<Vec<HarvesterRow>> {
    // Keyset on (last_visit, ip): two harvesters with the same latest visit still page apart.
    let (at, ip) = match before {
        Some((t, ip)) => (unix_nanos(t), ip.into_bytes()),
        None => (i64::MAX, Vec::new()),
    };
    c.query(
        &format!(
            "SELECT {HARVESTER_COLS} FROM harvesters WHERE (last_visit, ip) < ($1, $2)
             ORDER BY last_visit DESC, ip DESC LIMIT $3"
        ),
        &[&at, &ip, &limit_of(page_limit(limit))],
    )?
    .iter()
    .map(harvester_row)
    .collect()
}

pub(crate) fn harvester(c: &mut impl GenericClient, ip: &str) -> Result<Option<HarvesterDetail>> {
    let ip = ip.as_bytes();
    let Some(row) = c.query_opt(
        &format!("SELECT {HARVESTER_COLS} FROM harvesters WHERE ip = $1"),
        &[&ip],
    )?
    else {
        return Ok(None);
    };
    let harvester = harvester_row(&row)?;
    let scan = limit_of(MAX_DETAIL_SCAN);
    let top = limit_of(MAX_DETAIL_ROWS);
    let user_agents = visitor_counts(c, "user_agent", ip, scan, top)?;
    let pages = visitor_counts(c, "path", ip, scan, top)?;
    let forms_hit = counts(
        c,
        &format!(
            "SELECT d.form, count(*) AS n FROM ({RECENT}) v JOIN seeds d ON d.visit = v.id
             WHERE d.hits > 0 AND d.form IS NOT NULL GROUP BY d.form
             ORDER BY n DESC, d.form LIMIT $3"
        ),
        &[&ip, &scan, &top],
    )?;
    let delays = first_spam_delays(c, ip, scan)?;
    Ok(Some(HarvesterDetail {
        first_spam_min_secs: delays.first().copied(),
        first_spam_median_secs: delays.get(delays.len() / 2).copied(),
        campaigns: campaigns_of(c, ip, scan)?,
        networks: networks_of(c, ip, scan)?,
        visits: visits_of(c, ip)?,
        seeds: seeds(
            c,
            &SeedFilter {
                visitor: Some(harvester.ip.clone()),
                limit: MAX_DETAIL_ROWS,
                ..SeedFilter::default()
            },
        )?,
        harvester,
        user_agents,
        pages,
        forms_hit,
    }))
}

/// Visits of the harvester's latest ones per value of `column` (a `BYTEA` visitor string),
/// most frequent first.
fn visitor_counts(
    c: &mut impl GenericClient,
    column: &str,
    ip: &[u8],
    scan: i64,
    top: i64,
) -> Result<Vec<Count>> {
    c.query(
        &format!(
            "SELECT {column}, count(*) AS n FROM ({RECENT}) v GROUP BY {column}
             ORDER BY n DESC, {column} LIMIT $3"
        ),
        &[&ip, &scan, &top],
    )?
    .iter()
    .map(|r| {
        Ok(Count {
            key: text(r.try_get(0)?)?,
            count: count_of(r.try_get(1)?),
        })
    })
    .collect()
}

/// Seconds from each hit seed's visit to its first message, ascending.
fn first_spam_delays(c: &mut impl GenericClient, ip: &[u8], scan: i64) -> Result<Vec<i64>> {
    let mut delays = c
        .query(
            &format!(
                "SELECT d.first_hit - v.at FROM ({RECENT}) v JOIN seeds d ON d.visit = v.id
                 WHERE d.first_hit IS NOT NULL"
            ),
            &[&ip, &scan],
        )?
        .iter()
        .map(|r| Ok(r.try_get::<_, i64>(0)?.div_euclid(1_000_000_000)))
        .collect::<Result<Vec<i64>>>()?;
    delays.sort_unstable();
    Ok(delays)
}

/// The distinct messages (`sightings.seq`) that reached the seeds of the harvester's latest
/// visits, at most `MAX_DETAIL_SCAN`.
fn hits_of() -> String {
    format!(
        "SELECT DISTINCT h.seq AS seq FROM ({RECENT}) v JOIN seeds d ON d.visit = v.id
         JOIN seed_hits h ON h.seed = d.id ORDER BY h.seq DESC LIMIT $2"
    )
}

fn campaigns_of(c: &mut impl GenericClient, ip: &[u8], scan: i64) -> Result<Vec<CampaignUse>> {
    let rows = c.query(
        &format!(
            "SELECT k.uuid, coalesce(k.label, ''), count(*) AS n FROM ({}) m
             JOIN sightings s ON s.seq = m.seq JOIN reports r ON r.sighting_id = s.id
             JOIN campaigns k ON k.id = r.campaign
             GROUP BY k.id, k.uuid, k.label ORDER BY n DESC, k.id LIMIT $3",
            hits_of()
        ),
        &[&ip, &scan, &limit_of(MAX_DETAIL_ROWS)],
    )?;
    rows.iter()
        .map(|r| {
            let label: String = r.try_get(1)?;
            Ok(CampaignUse {
                campaign: uuid_from(r.try_get(0)?)?,
                label: (!label.is_empty()).then_some(label),
                messages: count_of(r.try_get(2)?),
            })
        })
        .collect()
}

fn networks_of(c: &mut impl GenericClient, ip: &[u8], scan: i64) -> Result<Vec<Count>> {
    let peers = c
        .query(
            &format!(
                "SELECT s.peer FROM ({}) m JOIN sightings s ON s.seq = m.seq",
                hits_of()
            ),
            &[&ip, &scan],
        )?
        .iter()
        .map(|r| Ok(r.try_get::<_, String>(0)?))
        .collect::<Result<Vec<String>>>()?;
    Ok(network_counts(peers))
}

fn visits_of(c: &mut impl GenericClient, ip: &[u8]) -> Result<Vec<BaitVisit>> {
    let rows = c.query(
        &format!(
            "SELECT {VISIT_COLS} FROM bait_visits v WHERE v.ip = $1 ORDER BY v.at DESC LIMIT $2"
        ),
        &[&ip, &limit_of(MAX_DETAIL_ROWS)],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.extend(visit_row(r, 0)?);
    }
    Ok(out)
}
