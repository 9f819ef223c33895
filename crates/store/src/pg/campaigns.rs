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
//! and `annotate_campaign` take the clock before they lock any row this step writes (a save
//! writes its new reports and their index rows first, rows no step can see yet), so the two
//! orders never cross into a deadlock. The clock is held from the step's first such write to
//! its commit.

use super::big;
use super::facets::Seen;
use crate::campaigns::{MAX_POSTING, Unclustered, class_of, hour_of, json, severity_rank, status};
use crate::error::Result;
use crate::query::parse_json;
use crate::{Timestamp, unix_nanos};
use model::campaign::{CampaignId, CampaignProfile};
use model::{Campaign, VerdictClass};
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashSet};

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

use super::step::Counts;
pub(crate) use super::step::Step;

/// Takes the feeds' change clock lock before a row lock that `annotate_campaign` or a report
/// save may also want (see the module doc): they take the clock first, so must this step.
/// Once the step holds the clock (it took its value), there is nothing to take.
fn lock_clock(tx: &mut Step<'_>) -> Result<()> {
    if tx.clock.is_none() {
        super::intel::clock_prepared(tx, 0)?;
    }
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

/// Campaigns sharing `keys`, most shared first. The postings come from the step's memory
/// (`step.rs`); keys it does not know yet are read with one query (each key's posting read up
/// to one past [`MAX_POSTING`], to tell a generic key from a full one) and remembered. The
/// same statement brings the profiles of the campaigns it ranks first among those keys (a
/// profile it missed is read by [`profile`]).
pub(crate) fn candidates(
    tx: &mut Step<'_>,
    keys: &[i64],
    max: usize,
) -> Result<Vec<(CampaignId, u32)>> {
    let mut seen = HashSet::with_capacity(keys.len());
    let distinct: Vec<i64> = keys.iter().copied().filter(|k| seen.insert(*k)).collect();
    let unknown: Vec<i64> = distinct
        .iter()
        .copied()
        .filter(|k| !tx.postings.contains_key(k))
        .collect();
    if !unknown.is_empty() {
        read_postings(tx, &unknown, max)?;
    }
    let postings = distinct.iter().filter_map(|k| tx.postings.get(k));
    Ok(crate::campaigns::rank(postings.map(Vec::as_slice), max))
}

/// Reads the postings of `keys` ([`CANDIDATES`]) into the step's memory, an empty one for a
/// key no campaign has, with the profiles the statement brings.
fn read_postings(tx: &mut Step<'_>, keys: &[i64], max: usize) -> Result<()> {
    let rows = tx.query(CANDIDATES, &[&keys, &big(MAX_POSTING + 1), &big(max)])?;
    for key in keys {
        tx.postings.insert(*key, Vec::new());
    }
    for r in &rows {
        let (key, campaign): (i64, CampaignId) = (r.try_get(0)?, r.try_get(1)?);
        tx.postings.entry(key).or_default().push(campaign);
        if r.try_get::<_, bool>(2)? {
            let profile: Option<&str> = r.try_get(3)?;
            let profile = profile
                .map(|p| parse_json(p, "campaign profile"))
                .transpose()?;
            if !tx.dirty.contains(&campaign) {
                tx.profiles.insert(campaign, profile);
            }
        }
    }
    Ok(())
}

/// The postings of `$1`'s keys (up to `$2` each), and for the `$3` campaigns sharing the most
/// keys (keys with a full posting left out, ties to the oldest) a flag and the profile of a
/// live one, on the first row of each such campaign only.
const CANDIDATES: &str = "
    WITH p AS (
        SELECT k.key, c.campaign, count(*) OVER (PARTITION BY k.key) AS n
        FROM unnest($1::BIGINT[]) AS k(key)
        CROSS JOIN LATERAL (SELECT campaign FROM campaign_keys
                            WHERE campaign_keys.key = k.key LIMIT $2) c
    ), ranked AS (
        SELECT campaign FROM p WHERE n < $2 GROUP BY campaign
        ORDER BY count(*) DESC, campaign LIMIT $3
    ), hit AS (
        SELECT p.key, p.campaign, ranked.campaign IS NOT NULL AS ranked,
               row_number() OVER (PARTITION BY p.campaign ORDER BY p.key) AS nth
        FROM p LEFT JOIN ranked ON ranked.campaign = p.campaign
    )
    SELECT hit.key, hit.campaign, hit.ranked AND hit.nth = 1,
           CASE WHEN hit.ranked AND hit.nth = 1 THEN c.profile END
    FROM hit LEFT JOIN campaigns c ON c.id = hit.campaign AND c.merged_into IS NULL";

/// The profile of a live (not merged) campaign.
pub(crate) fn profile(tx: &mut Step<'_>, id: CampaignId) -> Result<Option<CampaignProfile>> {
    if let Some(known) = tx.profiles.get(&id) {
        return Ok(known.clone());
    }
    let row = tx.query_opt(
        "SELECT profile FROM campaigns WHERE id = $1 AND merged_into IS NULL",
        &[&id],
    )?;
    let profile: Option<CampaignProfile> = row
        .map(|r| parse_json(r.try_get(0)?, "campaign profile"))
        .transpose()?;
    tx.profiles.insert(id, profile.clone());
    Ok(profile)
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
    let id = row.try_get(0)?;
    tx.profiles.insert(id, Some(profile.clone()));
    Ok(id)
}

/// Replaces a campaign's profile: in the step's memory now, in the table when the step
/// commits ([`write_profiles`]).
pub(crate) fn set_profile(
    tx: &mut Step<'_>,
    id: CampaignId,
    profile: &CampaignProfile,
) -> Result<()> {
    tx.profiles.insert(id, Some(profile.clone()));
    tx.dirty.insert(id);
    Ok(())
}

/// Writes the profiles set since the last write, in one statement.
pub(crate) fn write_profiles(tx: &mut Step<'_>) -> Result<()> {
    if tx.dirty.is_empty() {
        return Ok(());
    }
    lock_clock(tx)?;
    let mut ids = Vec::with_capacity(tx.dirty.len());
    let mut profiles = Vec::with_capacity(tx.dirty.len());
    for id in std::mem::take(&mut tx.dirty) {
        if let Some(Some(p)) = tx.profiles.get(&id) {
            ids.push(id);
            profiles.push(json(p)?);
        }
    }
    tx.execute(
        "UPDATE campaigns SET profile = t.profile
         FROM unnest($1::BIGINT[], $2::TEXT[]) AS t(id, profile) WHERE campaigns.id = t.id",
        &[&ids, &profiles],
    )?;
    Ok(())
}

/// Adds `keys` to the inverted index for `id`, except keys already shared by more than
/// [`MAX_POSTING`] campaigns (counted up to one past it, as SQLite does).
pub(crate) fn index_keys(tx: &mut Step<'_>, id: CampaignId, keys: &[i64]) -> Result<()> {
    // A known posting that holds `id`, or is full, needs nothing; the others get `id` in the
    // step's memory as the statement below does in the table. An unknown key (after a
    // merge) is posted by the statement alone, and read when a lookup next needs it.
    let mut seen = HashSet::with_capacity(keys.len());
    let mut todo: Vec<i64> = Vec::new();
    for k in keys.iter().copied().filter(|k| seen.insert(*k)) {
        match tx.postings.get_mut(&k) {
            Some(p) if p.contains(&id) || p.len() > MAX_POSTING => {}
            Some(p) => {
                p.push(id);
                todo.push(k);
            }
            None => todo.push(k),
        }
    }
    if todo.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO campaign_keys (key, campaign)
         SELECT k, $2::BIGINT FROM unnest($1::BIGINT[]) AS k
         WHERE (SELECT count(*) FROM (SELECT 1 FROM campaign_keys
                                      WHERE key = k LIMIT $3) p) <= $4
         ON CONFLICT DO NOTHING",
        &[&todo, &id, &big(MAX_POSTING + 1), &big(MAX_POSTING)],
    )?;
    Ok(())
}

/// Puts a report's message into campaign `id` (see `CampaignTx::assign`): the facets now;
/// the report's campaign, its indicators' and what the message adds to the campaign's row and
/// rate (and the trap's) go into the step's memory ([`Step::assigned`], [`Counts`]), written
/// once per step at commit or before a merge ([`write_assigns`], [`write_counts`]). So the
/// step takes the feeds' clock only for those last writes, and a report save waiting for the
/// clock waits for them only, not for the whole step.
pub(crate) fn assign(
    tx: &mut Step<'_>,
    seq: i64,
    id: CampaignId,
    at: Timestamp,
    class: VerdictClass,
    facets: &[(&str, String)],
) -> Result<()> {
    let t = unix_nanos(at);
    let hour = hour_of(at);
    tx.assigned.push((seq, id));
    let counts = Counts::one(t, hour, class);
    match tx.counts.entry(id) {
        Entry::Occupied(mut known) => known.get_mut().add(counts),
        Entry::Vacant(new) => {
            new.insert(counts);
        }
    }
    *tx.trap_added.entry(hour).or_default() += 1;
    if let Some((from, hours)) = &mut tx.trap
        && hour >= *from
    {
        *hours.entry(hour).or_default() += 1;
    }
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
    super::facets::assign(tx, id, &seen)
}

/// Writes the reports the step assigned, and gives their indicators without a campaign the
/// campaign of the first (lowest `seq`) report that links them, as one assign after another
/// would have: one statement ([`WRITE_ASSIGNS`]), under the feeds' clock (taken here first, as
/// the lock order asks: module doc). The indicators' change is stamped with the clock.
pub(crate) fn write_assigns(tx: &mut Step<'_>) -> Result<()> {
    if tx.assigned.is_empty() {
        return Ok(());
    }
    let changed = super::intel::clock_prepared(tx, unix_nanos(model::now()))?;
    let (seqs, ids): (Vec<i64>, Vec<i64>) = std::mem::take(&mut tx.assigned).into_iter().unzip();
    tx.execute(WRITE_ASSIGNS, &[&seqs, &ids, &changed])?;
    Ok(())
}

/// [`write_assigns`]' statement: `$1` report seqs, `$2` their campaigns, `$3` the clock.
const WRITE_ASSIGNS: &str = "
    WITH t AS (
        SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[]) AS t(seq, campaign)
    ), r AS (
        UPDATE reports SET campaign = t.campaign FROM t WHERE reports.seq = t.seq
        RETURNING reports.sighting_id, reports.seq, t.campaign
    ), i AS (
        SELECT DISTINCT ON (l.indicator) l.indicator, r.campaign
        FROM indicator_sightings l JOIN r ON r.sighting_id = l.sighting
        ORDER BY l.indicator, r.seq
    )
    UPDATE indicators SET campaign = i.campaign, changed_at = $3
    FROM i WHERE indicators.id = i.indicator AND indicators.campaign IS NULL";

/// Writes what the step's assigns added ([`Counts`]) in one statement: each campaign's count,
/// times, `changed_at` (the clock) and verdict, and the hourly rates, the trap's (campaign 0,
/// never an id) included. The more severe verdict is decided by the update itself: the classes
/// go in by rank, and a stored verdict that is no class ranks as the default one (`class_of`)
/// and becomes it.
pub(crate) fn write_counts(tx: &mut Step<'_>) -> Result<()> {
    if tx.counts.is_empty() && tx.trap_added.is_empty() {
        return Ok(());
    }
    let changed = super::intel::clock_prepared(tx, unix_nanos(model::now()))?;
    // The stored rows now hold what the remembered records lacked.
    tx.records.clear();
    let counts = std::mem::take(&mut tx.counts);
    let trap = std::mem::take(&mut tx.trap_added);
    let mut ranked = VerdictClass::ALL;
    ranked.sort_by_key(|c| severity_rank(*c));
    let ranked: Vec<&str> = ranked.iter().map(|c| c.as_str()).collect();
    let ids: Vec<i64> = counts.keys().copied().collect();
    let messages: Vec<i64> = counts.values().map(|c| c.messages).collect();
    let firsts: Vec<i64> = counts.values().map(|c| c.first_seen).collect();
    let lasts: Vec<i64> = counts.values().map(|c| c.last_seen).collect();
    let verdicts: Vec<&str> = counts.values().map(|c| c.verdict.as_str()).collect();
    let (mut rate_ids, mut hours, mut rate_n) = (Vec::new(), Vec::new(), Vec::new());
    let campaign_hours = counts
        .iter()
        .flat_map(|(id, c)| c.hours.iter().map(move |(h, n)| (*id, *h, *n)));
    for (id, hour, n) in campaign_hours.chain(trap.iter().map(|(h, n)| (0, *h, *n))) {
        rate_ids.push(id);
        hours.push(hour);
        rate_n.push(n);
    }
    tx.execute(
        WRITE_COUNTS,
        &[
            &ids,
            &messages,
            &firsts,
            &lasts,
            &changed,
            &verdicts,
            &ranked,
            &VerdictClass::default().as_str(),
            &rate_ids,
            &hours,
            &rate_n,
        ],
    )?;
    Ok(())
}

/// [`write_counts`]' statement. The two parts touch different tables.
const WRITE_COUNTS: &str = "
    WITH c AS (
        UPDATE campaigns SET messages = campaigns.messages + t.n,
            first_seen = least(campaigns.first_seen, t.first_seen),
            last_seen = greatest(campaigns.last_seen, t.last_seen), changed_at = $5,
            verdict = CASE
                WHEN array_position($7::text[], t.verdict)
                     > coalesce(array_position($7::text[], campaigns.verdict),
                                array_position($7::text[], $8::text))
                THEN t.verdict
                ELSE coalesce($7[array_position($7::text[], campaigns.verdict)], $8::text) END
        FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $6::TEXT[])
            AS t(id, n, first_seen, last_seen, verdict)
        WHERE campaigns.id = t.id
    )
    INSERT INTO campaign_rate (campaign, hour, messages)
    SELECT * FROM unnest($9::BIGINT[], $10::BIGINT[], $11::BIGINT[])
    ON CONFLICT (campaign, hour) DO UPDATE SET messages = campaign_rate.messages + excluded.messages";

/// A campaign's record inside the step: as stored, plus what the step's assigns added and
/// has not written yet. Read once per step (per first rate hour) and then kept current by
/// the facet writes (`facets.rs`).
pub(crate) fn campaign(
    tx: &mut Step<'_>,
    id: CampaignId,
    now: Timestamp,
) -> Result<Option<Campaign>> {
    let from = super::campaign_read::rate_since(now);
    let mut c = match tx.records.get(&id) {
        Some((shown_from, c)) if *shown_from == from => c.clone(),
        _ => {
            let Some(mut c) = super::campaign_read::campaign(tx.tx(), id, now)? else {
                return Ok(None);
            };
            super::facets::add_unwritten(tx, &mut c)?;
            tx.records.insert(id, (from, c.clone()));
            c
        }
    };
    if let Some(added) = tx.counts.get(&id) {
        added.apply(&mut c, now, from)?;
    }
    c.status = status(c.first_seen, c.last_seen, c.merged_into.is_some(), now);
    Ok(Some(c))
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
    // Profiles set earlier in the step are written first; `into`'s is written below. So are the
    // step's assigns, counts and facet counts: the statements below move `from`'s.
    super::facets::write(tx)?;
    write_profiles(tx)?;
    write_assigns(tx)?;
    write_counts(tx)?;
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
    let seen: Vec<&Seen<'_>> = seen.iter().collect();
    super::facets::add(tx, into, &seen)?;
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
    // `from` is no longer live and its postings moved: what the step knew of them is stale.
    tx.profiles.insert(into, Some(profile.clone()));
    tx.profiles.insert(from, None);
    tx.postings.clear();
    tx.records.clear();
    tx.facets_known.clear();
    Ok(())
}

/// Records that the trap saw each `(facet, value)` at `at`, in one statement; true for those it
/// never had before. A value given twice is novel at most once.
pub(crate) fn novel_all(
    tx: &mut Step<'_>,
    seen: &[(&str, String)],
    at: Timestamp,
) -> Result<Vec<bool>> {
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    let facets: Vec<&str> = seen.iter().map(|(f, _)| *f).collect();
    let values: Vec<&str> = seen.iter().map(|(_, v)| v.as_str()).collect();
    let rows = tx.query(
        "INSERT INTO novelty (facet, value, first_seen)
         SELECT DISTINCT f, v, $3::BIGINT FROM unnest($1::TEXT[], $2::TEXT[]) AS t(f, v)
         ON CONFLICT DO NOTHING RETURNING facet, value",
        &[&facets, &values, &unix_nanos(at)],
    )?;
    let mut fresh: HashSet<(String, String)> = HashSet::with_capacity(rows.len());
    for r in &rows {
        fresh.insert((r.try_get(0)?, r.try_get(1)?));
    }
    Ok(seen
        .iter()
        .map(|(f, v)| fresh.remove(&((*f).to_string(), v.clone())))
        .collect())
}

/// The trap's messages per hour (campaign 0) from `from_hour` (unix s) on, oldest first:
/// read once per step, then kept current by [`assign`].
pub(crate) fn trap_rate(tx: &mut Step<'_>, from_hour: i64) -> Result<Vec<(i64, i64)>> {
    let known = matches!(&tx.trap, Some((from, _)) if *from <= from_hour);
    if !known {
        let rows = tx.query(
            "SELECT hour, messages FROM campaign_rate WHERE campaign = 0 AND hour >= $1",
            &[&from_hour],
        )?;
        let mut hours = BTreeMap::new();
        for r in &rows {
            hours.insert(r.try_get::<_, i64>(0)?, r.try_get::<_, i64>(1)?);
        }
        // This step's assigns, not written yet.
        for (hour, n) in tx.trap_added.range(from_hour..) {
            *hours.entry(*hour).or_default() += n;
        }
        tx.trap = Some((from_hour, hours));
    }
    Ok(match &tx.trap {
        Some((_, hours)) => hours.range(from_hour..).map(|(h, n)| (*h, *n)).collect(),
        None => Vec::new(),
    })
}
