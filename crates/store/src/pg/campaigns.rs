//! PostgreSQL counterpart of `crate::campaigns`: the clustering step's statements.
//!
//! `Store::cluster` runs a step in one transaction that first takes [`super::LOCK_CLUSTER`], so
//! one step runs at a time across collectors, as SQLite's immediate transaction does on one
//! host: two collectors clustering the same reports would otherwise both create a campaign for
//! them. Reads are plain `READ COMMITTED` statements; under the lock no other step writes the
//! campaign tables, and the only other writer of `campaigns` rows is `annotate_campaign`.
//!
//! Lock order: every statement here that locks a row another transaction may also lock
//! (`reports`, `indicators`, `campaigns`) comes after the feeds' change clock
//! ([`super::LOCK_CLOCK`], taken by [`super::intel::clock`] or [`lock_clock`]). Report saves
//! and `annotate_campaign` take the clock before their row locks too, so the two orders never
//! cross into a deadlock. The clock is held from the step's first such write to its commit.

use super::{LOCK_CLOCK, big};
use crate::campaigns::{
    MAX_FACET_VALUES, MAX_POSTING, Unclustered, class_of, hour_of, json, severity_rank,
};
use crate::error::Result;
use crate::query::parse_json;
use crate::{Timestamp, unix_nanos};
use model::VerdictClass;
use model::campaign::{CampaignId, CampaignProfile};
use std::collections::{BTreeMap, HashMap, HashSet};

/// This module's tables (part of schema version 1, see `schema.rs`): SQLite schema v6 and the
/// v7 `changed_at` column. `BIGSERIAL` ids are never reused, unlike SQLite's rowids after a
/// rolled-back step; nothing depends on the reuse.
pub(crate) const DDL: &str = "
    CREATE TABLE campaigns (
        id          BIGSERIAL PRIMARY KEY,
        uuid        BYTEA NOT NULL UNIQUE,
        first_seen  BIGINT NOT NULL,      -- earliest sighting, unix nanoseconds
        last_seen   BIGINT NOT NULL,
        messages    BIGINT NOT NULL,      -- sightings assigned (including merged-in ones)
        verdict     TEXT NOT NULL,        -- the most severe class among its messages
        label       TEXT NOT NULL DEFAULT '',
        notes       TEXT NOT NULL DEFAULT '',
        merged_into BIGINT,               -- campaigns.id when folded into another
        profile     TEXT NOT NULL,        -- model::CampaignProfile JSON
        changed_at  BIGINT NOT NULL DEFAULT 0  -- the feeds' change clock (intel.rs)
    );
    CREATE INDEX campaigns_by_last_seen ON campaigns(last_seen);
    CREATE INDEX campaigns_by_change ON campaigns(changed_at, id);

    -- Inverted index for candidate lookup: analysis::cluster keys -> live campaigns.
    CREATE TABLE campaign_keys (
        key      BIGINT NOT NULL,
        campaign BIGINT NOT NULL,
        PRIMARY KEY (key, campaign)
    );
    CREATE INDEX campaign_keys_by_campaign ON campaign_keys(campaign);

    CREATE TABLE campaign_facets (
        campaign   BIGINT NOT NULL,
        facet      TEXT NOT NULL,
        value      TEXT NOT NULL,
        count      BIGINT NOT NULL,
        first_seen BIGINT NOT NULL,
        last_seen  BIGINT NOT NULL,
        PRIMARY KEY (campaign, facet, value)
    );
    CREATE TABLE campaign_distinct (
        campaign BIGINT NOT NULL,
        facet    TEXT NOT NULL,
        n        BIGINT NOT NULL,
        PRIMARY KEY (campaign, facet)
    );
    -- Messages per hour; campaign 0 is the whole trap.
    CREATE TABLE campaign_rate (
        campaign BIGINT NOT NULL,
        hour     BIGINT NOT NULL,         -- unix seconds at the start of the hour
        messages BIGINT NOT NULL,
        PRIMARY KEY (campaign, hour)
    );
    -- \"by\" is a reserved word in PostgreSQL (SQLite let it pass unquoted).
    CREATE TABLE campaign_merges (
        seq      BIGSERIAL PRIMARY KEY,
        from_id  BIGINT NOT NULL,
        into_id  BIGINT NOT NULL,
        at       BIGINT NOT NULL,
        \"by\"     TEXT NOT NULL,         -- cluster | analyst
        detail   TEXT NOT NULL
    );
    CREATE INDEX campaign_merges_by_into ON campaign_merges(into_id);
    CREATE INDEX campaign_merges_by_from ON campaign_merges(from_id);
    -- Facet values the trap has ever seen (for 'never seen before' rules).
    CREATE TABLE novelty (
        facet      TEXT NOT NULL,
        value      TEXT NOT NULL,
        first_seen BIGINT NOT NULL,
        PRIMARY KEY (facet, value)
    );
    -- The clustering step's reads of reports (the column is in reports.rs's DDL). IF NOT
    -- EXISTS: the reports module may create the same indexes under these names.
    CREATE INDEX IF NOT EXISTS reports_unclustered ON reports(seq) WHERE campaign IS NULL;
    CREATE INDEX IF NOT EXISTS reports_by_campaign ON reports(campaign, received_at);
";

/// A clustering step's transaction: it runs the same few statements for every message it
/// places, each prepared once per connection (`prepared.rs`).
pub(crate) type Step<'a> = super::prepared::Tx<'a>;

/// Takes the feeds' change clock lock before a row lock that `annotate_campaign` or a report
/// save may also want (see the module doc): they take the clock first, so must this step.
fn lock_clock(tx: &mut Step<'_>) -> Result<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_CLOCK])?;
    Ok(())
}

/// Up to `max` reports not yet in a campaign, oldest first, with their sightings.
pub(crate) fn pending(tx: &mut Step<'_>, max: usize) -> Result<Vec<Unclustered>> {
    let rows = tx.query(
        "SELECT r.seq, r.json, s.json FROM reports r JOIN sightings s ON s.id = r.sighting_id
         WHERE r.campaign IS NULL ORDER BY r.seq LIMIT $1",
        &[&big(max)],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Unclustered {
                seq: r.try_get(0)?,
                report: parse_json(r.try_get(1)?, "report")?,
                sighting: parse_json(r.try_get(2)?, "sighting")?,
            })
        })
        .collect()
}

/// Campaigns sharing `keys`, most shared first; one query for all keys (each key's posting
/// read up to one past [`MAX_POSTING`], to tell a generic key from a full one).
pub(crate) fn candidates(
    tx: &mut Step<'_>,
    keys: &[i64],
    max: usize,
) -> Result<Vec<(CampaignId, u32)>> {
    let mut seen = HashSet::with_capacity(keys.len());
    let distinct: Vec<i64> = keys.iter().copied().filter(|k| seen.insert(*k)).collect();
    if distinct.is_empty() {
        return Ok(Vec::new());
    }
    let rows = tx.query(
        "SELECT k.key, c.campaign FROM unnest($1::BIGINT[]) AS k(key)
         CROSS JOIN LATERAL (SELECT campaign FROM campaign_keys
                             WHERE campaign_keys.key = k.key LIMIT $2) c",
        &[&distinct, &big(MAX_POSTING + 1)],
    )?;
    let mut postings: HashMap<i64, Vec<CampaignId>> = HashMap::new();
    for r in &rows {
        postings
            .entry(r.try_get(0)?)
            .or_default()
            .push(r.try_get(1)?);
    }
    let mut hits: BTreeMap<CampaignId, u32> = BTreeMap::new();
    for posting in postings.into_values() {
        if posting.len() > MAX_POSTING {
            continue;
        }
        for c in posting {
            *hits.entry(c).or_default() += 1;
        }
    }
    let mut out: Vec<(CampaignId, u32)> = hits.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(max);
    Ok(out)
}

/// The profile of a live (not merged) campaign.
pub(crate) fn profile(tx: &mut Step<'_>, id: CampaignId) -> Result<Option<CampaignProfile>> {
    let row = tx.query_opt(
        "SELECT profile FROM campaigns WHERE id = $1 AND merged_into IS NULL",
        &[&id],
    )?;
    row.map(|r| parse_json(r.try_get(0)?, "campaign profile"))
        .transpose()
}

/// Creates a campaign for its first message and returns its id.
pub(crate) fn create(
    tx: &mut Step<'_>,
    at: Timestamp,
    profile: &CampaignProfile,
) -> Result<CampaignId> {
    let uuid = uuid::Uuid::now_v7();
    let row = tx.query_one(
        "INSERT INTO campaigns (uuid, first_seen, last_seen, messages, verdict, profile)
         VALUES ($1, $2, $2, 0, 'benign', $3) RETURNING id",
        &[
            &uuid.as_bytes().as_slice(),
            &unix_nanos(at),
            &json(profile)?,
        ],
    )?;
    Ok(row.try_get(0)?)
}

/// Replaces a campaign's profile.
pub(crate) fn set_profile(
    tx: &mut Step<'_>,
    id: CampaignId,
    profile: &CampaignProfile,
) -> Result<()> {
    lock_clock(tx)?;
    tx.execute(
        "UPDATE campaigns SET profile = $2 WHERE id = $1",
        &[&id, &json(profile)?],
    )?;
    Ok(())
}

/// Adds `keys` to the inverted index for `id`, except keys already shared by more than
/// [`MAX_POSTING`] campaigns (counted up to one past it, as SQLite does).
pub(crate) fn index_keys(tx: &mut Step<'_>, id: CampaignId, keys: &[i64]) -> Result<()> {
    let mut seen = HashSet::with_capacity(keys.len());
    let distinct: Vec<i64> = keys.iter().copied().filter(|k| seen.insert(*k)).collect();
    if distinct.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO campaign_keys (key, campaign)
         SELECT k, $2::BIGINT FROM unnest($1::BIGINT[]) AS k
         WHERE (SELECT count(*) FROM (SELECT 1 FROM campaign_keys
                                      WHERE key = k LIMIT $3) p) <= $4
         ON CONFLICT DO NOTHING",
        &[&distinct, &id, &big(MAX_POSTING + 1), &big(MAX_POSTING)],
    )?;
    Ok(())
}

/// Puts a report's message into campaign `id` (see `CampaignTx::assign`). The statements of
/// SQLite's version, folded where one round trip can do two statements' work: the clustering
/// step holds the cluster lock (and the clock) for all of its assigns.
pub(crate) fn assign(
    tx: &mut Step<'_>,
    seq: i64,
    id: CampaignId,
    at: Timestamp,
    class: VerdictClass,
    facets: &[(&str, String)],
) -> Result<()> {
    // The clock first: it orders this step's row locks after the clock lock (module doc).
    let changed = super::intel::clock_prepared(tx, unix_nanos(model::now()))?;
    // The report joins the campaign, and (feeds) its indicators without a campaign get one.
    tx.execute(
        "WITH r AS (UPDATE reports SET campaign = $2 WHERE seq = $1 RETURNING sighting_id)
         UPDATE indicators SET campaign = $2, changed_at = $3
         WHERE campaign IS NULL AND id IN (
             SELECT l.indicator FROM indicator_sightings l JOIN r ON r.sighting_id = l.sighting)",
        &[&seq, &id, &changed],
    )?;
    // The more severe verdict, decided by the update itself: the classes go in by rank, and a
    // stored verdict that is no class ranks as the default one (`class_of`) and becomes it.
    let mut ranked = VerdictClass::ALL;
    ranked.sort_by_key(|c| severity_rank(*c));
    let ranked: Vec<&str> = ranked.iter().map(|c| c.as_str()).collect();
    let t = unix_nanos(at);
    tx.execute(
        "UPDATE campaigns SET messages = messages + 1, first_seen = least(first_seen, $2),
         last_seen = greatest(last_seen, $2), changed_at = $4,
         verdict = CASE
             WHEN array_position($5::text[], $3::text)
                  > coalesce(array_position($5::text[], verdict), array_position($5::text[], $6))
             THEN $3
             ELSE coalesce($5[array_position($5::text[], verdict)], $6) END
         WHERE id = $1",
        &[
            &id,
            &t,
            &class.as_str(),
            &changed,
            &ranked,
            &VerdictClass::default().as_str(),
        ],
    )?;
    // The campaign's hour and the trap's (campaign 0; a campaign id is never 0).
    tx.execute(
        "INSERT INTO campaign_rate (campaign, hour, messages) VALUES ($1, $2, 1), (0, $2, 1)
         ON CONFLICT (campaign, hour) DO UPDATE SET messages = campaign_rate.messages + 1",
        &[&id, &hour_of(at)],
    )?;
    let seen: Vec<Seen<'_>> = facets
        .iter()
        .map(|(facet, value)| Seen {
            facet,
            value,
            n: 1,
            first: t,
            last: t,
        })
        .collect();
    add_facets(tx, id, &seen)
}

/// A facet value seen `n` times between `first` and `last` (unix nanoseconds).
struct Seen<'s> {
    facet: &'s str,
    value: &'s str,
    n: i64,
    first: i64,
    last: i64,
}

/// Counts facet values, as SQLite's `add_facet` does one by one: a stored value is updated; a
/// value not stored yet is stored while its facet holds fewer than [`MAX_FACET_VALUES`], and
/// counted as distinct either way. One statement per round, each round holding at most one
/// value per facet: the bound is checked against what earlier rounds stored, which a single
/// statement (one snapshot) could not see. Values of different facets touch different rows, so
/// only the order within a facet matters, and rounds keep it.
fn add_facets(tx: &mut Step<'_>, id: CampaignId, seen: &[Seen<'_>]) -> Result<()> {
    let mut rounds: Vec<Vec<&Seen<'_>>> = Vec::new();
    let mut occurrences: HashMap<&str, usize> = HashMap::new();
    for s in seen {
        let k = occurrences.entry(s.facet).or_default();
        if rounds.len() <= *k {
            rounds.push(Vec::new());
        }
        rounds[*k].push(s);
        *k += 1;
    }
    for round in rounds {
        let facet: Vec<&str> = round.iter().map(|s| s.facet).collect();
        let value: Vec<&str> = round.iter().map(|s| s.value).collect();
        let n: Vec<i64> = round.iter().map(|s| s.n).collect();
        let first: Vec<i64> = round.iter().map(|s| s.first).collect();
        let last: Vec<i64> = round.iter().map(|s| s.last).collect();
        tx.execute(
            ADD_FACETS,
            &[
                &id,
                &facet,
                &value,
                &n,
                &first,
                &last,
                &big(MAX_FACET_VALUES),
            ],
        )?;
    }
    Ok(())
}

/// One round of [`add_facets`]: `updated` are the stored values, `fresh` the others (one value
/// per facet, so a facet in `updated` has no fresh value).
const ADD_FACETS: &str = "
    WITH v AS (
        SELECT * FROM unnest($2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[])
            AS v(facet, value, n, first_seen, last_seen)
    ), updated AS (
        UPDATE campaign_facets f SET count = f.count + v.n,
               first_seen = least(f.first_seen, v.first_seen),
               last_seen = greatest(f.last_seen, v.last_seen)
        FROM v WHERE f.campaign = $1::BIGINT AND f.facet = v.facet AND f.value = v.value
        RETURNING f.facet
    ), fresh AS (
        SELECT * FROM v WHERE facet NOT IN (SELECT facet FROM updated)
    ), stored AS (
        INSERT INTO campaign_facets (campaign, facet, value, count, first_seen, last_seen)
        SELECT $1::BIGINT, facet, value, n, first_seen, last_seen FROM fresh
        WHERE (SELECT count(*) FROM (SELECT 1 FROM campaign_facets c
                                     WHERE c.campaign = $1::BIGINT AND c.facet = fresh.facet
                                     LIMIT $7::BIGINT) p) < $7::BIGINT
        RETURNING 1
    )
    INSERT INTO campaign_distinct (campaign, facet, n)
    SELECT $1::BIGINT, facet, 1 FROM fresh
    ON CONFLICT (campaign, facet) DO UPDATE SET n = campaign_distinct.n + 1";

/// Records that the trap saw `value` of `facet` at `at`; true when it never had before.
pub(crate) fn novel(tx: &mut Step<'_>, facet: &str, value: &str, at: Timestamp) -> Result<bool> {
    let n = tx.execute(
        "INSERT INTO novelty (facet, value, first_seen) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        &[&facet, &value, &unix_nanos(at)],
    )?;
    Ok(n == 1)
}

/// Folds campaign `from` into `into` (see `CampaignTx::merge`, which refuses `from == into`).
pub(crate) fn merge(
    tx: &mut Step<'_>,
    from: CampaignId,
    into: CampaignId,
    profile: &CampaignProfile,
    by: &str,
    detail: &str,
    at: Timestamp,
) -> Result<()> {
    let changed = super::intel::clock_prepared(tx, unix_nanos(model::now()))?;
    tx.execute(
        "UPDATE reports SET campaign = $2 WHERE campaign = $1",
        &[&from, &into],
    )?;
    tx.execute(
        "UPDATE indicators SET campaign = $2, changed_at = $3 WHERE campaign = $1",
        &[&from, &into, &changed],
    )?;
    tx.execute(
        "UPDATE campaigns SET changed_at = $2 WHERE id IN ($1, $3)",
        &[&from, &changed, &into],
    )?;
    tx.execute(
        "INSERT INTO campaign_keys (key, campaign)
         SELECT key, $2::BIGINT FROM campaign_keys WHERE campaign = $1
         ON CONFLICT DO NOTHING",
        &[&from, &into],
    )?;
    tx.execute("DELETE FROM campaign_keys WHERE campaign = $1", &[&from])?;
    let facets = tx.query(
        "SELECT facet, value, count, first_seen, last_seen FROM campaign_facets
         WHERE campaign = $1",
        &[&from],
    )?;
    let seen = facets
        .iter()
        .map(|r| {
            Ok(Seen {
                facet: r.try_get(0)?,
                value: r.try_get(1)?,
                n: r.try_get(2)?,
                first: r.try_get(3)?,
                last: r.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    add_facets(tx, into, &seen)?;
    // Values beyond the bound were only counted: carry those counts over as well.
    tx.execute(
        "UPDATE campaign_distinct SET n = n + coalesce((
             SELECT d.n - (SELECT count(*) FROM campaign_facets f
                           WHERE f.campaign = $1 AND f.facet = d.facet)
             FROM campaign_distinct d WHERE d.campaign = $1
               AND d.facet = campaign_distinct.facet), 0)
         WHERE campaign = $2",
        &[&from, &into],
    )?;
    tx.execute("DELETE FROM campaign_facets WHERE campaign = $1", &[&from])?;
    tx.execute(
        "DELETE FROM campaign_distinct WHERE campaign = $1",
        &[&from],
    )?;
    tx.execute(
        "INSERT INTO campaign_rate (campaign, hour, messages)
         SELECT $2::BIGINT, hour, messages FROM campaign_rate WHERE campaign = $1
         ON CONFLICT (campaign, hour)
         DO UPDATE SET messages = campaign_rate.messages + excluded.messages",
        &[&from, &into],
    )?;
    tx.execute("DELETE FROM campaign_rate WHERE campaign = $1", &[&from])?;
    let r = tx.query_one(
        "SELECT messages, first_seen, last_seen, verdict FROM campaigns WHERE id = $1",
        &[&from],
    )?;
    let (messages, first, last, verdict): (i64, i64, i64, String) =
        (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
    let into_verdict: String = tx
        .query_one("SELECT verdict FROM campaigns WHERE id = $1", &[&into])?
        .try_get(0)?;
    let verdict = if severity_rank(class_of(&verdict)) > severity_rank(class_of(&into_verdict)) {
        verdict
    } else {
        into_verdict
    };
    tx.execute(
        "UPDATE campaigns SET messages = messages + $2, first_seen = least(first_seen, $3),
         last_seen = greatest(last_seen, $4), verdict = $5, profile = $6 WHERE id = $1",
        &[&into, &messages, &first, &last, &verdict, &json(profile)?],
    )?;
    tx.execute(
        "UPDATE campaigns SET merged_into = $2 WHERE id = $1",
        &[&from, &into],
    )?;
    // Earlier merges into `from` now lead to `into`.
    tx.execute(
        "UPDATE campaigns SET merged_into = $2 WHERE merged_into = $1",
        &[&from, &into],
    )?;
    tx.execute(
        "INSERT INTO campaign_merges (from_id, into_id, at, \"by\", detail)
         VALUES ($1, $2, $3, $4, $5)",
        &[&from, &into, &unix_nanos(at), &by, &detail],
    )?;
    Ok(())
}
