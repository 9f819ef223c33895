//! Intel for the feeds (schema v7): indicators and campaigns in change order, each indicator
//! with its campaign and, for files, the file's facts.
//!
//! Feeds need "what changed since X" (deltas, TAXII `added_after`) and stable ids. So every
//! write that changes what a feed would say about an indicator or a campaign stamps
//! `changed_at` from one change clock, taken inside the write transaction: the clock never
//! goes backwards, even when the system clock does, so a consumer that remembers the last
//! `changed_at` it saw never misses a change (`clock`). Each indicator gets a random UUIDv4
//! at its first insert (last 4 bits zero, see `model::intel::IndicatorRow::uuid`).

use crate::error::{Result, StoreError};
use crate::query::from_nanos;
use crate::{Timestamp, unix_nanos};
use model::campaign::CampaignId;
use model::intel::{CampaignBrief, FileFacts, IndicatorRow};
use model::report::{IndicatorKind, Report};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

/// Values per facet in a campaign brief.
pub const BRIEF_FACET_VALUES: usize = 20;

/// A position in change order: strictly after `(at, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IntelCursor {
    /// `changed_at`, unix nanoseconds.
    pub at: i64,
    pub id: i64,
}

/// A fresh indicator UUID: random v4 with the last 4 bits zero (the STIX "slot" bits).
pub(crate) fn new_indicator_uuid() -> uuid::Uuid {
    let mut b = *uuid::Uuid::new_v4().as_bytes();
    b[15] &= 0xf0;
    uuid::Uuid::from_bytes(b)
}

/// The change clock: `now`, or one past the latest change when the system clock is behind.
pub(crate) fn clock(conn: &Connection, now: i64) -> Result<i64> {
    let last: i64 = conn
        .prepare_cached(
            "SELECT max(coalesce((SELECT max(changed_at) FROM indicators), 0),
                        coalesce((SELECT max(changed_at) FROM campaigns), 0))",
        )?
        .query_row([], |r| r.get(0))?;
    Ok(now.max(last.saturating_add(1)))
}

/// The facts of file indicator `sha256` from the report that saw it.
pub(crate) fn file_facts(report: &Report, sha256: &str) -> Option<String> {
    let a = report
        .artifacts
        .iter()
        .find(|a| a.hashes.sha256 == sha256)?;
    let mut chain: Vec<&str> = Vec::new();
    let mut cur = Some(a);
    // Bounded by the artifact count (parents have smaller indexes; a malformed report with a
    // cycle stops at the bound).
    for _ in 0..=report.artifacts.len() {
        let Some(x) = cur else { break };
        chain.push(&x.kind);
        cur = x
            .parent
            .and_then(|p| report.artifacts.iter().find(|y| y.index == p));
    }
    chain.reverse();
    let facts = FileFacts {
        md5: a.hashes.md5.clone(),
        sha1: a.hashes.sha1.clone(),
        sha512: a.hashes.sha512.clone(),
        ssdeep: a.hashes.ssdeep.clone(),
        tlsh: a.hashes.tlsh.clone(),
        size: a.size,
        kind: a.kind.clone(),
        mime: a.declared_type.clone(),
        name: a.name.clone(),
        chain: chain.join(">"),
    };
    serde_json::to_string(&facts).ok()
}

/// Fills the v7 columns of rows written before v7: UUIDs, change times (their last sighting),
/// campaigns (from the reports). File facts stay empty until `reanalyze`.
pub(crate) fn backfill_v7(tx: &Transaction<'_>) -> Result<()> {
    let ids: Vec<i64> = tx
        .prepare("SELECT id FROM indicators WHERE uuid IS NULL")?
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    let mut set =
        tx.prepare("UPDATE indicators SET uuid = ?2, changed_at = last_seen WHERE id = ?1")?;
    for id in ids {
        set.execute((id, new_indicator_uuid().as_bytes().to_vec()))?;
    }
    tx.execute_batch(
        "UPDATE indicators SET campaign = (
             SELECT r.campaign FROM indicator_sightings l JOIN reports r ON r.sighting_id = l.sighting
             WHERE l.indicator = indicators.id AND r.campaign IS NOT NULL
             ORDER BY r.received_at LIMIT 1);
         UPDATE campaigns SET changed_at = last_seen;",
    )?;
    Ok(())
}

/// The columns [`RawRow`] is read from, in its field order (both backends).
pub(crate) const INDICATOR_COLUMNS: &str =
    "id, uuid, kind, value, first_seen, last_seen, count, changed_at, campaign, detail";

fn indicator_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        id: r.get(0)?,
        uuid: r.get(1)?,
        kind: r.get(2)?,
        value: r.get(3)?,
        first_seen: r.get(4)?,
        last_seen: r.get(5)?,
        count: r.get(6)?,
        changed_at: r.get(7)?,
        campaign: r.get(8)?,
        detail: r.get(9)?,
    })
}

/// An indicator row as stored, before its kind and times are checked.
pub(crate) struct RawRow {
    pub(crate) id: i64,
    pub(crate) uuid: Option<Vec<u8>>,
    pub(crate) kind: String,
    pub(crate) value: String,
    pub(crate) first_seen: i64,
    pub(crate) last_seen: i64,
    pub(crate) count: i64,
    pub(crate) changed_at: i64,
    pub(crate) campaign: Option<i64>,
    pub(crate) detail: Option<String>,
}

impl RawRow {
    /// `None` for kinds this build does not know (a newer writer): skipped, not an error.
    pub(crate) fn into_row(self) -> Result<Option<IndicatorRow>> {
        let Some(kind) = IndicatorKind::parse(&self.kind) else {
            return Ok(None);
        };
        let uuid = match self.uuid.as_deref().map(uuid::Uuid::from_slice) {
            Some(Ok(u)) => u,
            _ => {
                return Err(StoreError::corrupt(format!(
                    "indicator {} has no uuid",
                    self.id
                )));
            }
        };
        let file = self
            .detail
            .as_deref()
            .and_then(|d| serde_json::from_str::<FileFacts>(d).ok());
        Ok(Some(IndicatorRow {
            id: self.id,
            uuid,
            kind,
            value: self.value,
            first_seen: from_nanos(self.first_seen)?,
            last_seen: from_nanos(self.last_seen)?,
            count: u64::try_from(self.count).unwrap_or(0),
            changed_at: from_nanos(self.changed_at)?,
            campaign: self.campaign,
            file,
        }))
    }
}

/// `,url,domain,` for `instr()` filtering.
fn kind_list(kinds: &[IndicatorKind]) -> String {
    let mut s = String::from(",");
    for k in kinds {
        s.push_str(k.as_str());
        s.push(',');
    }
    s
}

fn limit_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Indicators of `kinds` changed strictly after `after`, in change order.
pub(crate) fn indicators(
    conn: &Connection,
    after: Option<IntelCursor>,
    kinds: &[IndicatorKind],
    limit: usize,
) -> Result<Vec<IndicatorRow>> {
    let after = after.unwrap_or(IntelCursor {
        at: i64::MIN,
        id: i64::MIN,
    });
    let sql = format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators
         WHERE (changed_at > ?1 OR (changed_at = ?1 AND id > ?2)) AND instr(?3, ',' || kind || ',') > 0
         ORDER BY changed_at, id LIMIT ?4"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(
            (after.at, after.id, kind_list(kinds), limit_i64(limit)),
            indicator_row,
        )?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    rows.into_iter()
        .filter_map(|r| r.into_row().transpose())
        .collect()
}

/// One indicator by its UUID.
pub(crate) fn indicator_by_uuid(
    conn: &Connection,
    uuid: uuid::Uuid,
) -> Result<Option<IndicatorRow>> {
    let sql = format!("SELECT {INDICATOR_COLUMNS} FROM indicators WHERE uuid = ?1");
    let row = conn
        .prepare_cached(&sql)?
        .query_row([uuid.as_bytes().to_vec()], indicator_row)
        .optional()?;
    Ok(row.map(RawRow::into_row).transpose()?.flatten())
}

/// Streams the indicators of `campaign` (`None`: those in no campaign yet) of `kinds` changed
/// after `since`, in change order, without collecting them. Returns how many were passed.
pub(crate) fn for_each_of_campaign(
    conn: &Connection,
    campaign: Option<CampaignId>,
    since: Option<Timestamp>,
    kinds: &[IndicatorKind],
    f: &mut dyn FnMut(IndicatorRow) -> Result<()>,
) -> Result<u64> {
    let since = since.map(unix_nanos).unwrap_or(i64::MIN);
    let sql = match campaign {
        Some(_) => format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators
             WHERE campaign = ?1 AND changed_at > ?2 AND instr(?3, ',' || kind || ',') > 0
             ORDER BY changed_at, id"
        ),
        None => format!(
            "SELECT {INDICATOR_COLUMNS} FROM indicators
             WHERE campaign IS NULL AND ?1 IS NULL AND changed_at > ?2
               AND instr(?3, ',' || kind || ',') > 0
             ORDER BY changed_at, id"
        ),
    };
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query((campaign, since, kind_list(kinds)))?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        if let Some(row) = indicator_row(r)?.into_row()? {
            f(row)?;
            n += 1;
        }
    }
    Ok(n)
}

/// A campaign row as stored: the [`CAMPAIGN_COLUMNS`], in order.
pub(crate) type Head = (CampaignId, Vec<u8>, String, i64, i64, i64, String, i64);

/// The columns of a [`Head`] (both backends).
pub(crate) const CAMPAIGN_COLUMNS: &str =
    "id, uuid, label, first_seen, last_seen, messages, verdict, changed_at";

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
    ))
}

fn brief(conn: &Connection, h: Head) -> Result<CampaignBrief> {
    let mut stmt = conn.prepare_cached(
        "SELECT facet, value FROM campaign_facets
         WHERE campaign = ?1 AND facet IN ('family', 'yara', 'subject_template', 'source_ip',
                                           'helo', 'sender_domain', 'attachment_kind')
         ORDER BY facet, count DESC, value",
    )?;
    let facets = stmt
        .query_map([h.0], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<std::result::Result<Vec<(String, String)>, _>>()?;
    brief_of(h, facets)
}

/// A campaign's brief from its row and its facet values (`(facet, value)`, each facet's most
/// frequent first): what both backends build a brief from.
pub(crate) fn brief_of(h: Head, facets: Vec<(String, String)>) -> Result<CampaignBrief> {
    let (id, uuid, label, first, last, messages, verdict, changed) = h;
    let mut b = CampaignBrief {
        id,
        uuid: crate::campaigns::uuid_col(&uuid)?,
        label,
        first_seen: from_nanos(first)?,
        last_seen: from_nanos(last)?,
        messages: u64::try_from(messages).unwrap_or(0),
        verdict: crate::campaigns::class_of(&verdict),
        families: Vec::new(),
        yara: Vec::new(),
        subjects: Vec::new(),
        source_ips: Vec::new(),
        helos: Vec::new(),
        sender_domains: Vec::new(),
        attachment_kinds: Vec::new(),
        changed_at: from_nanos(changed)?,
    };
    for (facet, value) in facets {
        let list = match facet.as_str() {
            "family" => &mut b.families,
            "yara" => &mut b.yara,
            "subject_template" => &mut b.subjects,
            "source_ip" => &mut b.source_ips,
            "helo" => &mut b.helos,
            "sender_domain" => &mut b.sender_domains,
            _ => &mut b.attachment_kinds,
        };
        if list.len() < BRIEF_FACET_VALUES {
            list.push(value);
        }
    }
    Ok(b)
}

/// Live campaigns changed strictly after `after`, in change order.
pub(crate) fn campaigns(
    conn: &Connection,
    after: Option<IntelCursor>,
    limit: usize,
) -> Result<Vec<CampaignBrief>> {
    let after = after.unwrap_or(IntelCursor {
        at: i64::MIN,
        id: i64::MIN,
    });
    let sql = format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns
         WHERE merged_into IS NULL AND (changed_at > ?1 OR (changed_at = ?1 AND id > ?2))
         ORDER BY changed_at, id LIMIT ?3"
    );
    let heads = conn
        .prepare_cached(&sql)?
        .query_map((after.at, after.id, limit_i64(limit)), head)?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    heads.into_iter().map(|h| brief(conn, h)).collect()
}

/// One campaign (live or merged) by id.
pub(crate) fn campaign(conn: &Connection, id: CampaignId) -> Result<Option<CampaignBrief>> {
    let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = ?1");
    let h = conn
        .prepare_cached(&sql)?
        .query_row([id], head)
        .optional()?;
    h.map(|h| brief(conn, h)).transpose()
}

/// One campaign by its public UUID.
pub(crate) fn campaign_by_uuid(
    conn: &Connection,
    uuid: uuid::Uuid,
) -> Result<Option<CampaignBrief>> {
    let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE uuid = ?1");
    let h = conn
        .prepare_cached(&sql)?
        .query_row([uuid.as_bytes().to_vec()], head)
        .optional()?;
    h.map(|h| brief(conn, h)).transpose()
}

/// Trap domains the store has seen mail for (campaign facet `trap_domain`), bounded.
pub(crate) fn trap_domains_seen(conn: &Connection, max: usize) -> Result<Vec<String>> {
    let rows = conn
        .prepare_cached(
            "SELECT DISTINCT value FROM campaign_facets WHERE facet = 'trap_domain' LIMIT ?1",
        )?
        .query_map([limit_i64(max)], |r| r.get(0))?
        .collect::<std::result::Result<Vec<String>, _>>()?;
    Ok(rows)
}

/// A value kept for the feeds (a connector's cursor, say) under `key`.
pub(crate) fn state(conn: &Connection, key: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT value FROM feed_state WHERE key = ?1")?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

/// Sets a feed state value (durable with the next commit of the index).
pub(crate) fn set_state(conn: &mut Connection, key: &str, value: &[u8]) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT INTO feed_state (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )?;
    tx.commit()?;
    Ok(())
}

/// The installation secret for stable feed ids and pseudonyms, made on first use.
pub(crate) fn feed_secret(conn: &mut Connection) -> Result<[u8; 32]> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute(
        "INSERT OR IGNORE INTO feed_state (key, value) VALUES ('secret', randomblob(32))",
        [],
    )?;
    let v: Vec<u8> = tx.query_row(
        "SELECT value FROM feed_state WHERE key = 'secret'",
        [],
        |r| r.get(0),
    )?;
    tx.commit()?;
    v.try_into()
        .map_err(|_| StoreError::corrupt("feed secret is not 32 bytes"))
}

/// The next publication serial (RPZ SOA): `YYYYMMDDnn` of `now` when that is larger than the
/// last one, else the last one plus one.
pub(crate) fn next_serial(conn: &mut Connection, now: Timestamp) -> Result<u32> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let last: Option<Vec<u8>> = tx
        .query_row(
            "SELECT value FROM feed_state WHERE key = 'serial'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let next = serial_after(last.as_deref(), now);
    tx.execute(
        "INSERT INTO feed_state (key, value) VALUES ('serial', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [next.to_be_bytes().to_vec()],
    )?;
    tx.commit()?;
    Ok(next)
}

/// The serial that follows the stored one (`last`: 4 bytes big-endian; none or malformed counts
/// as 0): today's `YYYYMMDD00`, or the last one plus one.
pub(crate) fn serial_after(last: Option<&[u8]>, now: Timestamp) -> u32 {
    let last = last
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(u32::from_be_bytes)
        .unwrap_or(0);
    let date = u32::try_from(now.year()).unwrap_or(1970) * 1_000_000
        + u32::from(u8::from(now.month())) * 10_000
        + u32::from(now.day()) * 100;
    date.max(last.wrapping_add(1))
}
