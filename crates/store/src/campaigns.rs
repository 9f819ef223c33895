//! The campaign index (schema v6): what the clustering step reads and writes, in one transaction.
//!
//! The store never decides which campaign a message belongs to: that is `analysis::cluster`,
//! pure. The binary opens a [`CampaignTx`] with [`crate::Store::cluster`], reads the reports not
//! yet clustered, looks candidates up by key, lets the algorithm decide, and writes the decision
//! back, all in one immediate transaction, so a crash leaves either the whole step or nothing
//! (the reports stay unclustered and the next step takes them again). Alerts raised by the
//! step are inserted in the same transaction (see `alerts.rs`): none is lost.
//!
//! Tables: `campaigns` (records, profile JSON), `campaign_keys` (inverted index key →
//! campaigns), `campaign_facets` + `campaign_distinct` (distinct values per facet, bounded),
//! `campaign_rate` (messages per hour; campaign 0 is the whole trap), `campaign_merges`
//! (history), `novelty` (every facet value the trap ever saw), `reports.campaign`.
//!
//! Backends: a [`CampaignTx`] wraps a SQLite or a PostgreSQL transaction and each method runs
//! the statements of its backend (SQLite's in `lite` below, PostgreSQL's in
//! `pg/campaigns.rs`); the pure parts (ranking, status, row helpers) are shared.

use crate::error::{Result, StoreError};
use crate::query::{from_nanos, parse_json, uuid_from};
use crate::{Timestamp, unix_nanos};
use model::campaign::{CampaignId, CampaignProfile, FacetValue, RatePoint};
use model::{Campaign, CampaignStatus, Report, Sighting, VerdictClass};
use rusqlite::{OptionalExtension, Transaction};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A key shared by more campaigns than this is too generic to find candidates with (a big
/// brand's domain, a one-word subject): lookups skip it and no campaign is added to it. Keeps
/// the candidate lookup bounded however many campaigns exist.
pub const MAX_POSTING: usize = 64;

/// Distinct values kept per campaign and facet (most are far smaller). Beyond it a new value
/// only increments the facet's distinct count, which is then approximate (a value beyond the
/// bound that repeats is counted again). 256 keeps a large botnet campaign's row count and the
/// record an analyst reads bounded.
pub const MAX_FACET_VALUES: usize = 256;

/// Hourly rate points kept in a [`Campaign`] record read (a week).
pub const MAX_RATE_POINTS: usize = 168;

/// A campaign is `new` for this long after its first message.
pub const NEW_FOR: time::Duration = time::Duration::hours(24);

/// A campaign with no message for this long is `dormant`; one with messages inside it (and
/// older than [`NEW_FOR`]) is `growing`.
pub const DORMANT_AFTER: time::Duration = time::Duration::hours(24);

/// A report waiting to be clustered.
#[derive(Debug)]
pub struct Unclustered {
    pub seq: i64,
    pub sighting: Sighting,
    pub report: Report,
}

/// The clustering step's view of the store: one immediate transaction (SQLite), or one
/// transaction under the clustering advisory lock (PostgreSQL, see `pg/campaigns.rs`).
pub struct CampaignTx<'a> {
    tx: Backend<'a>,
}

/// The transaction a [`CampaignTx`] runs in. The PostgreSQL one sits in a `RefCell` because
/// its statements need `&mut` while the public methods take `&self` (the API predates the
/// second backend; callers hold the `CampaignTx` by shared reference).
enum Backend<'a> {
    Sqlite(Transaction<'a>),
    Pg(Box<RefCell<crate::pg::campaigns::Step<'a>>>),
}

impl std::fmt::Debug for CampaignTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.tx {
            Backend::Sqlite(_) => "sqlite",
            Backend::Pg(_) => "postgres",
        };
        f.debug_struct("CampaignTx")
            .field("backend", &backend)
            .finish()
    }
}

/// The verdict ranking that decides a campaign's verdict: the most severe class wins.
pub fn severity_rank(c: VerdictClass) -> u8 {
    match c {
        VerdictClass::RansomwareDelivery => 6,
        VerdictClass::Malware => 5,
        VerdictClass::Phishing => 4,
        VerdictClass::Scam => 3,
        VerdictClass::Spam => 2,
        VerdictClass::Unknown => 1,
        VerdictClass::Benign => 0,
    }
}

/// Campaigns ranked by how many of a message's keys they share, given each key's posting (a
/// posting of more than [`MAX_POSTING`] campaigns is a generic key, left out): most shared
/// first, ties to the oldest, at most `max`. Both backends rank with this.
pub(crate) fn rank<'a>(
    postings: impl IntoIterator<Item = &'a [CampaignId]>,
    max: usize,
) -> Vec<(CampaignId, u32)> {
    let mut hits: BTreeMap<CampaignId, u32> = BTreeMap::new();
    for posting in postings {
        if posting.len() > MAX_POSTING {
            continue;
        }
        for c in posting {
            *hits.entry(*c).or_default() += 1;
        }
    }
    let mut out: Vec<(CampaignId, u32)> = hits.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(max);
    out
}

/// The more severe of two classes (`a` on a tie): a campaign's verdict after `b` joins `a`.
pub(crate) fn more_severe(a: VerdictClass, b: VerdictClass) -> VerdictClass {
    if severity_rank(b) > severity_rank(a) {
        b
    } else {
        a
    }
}

fn class_from(s: &str) -> VerdictClass {
    VerdictClass::ALL
        .into_iter()
        .find(|c| c.as_str() == s)
        .unwrap_or_default()
}

pub(crate) fn hour_of(t: Timestamp) -> i64 {
    let s = t.unix_timestamp();
    s - s.rem_euclid(3600)
}

impl<'a> CampaignTx<'a> {
    /// A clustering step on SQLite (an immediate transaction).
    pub(crate) fn sqlite(tx: Transaction<'a>) -> Self {
        CampaignTx {
            tx: Backend::Sqlite(tx),
        }
    }

    /// A clustering step on PostgreSQL (a transaction holding `pg::LOCK_CLUSTER`).
    pub(crate) fn postgres(tx: crate::pg::prepared::Tx<'a>) -> Self {
        CampaignTx {
            tx: Backend::Pg(Box::new(RefCell::new(crate::pg::campaigns::Step::new(tx)))),
        }
    }

    /// Commits everything the step did.
    pub(crate) fn commit(self) -> Result<()> {
        match self.tx {
            Backend::Sqlite(tx) => tx.commit()?,
            Backend::Pg(step) => step.into_inner().commit()?,
        }
        Ok(())
    }

    /// Runs `lite` on the SQLite transaction or `pg` on the PostgreSQL one.
    pub(crate) fn on<T>(
        &self,
        lite: impl FnOnce(&Transaction<'a>) -> Result<T>,
        pg: impl FnOnce(&mut crate::pg::campaigns::Step<'a>) -> Result<T>,
    ) -> Result<T> {
        match &self.tx {
            Backend::Sqlite(tx) => lite(tx),
            Backend::Pg(cell) => {
                // Never re-entered: `pg` is a store function that does not call back into the
                // CampaignTx. An error rather than a panic all the same.
                let mut tx = cell.try_borrow_mut().map_err(|_| {
                    StoreError::corrupt("campaign transaction used re-entrantly".to_string())
                })?;
                pg(&mut tx)
            }
        }
    }

    /// Up to `max` reports not yet in a campaign, oldest first, with their sightings.
    pub fn pending(&self, max: usize) -> Result<Vec<Unclustered>> {
        self.on(
            |tx| lite::pending(tx, max),
            |tx| crate::pg::campaigns::pending(tx, max),
        )
    }

    /// Live campaigns sharing at least one of `keys`, most shared keys first (ties: oldest
    /// first), at most `max`. Keys with more than [`MAX_POSTING`] campaigns are skipped.
    pub fn candidates(&self, keys: &[i64], max: usize) -> Result<Vec<(CampaignId, u32)>> {
        self.on(
            |tx| lite::candidates(tx, keys, max),
            |tx| crate::pg::campaigns::candidates(tx, keys, max),
        )
    }

    /// The profile of a live (not merged) campaign.
    pub fn profile(&self, id: CampaignId) -> Result<Option<CampaignProfile>> {
        self.on(
            |tx| lite::profile(tx, id),
            |tx| crate::pg::campaigns::profile(tx, id),
        )
    }

    /// Creates a campaign for its first message and returns its id.
    pub fn create(&self, at: Timestamp, profile: &CampaignProfile) -> Result<CampaignId> {
        self.on(
            |tx| lite::create(tx, at, profile),
            |tx| crate::pg::campaigns::create(tx, at, profile),
        )
    }

    /// Replaces a campaign's profile.
    pub fn set_profile(&self, id: CampaignId, profile: &CampaignProfile) -> Result<()> {
        self.on(
            |tx| lite::set_profile(tx, id, profile),
            |tx| crate::pg::campaigns::set_profile(tx, id, profile),
        )
    }

    /// Adds `keys` to the inverted index for `id` (keys already too generic are left alone).
    pub fn index_keys(&self, id: CampaignId, keys: &[i64]) -> Result<()> {
        self.on(
            |tx| lite::index_keys(tx, id, keys),
            |tx| crate::pg::campaigns::index_keys(tx, id, keys),
        )
    }

    /// Puts a report's message into campaign `id`: the report row, the campaign's counts,
    /// times, verdict, hourly rate (and the trap's), and the facet values.
    pub fn assign(
        &self,
        seq: i64,
        id: CampaignId,
        at: Timestamp,
        class: VerdictClass,
        facets: &[(&str, String)],
    ) -> Result<()> {
        self.on(
            |tx| lite::assign(tx, seq, id, at, class, facets),
            |tx| crate::pg::campaigns::assign(tx, seq, id, at, class, facets),
        )
    }

    /// Records that the trap saw `value` of `facet` at `at`; true when it never had before.
    pub fn novel(&self, facet: &str, value: &str, at: Timestamp) -> Result<bool> {
        let seen = [(facet, value.to_string())];
        Ok(self.novel_all(&seen, at)?.first().copied().unwrap_or(false))
    }

    /// [`CampaignTx::novel`] for each `(facet, value)`, in order (one round trip on
    /// PostgreSQL): a value given twice is novel at most once.
    pub fn novel_all(&self, seen: &[(&str, String)], at: Timestamp) -> Result<Vec<bool>> {
        self.on(
            |tx| {
                seen.iter()
                    .map(|(facet, value)| lite::novel(tx, facet, value, at))
                    .collect()
            },
            |tx| crate::pg::campaigns::novel_all(tx, seen, at),
        )
    }

    /// Folds campaign `from` into `into`: its messages, keys, facets, rates and counts move,
    /// `from` stays as a record with `merged_into` set, and the merge is kept in the history.
    /// `profile` is the merged profile (computed by the caller with `analysis::cluster`).
    pub fn merge(
        &self,
        from: CampaignId,
        into: CampaignId,
        profile: &CampaignProfile,
        by: &str,
        detail: &str,
        at: Timestamp,
    ) -> Result<()> {
        if from == into {
            return Err(StoreError::corrupt(format!(
                "campaign {from} merged into itself"
            )));
        }
        self.on(
            |tx| lite::merge(tx, from, into, profile, by, detail, at),
            |tx| crate::pg::campaigns::merge(tx, from, into, profile, by, detail, at),
        )
    }

    /// A campaign's record as of `now` (inside the transaction, so it includes this step).
    pub fn campaign(&self, id: CampaignId, now: Timestamp) -> Result<Option<Campaign>> {
        self.on(
            |tx| crate::campaign_read::campaign(tx, id, now),
            |step| crate::pg::campaigns::campaign(step, id, now),
        )
    }

    /// The whole trap's messages per hour, the last `hours` hours up to `now`'s hour.
    pub fn trap_rate(&self, now: Timestamp, hours: u32) -> Result<Vec<RatePoint>> {
        let from_hour = hour_of(now) - i64::from(hours) * 3600;
        self.on(
            |tx| crate::campaign_read::rate(tx, 0, from_hour),
            |step| {
                crate::pg::campaigns::trap_rate(step, from_hour)?
                    .into_iter()
                    .map(|(hour, n)| crate::pg::campaign_read::rate_point(hour, n))
                    .collect()
            },
        )
    }
}

/// The SQLite statements behind [`CampaignTx`].
mod lite {
    use super::*;

    pub(super) fn pending(tx: &Transaction<'_>, max: usize) -> Result<Vec<Unclustered>> {
        let mut stmt = tx.prepare_cached(
            "SELECT r.seq, r.json, s.json FROM reports r JOIN sightings s ON s.id = r.sighting_id
             WHERE r.campaign IS NULL ORDER BY r.seq LIMIT ?1",
        )?;
        let rows = stmt
            .query_map([i64::try_from(max).unwrap_or(i64::MAX)], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(seq, report, sighting)| {
                Ok(Unclustered {
                    seq,
                    report: parse_json(&report, "report")?,
                    sighting: parse_json(&sighting, "sighting")?,
                })
            })
            .collect()
    }

    pub(super) fn candidates(
        tx: &Transaction<'_>,
        keys: &[i64],
        max: usize,
    ) -> Result<Vec<(CampaignId, u32)>> {
        let mut stmt =
            tx.prepare_cached("SELECT campaign FROM campaign_keys WHERE key = ?1 LIMIT ?2")?;
        let cap = i64::try_from(MAX_POSTING + 1).unwrap_or(i64::MAX);
        let mut postings: Vec<Vec<CampaignId>> = Vec::new();
        let mut seen_keys = std::collections::HashSet::with_capacity(keys.len());
        for &key in keys {
            if !seen_keys.insert(key) {
                continue;
            }
            let posting: Vec<CampaignId> = stmt
                .query_map((key, cap), |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            postings.push(posting);
        }
        Ok(rank(postings.iter().map(Vec::as_slice), max))
    }

    pub(super) fn profile(tx: &Transaction<'_>, id: CampaignId) -> Result<Option<CampaignProfile>> {
        let json: Option<String> = tx
            .prepare_cached("SELECT profile FROM campaigns WHERE id = ?1 AND merged_into IS NULL")?
            .query_row([id], |r| r.get(0))
            .optional()?;
        json.map(|j| parse_json(&j, "campaign profile")).transpose()
    }

    pub(super) fn create(
        tx: &Transaction<'_>,
        at: Timestamp,
        profile: &CampaignProfile,
    ) -> Result<CampaignId> {
        let uuid = uuid::Uuid::now_v7();
        let t = unix_nanos(at);
        tx.prepare_cached(
            "INSERT INTO campaigns (uuid, first_seen, last_seen, messages, verdict, profile)
                 VALUES (?1, ?2, ?2, 0, 'benign', ?3)",
        )?
        .execute((uuid.as_bytes().to_vec(), t, json(profile)?))?;
        Ok(tx.last_insert_rowid())
    }

    pub(super) fn set_profile(
        tx: &Transaction<'_>,
        id: CampaignId,
        profile: &CampaignProfile,
    ) -> Result<()> {
        tx.prepare_cached("UPDATE campaigns SET profile = ?2 WHERE id = ?1")?
            .execute((id, json(profile)?))?;
        Ok(())
    }

    pub(super) fn index_keys(tx: &Transaction<'_>, id: CampaignId, keys: &[i64]) -> Result<()> {
        let mut count = tx.prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM campaign_keys WHERE key = ?1 LIMIT ?2)",
        )?;
        let mut put = tx.prepare_cached(
            "INSERT OR IGNORE INTO campaign_keys (key, campaign) VALUES (?1, ?2)",
        )?;
        let cap = i64::try_from(MAX_POSTING + 1).unwrap_or(i64::MAX);
        for &key in keys {
            let n: i64 = count.query_row((key, cap), |r| r.get(0))?;
            if usize::try_from(n).unwrap_or(usize::MAX) <= MAX_POSTING {
                put.execute((key, id))?;
            }
        }
        Ok(())
    }

    pub(super) fn assign(
        tx: &Transaction<'_>,
        seq: i64,
        id: CampaignId,
        at: Timestamp,
        class: VerdictClass,
        facets: &[(&str, String)],
    ) -> Result<()> {
        tx.prepare_cached("UPDATE reports SET campaign = ?2 WHERE seq = ?1")?
            .execute((seq, id))?;
        // Feeds: the message's indicators without a campaign now have one, and the campaign
        // changed (intel.rs).
        let changed = crate::intel::clock(tx, unix_nanos(model::now()))?;
        tx.prepare_cached(
            "UPDATE indicators SET campaign = ?2, changed_at = ?3
                 WHERE campaign IS NULL AND id IN (
                     SELECT l.indicator FROM indicator_sightings l
                     JOIN reports r ON r.sighting_id = l.sighting WHERE r.seq = ?1)",
        )?
        .execute((seq, id, changed))?;
        tx.prepare_cached("UPDATE campaigns SET changed_at = ?2 WHERE id = ?1")?
            .execute((id, changed))?;
        let t = unix_nanos(at);
        let old: String = tx
            .prepare_cached("SELECT verdict FROM campaigns WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?;
        let verdict = more_severe(class_from(&old), class).as_str();
        tx.prepare_cached(
            "UPDATE campaigns SET messages = messages + 1, first_seen = min(first_seen, ?2),
                 last_seen = max(last_seen, ?2), verdict = ?3 WHERE id = ?1",
        )?
        .execute((id, t, verdict))?;
        let mut rate = tx.prepare_cached(
            "INSERT INTO campaign_rate (campaign, hour, messages) VALUES (?1, ?2, 1)
             ON CONFLICT(campaign, hour) DO UPDATE SET messages = messages + 1",
        )?;
        rate.execute((id, hour_of(at)))?;
        rate.execute((0, hour_of(at)))?;
        for (facet, value) in facets {
            add_facet(tx, id, facet, value, 1, t, t)?;
        }
        Ok(())
    }

    fn add_facet(
        tx: &Transaction<'_>,
        id: CampaignId,
        facet: &str,
        value: &str,
        n: i64,
        first: i64,
        last: i64,
    ) -> Result<()> {
        let updated = tx
            .prepare_cached(
                "UPDATE campaign_facets SET count = count + ?4, first_seen = min(first_seen, ?5),
                 last_seen = max(last_seen, ?6) WHERE campaign = ?1 AND facet = ?2 AND value = ?3",
            )?
            .execute((id, facet, value, n, first, last))?;
        if updated > 0 {
            return Ok(());
        }
        let stored: i64 = tx
            .prepare_cached(
                "SELECT count(*) FROM (SELECT 1 FROM campaign_facets
                 WHERE campaign = ?1 AND facet = ?2 LIMIT ?3)",
            )?
            .query_row(
                (
                    id,
                    facet,
                    i64::try_from(MAX_FACET_VALUES).unwrap_or(i64::MAX),
                ),
                |r| r.get(0),
            )?;
        if usize::try_from(stored).unwrap_or(usize::MAX) < MAX_FACET_VALUES {
            tx.prepare_cached(
                "INSERT INTO campaign_facets (campaign, facet, value, count, first_seen,
                     last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute((id, facet, value, n, first, last))?;
        }
        tx.prepare_cached(
            "INSERT INTO campaign_distinct (campaign, facet, n) VALUES (?1, ?2, 1)
                 ON CONFLICT(campaign, facet) DO UPDATE SET n = n + 1",
        )?
        .execute((id, facet))?;
        Ok(())
    }

    pub(super) fn novel(
        tx: &Transaction<'_>,
        facet: &str,
        value: &str,
        at: Timestamp,
    ) -> Result<bool> {
        let n = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO novelty (facet, value, first_seen) VALUES (?1, ?2, ?3)",
            )?
            .execute((facet, value, unix_nanos(at)))?;
        Ok(n == 1)
    }

    pub(super) fn merge(
        tx: &Transaction<'_>,
        from: CampaignId,
        into: CampaignId,
        profile: &CampaignProfile,
        by: &str,
        detail: &str,
        at: Timestamp,
    ) -> Result<()> {
        tx.execute(
            "UPDATE reports SET campaign = ?2 WHERE campaign = ?1",
            (from, into),
        )?;
        let changed = crate::intel::clock(tx, unix_nanos(model::now()))?;
        tx.execute(
            "UPDATE indicators SET campaign = ?2, changed_at = ?3 WHERE campaign = ?1",
            (from, into, changed),
        )?;
        tx.execute(
            "UPDATE campaigns SET changed_at = ?2 WHERE id IN (?1, ?3)",
            (from, changed, into),
        )?;
        tx.execute(
            "INSERT OR IGNORE INTO campaign_keys (key, campaign)
             SELECT key, ?2 FROM campaign_keys WHERE campaign = ?1",
            (from, into),
        )?;
        tx.execute("DELETE FROM campaign_keys WHERE campaign = ?1", [from])?;
        let facets: Vec<(String, String, i64, i64, i64)> = tx
            .prepare_cached(
                "SELECT facet, value, count, first_seen, last_seen FROM campaign_facets
                 WHERE campaign = ?1",
            )?
            .query_map([from], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<std::result::Result<_, _>>()?;
        for (facet, value, n, first, last) in &facets {
            add_facet(tx, into, facet, value, *n, *first, *last)?;
        }
        // Values beyond the bound were only counted: carry those counts over as well.
        tx.execute(
            "UPDATE campaign_distinct SET n = n + coalesce((
                 SELECT d.n - (SELECT count(*) FROM campaign_facets f
                               WHERE f.campaign = ?1 AND f.facet = d.facet)
                 FROM campaign_distinct d WHERE d.campaign = ?1
                   AND d.facet = campaign_distinct.facet), 0)
             WHERE campaign = ?2",
            (from, into),
        )?;
        tx.execute("DELETE FROM campaign_facets WHERE campaign = ?1", [from])?;
        tx.execute("DELETE FROM campaign_distinct WHERE campaign = ?1", [from])?;
        tx.execute(
            "INSERT INTO campaign_rate (campaign, hour, messages)
             SELECT ?2, hour, messages FROM campaign_rate WHERE campaign = ?1 AND true
             ON CONFLICT(campaign, hour) DO UPDATE SET messages = messages + excluded.messages",
            (from, into),
        )?;
        tx.execute("DELETE FROM campaign_rate WHERE campaign = ?1", [from])?;
        let (messages, first, last, verdict): (i64, i64, i64, String) = tx.query_row(
            "SELECT messages, first_seen, last_seen, verdict FROM campaigns WHERE id = ?1",
            [from],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let into_verdict: String =
            tx.query_row("SELECT verdict FROM campaigns WHERE id = ?1", [into], |r| {
                r.get(0)
            })?;
        let verdict =
            if severity_rank(class_from(&verdict)) > severity_rank(class_from(&into_verdict)) {
                verdict
            } else {
                into_verdict
            };
        tx.execute(
            "UPDATE campaigns SET messages = messages + ?2, first_seen = min(first_seen, ?3),
             last_seen = max(last_seen, ?4), verdict = ?5, profile = ?6 WHERE id = ?1",
            (into, messages, first, last, verdict, json(profile)?),
        )?;
        tx.execute(
            "UPDATE campaigns SET merged_into = ?2 WHERE id = ?1",
            (from, into),
        )?;
        // Earlier merges into `from` now lead to `into`.
        tx.execute(
            "UPDATE campaigns SET merged_into = ?2 WHERE merged_into = ?1",
            (from, into),
        )?;
        tx.execute(
            "INSERT INTO campaign_merges (from_id, into_id, at, by, detail)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            (from, into, unix_nanos(at), by, detail),
        )?;
        Ok(())
    }
}

/// A campaign's status at `now` from its times (see [`NEW_FOR`], [`DORMANT_AFTER`]).
pub fn status(
    first_seen: Timestamp,
    last_seen: Timestamp,
    merged: bool,
    now: Timestamp,
) -> CampaignStatus {
    if merged {
        CampaignStatus::Merged
    } else if now - last_seen > DORMANT_AFTER {
        CampaignStatus::Dormant
    } else if now - first_seen <= NEW_FOR {
        CampaignStatus::New
    } else {
        CampaignStatus::Growing
    }
}

pub(crate) fn facet_value(
    r: &rusqlite::Row<'_>,
    offset: usize,
) -> rusqlite::Result<(String, u64, i64, i64)> {
    Ok((
        r.get(offset)?,
        u64::try_from(r.get::<_, i64>(offset + 1)?).unwrap_or(0),
        r.get(offset + 2)?,
        r.get(offset + 3)?,
    ))
}

pub(crate) fn to_facet(v: (String, u64, i64, i64)) -> Result<FacetValue> {
    Ok(FacetValue {
        value: v.0,
        count: v.1,
        first_seen: from_nanos(v.2)?,
        last_seen: from_nanos(v.3)?,
    })
}

pub(crate) fn uuid_col(b: &[u8]) -> Result<uuid::Uuid> {
    uuid_from(b)
}

pub(crate) fn class_of(s: &str) -> VerdictClass {
    class_from(s)
}

pub(crate) fn json(p: &CampaignProfile) -> Result<String> {
    serde_json::to_string(p).map_err(|e| StoreError::corrupt(format!("profile JSON: {e}")))
}
