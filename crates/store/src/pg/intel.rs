//! PostgreSQL counterpart of `crate::intel`: the feeds' reads in change order, the feed state,
//! the installation secret and the publication serial.
//!
//! Row decoding is the SQLite module's ([`RawRow::into_row`], [`brief_of`]), so both backends
//! say the same about the same rows. The secret and the serial are shared by every collector:
//! the secret is inserted once (`ON CONFLICT DO NOTHING`, then read back, so two collectors
//! racing at first use both get the one that committed), and the serial row is locked
//! (`FOR UPDATE`) from its read to its update, so serials strictly increase across collectors.

use super::{LOCK_CLOCK, big};
use crate::error::{Result, StoreError};
use crate::intel::{
    CAMPAIGN_COLUMNS, Head, INDICATOR_COLUMNS, IntelCursor, RawRow, brief_of, serial_after,
};
use crate::{Timestamp, unix_nanos};
use model::campaign::CampaignId;
use model::intel::{CampaignBrief, IndicatorRow};
use model::report::IndicatorKind;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{GenericClient, Row};
use sha2::{Digest, Sha256};

/// This module's tables (part of schema version 1, see `schema.rs`): the feed state (SQLite v7).
/// `secret` and `serial` are the store's own keys; the rest are connectors' cursors.
pub(crate) const DDL: &str = "
    CREATE TABLE feed_state (
        key   TEXT PRIMARY KEY,
        value BYTEA NOT NULL
    );
";

/// The change clock for a transaction that stamps `changed_at` (indicators, campaigns): past
/// every stamp already committed. Taken under [`LOCK_CLOCK`] until the transaction ends, so two
/// collectors never commit changes out of clock order (a feed reader paging by `changed_at`
/// would otherwise skip the one that committed second with the smaller stamp).
pub(crate) fn clock(tx: &mut impl GenericClient, now: i64) -> Result<i64> {
    tx.execute(CLOCK_LOCK, &[&LOCK_CLOCK])?;
    let last: i64 = tx.query_one(CLOCK_LAST, &[])?.get(0);
    Ok(now.max(last.saturating_add(1)))
}

/// [`clock`] with the connection's prepared statements (the report save and clustering take
/// it once per batch and per campaign write). Once the transaction holds the clock's lock no
/// other transaction can stamp `changed_at` until it ends, so the largest stamp is the last
/// value this transaction was given: later calls advance that without a round trip.
pub(crate) fn clock_prepared(tx: &mut super::prepared::Tx<'_>, now: i64) -> Result<i64> {
    let last = match tx.clock {
        Some(last) => last,
        None => {
            tx.execute(CLOCK_LOCK, &[&LOCK_CLOCK])?;
            tx.query_one(CLOCK_LAST, &[])?.get(0)
        }
    };
    let next = now.max(last.saturating_add(1));
    tx.clock = Some(next);
    Ok(next)
}

/// The clock's lock, then (a statement of its own, so its snapshot follows the lock) its
/// last value.
const CLOCK_LOCK: &str = "SELECT pg_advisory_xact_lock($1)";
const CLOCK_LAST: &str = "SELECT greatest(coalesce((SELECT max(changed_at) FROM indicators), 0),
                         coalesce((SELECT max(changed_at) FROM campaigns), 0))::BIGINT";

fn indicator_row(r: &Row) -> Result<RawRow> {
    Ok(RawRow {
        id: r.try_get(0)?,
        uuid: r.try_get(1)?,
        kind: r.try_get(2)?,
        value: r.try_get(3)?,
        first_seen: r.try_get(4)?,
        last_seen: r.try_get(5)?,
        count: r.try_get(6)?,
        changed_at: r.try_get(7)?,
        campaign: r.try_get(8)?,
        detail: r.try_get(9)?,
    })
}

/// The kinds as the text array a `kind = ANY($n)` filter takes.
fn kind_names(kinds: &[IndicatorKind]) -> Vec<&'static str> {
    kinds.iter().map(|k| k.as_str()).collect()
}

fn start(after: Option<IntelCursor>) -> IntelCursor {
    after.unwrap_or(IntelCursor {
        at: i64::MIN,
        id: i64::MIN,
    })
}

/// Indicators of `kinds` changed strictly after `after`, in change order.
pub(crate) fn indicators(
    c: &mut impl GenericClient,
    after: Option<IntelCursor>,
    kinds: &[IndicatorKind],
    limit: usize,
) -> Result<Vec<IndicatorRow>> {
    let after = start(after);
    let sql = format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators
         WHERE (changed_at > $1 OR (changed_at = $1 AND id > $2)) AND kind = ANY($3)
         ORDER BY changed_at, id LIMIT $4"
    );
    let rows = c.query(
        &sql,
        &[&after.at, &after.id, &kind_names(kinds), &big(limit)],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        if let Some(row) = indicator_row(r)?.into_row()? {
            out.push(row);
        }
    }
    Ok(out)
}

/// One indicator by its UUID.
pub(crate) fn indicator_by_uuid(
    c: &mut impl GenericClient,
    uuid: uuid::Uuid,
) -> Result<Option<IndicatorRow>> {
    let sql = format!("SELECT {INDICATOR_COLUMNS} FROM indicators WHERE uuid = $1");
    let row = c.query_opt(&sql, &[&uuid.as_bytes().as_slice()])?;
    match row {
        Some(r) => indicator_row(&r)?.into_row(),
        None => Ok(None),
    }
}

/// Streams the indicators of `campaign` (`None`: those in no campaign yet) of `kinds` changed
/// after `since`, in change order. One statement, so one snapshot; its rows are passed on as
/// they arrive from the server, not collected first.
pub(crate) fn for_each_of_campaign(
    c: &mut impl GenericClient,
    campaign: Option<CampaignId>,
    since: Option<Timestamp>,
    kinds: &[IndicatorKind],
    f: &mut dyn FnMut(IndicatorRow) -> Result<()>,
) -> Result<u64> {
    let since = since.map(unix_nanos).unwrap_or(i64::MIN);
    let kinds = kind_names(kinds);
    let (filter, campaign_id) = match campaign {
        Some(id) => ("campaign = $3", id),
        // The parameter is still sent (and unused) so both cases share one parameter list.
        None => ("campaign IS NULL AND $3::BIGINT IS NOT NULL", 0),
    };
    let sql = format!(
        "SELECT {INDICATOR_COLUMNS} FROM indicators
         WHERE {filter} AND changed_at > $1 AND kind = ANY($2)
         ORDER BY changed_at, id"
    );
    let params: [&(dyn ToSql + Sync); 3] = [&since, &kinds, &campaign_id];
    let mut rows = c.query_raw(&sql, params)?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        if let Some(row) = indicator_row(&r)?.into_row()? {
            f(row)?;
            n += 1;
        }
    }
    Ok(n)
}

fn head(r: &Row) -> Result<Head> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
        r.try_get(5)?,
        r.try_get(6)?,
        r.try_get(7)?,
    ))
}

fn brief(c: &mut impl GenericClient, h: Head) -> Result<CampaignBrief> {
    let rows = c.query(
        "SELECT facet, value FROM campaign_facets
         WHERE campaign = $1 AND facet IN ('family', 'yara', 'subject_template', 'source_ip',
                                           'helo', 'sender_domain', 'attachment_kind')
         ORDER BY facet, count DESC, value",
        &[&h.0],
    )?;
    let facets = rows
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<Vec<(String, String)>>>()?;
    brief_of(h, facets)
}

/// Live campaigns changed strictly after `after`, in change order.
pub(crate) fn campaigns(
    c: &mut impl GenericClient,
    after: Option<IntelCursor>,
    limit: usize,
) -> Result<Vec<CampaignBrief>> {
    let after = start(after);
    let sql = format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns
         WHERE merged_into IS NULL AND (changed_at > $1 OR (changed_at = $1 AND id > $2))
         ORDER BY changed_at, id LIMIT $3"
    );
    let heads = c
        .query(&sql, &[&after.at, &after.id, &big(limit)])?
        .iter()
        .map(head)
        .collect::<Result<Vec<_>>>()?;
    heads.into_iter().map(|h| brief(c, h)).collect()
}

/// One campaign (live or merged) by id.
pub(crate) fn campaign(
    c: &mut impl GenericClient,
    id: CampaignId,
) -> Result<Option<CampaignBrief>> {
    let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE id = $1");
    let h = c.query_opt(&sql, &[&id])?.as_ref().map(head).transpose()?;
    h.map(|h| brief(c, h)).transpose()
}

/// One campaign by its public UUID.
pub(crate) fn campaign_by_uuid(
    c: &mut impl GenericClient,
    uuid: uuid::Uuid,
) -> Result<Option<CampaignBrief>> {
    let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE uuid = $1");
    let h = c
        .query_opt(&sql, &[&uuid.as_bytes().as_slice()])?
        .as_ref()
        .map(head)
        .transpose()?;
    h.map(|h| brief(c, h)).transpose()
}

/// Trap domains the store has seen mail for (campaign facet `trap_domain`), bounded.
pub(crate) fn trap_domains_seen(c: &mut impl GenericClient, max: usize) -> Result<Vec<String>> {
    c.query(
        "SELECT DISTINCT value FROM campaign_facets WHERE facet = 'trap_domain' LIMIT $1",
        &[&big(max)],
    )?
    .iter()
    .map(|r| Ok(r.try_get(0)?))
    .collect()
}

/// A value kept for the feeds under `key`.
pub(crate) fn state(c: &mut impl GenericClient, key: &str) -> Result<Option<Vec<u8>>> {
    let row = c.query_opt("SELECT value FROM feed_state WHERE key = $1", &[&key])?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Sets a feed state value.
pub(crate) fn set_state(c: &mut impl GenericClient, key: &str, value: &[u8]) -> Result<()> {
    c.execute(
        "INSERT INTO feed_state (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )?;
    Ok(())
}

/// The installation secret, made on first use by whichever collector commits it first.
pub(crate) fn feed_secret(c: &mut impl GenericClient) -> Result<[u8; 32]> {
    c.execute(
        "INSERT INTO feed_state (key, value) VALUES ('secret', $1) ON CONFLICT (key) DO NOTHING",
        &[&fresh_secret().as_slice()],
    )?;
    let v: Vec<u8> = c
        .query_one("SELECT value FROM feed_state WHERE key = 'secret'", &[])?
        .try_get(0)?;
    v.try_into()
        .map_err(|_| StoreError::corrupt("feed secret is not 32 bytes"))
}

/// 32 random bytes without a dependency of their own: SHA-256 of four random (v4) UUIDs, 488
/// bits from the operating system's generator. (PostgreSQL has no random-bytes function
/// without `pgcrypto`, which a managed server may not offer.)
fn fresh_secret() -> [u8; 32] {
    let mut h = Sha256::new();
    for _ in 0..4 {
        h.update(uuid::Uuid::new_v4().as_bytes());
    }
    h.finalize().into()
}

/// The next publication serial (see `crate::intel::next_serial`), in one transaction that holds
/// the serial's row lock from its read to its update.
pub(crate) fn next_serial(c: &mut postgres::Client, now: Timestamp) -> Result<u32> {
    let mut tx = c.transaction()?;
    // The row exists before it is locked: an absent row cannot be locked, and two collectors
    // would then both start from "none". Zero counts as none (see `serial_after`).
    tx.execute(
        "INSERT INTO feed_state (key, value) VALUES ('serial', $1) ON CONFLICT (key) DO NOTHING",
        &[&0u32.to_be_bytes().as_slice()],
    )?;
    let last: Vec<u8> = tx
        .query_one(
            "SELECT value FROM feed_state WHERE key = 'serial' FOR UPDATE",
            &[],
        )?
        .try_get(0)?;
    let next = serial_after(Some(last.as_slice()), now);
    tx.execute(
        "UPDATE feed_state SET value = $1 WHERE key = 'serial'",
        &[&next.to_be_bytes().as_slice()],
    )?;
    tx.commit()?;
    Ok(next)
}
