//! The clustering step's facet counts on PostgreSQL: the values each campaign showed (sending
//! IPs, URLs, trap domains...), how often and when, and how many distinct values per facet.
//!
//! A stored value only has its count and times raised. A value not stored yet is stored while
//! its facet holds fewer than [`MAX_FACET_VALUES`], and counted as distinct either way (as
//! SQLite's `add_facet` does, one value at a time).
//!
//! Every message of a campaign used to cost one statement here, although most of them repeat
//! values the campaign already holds. So the step (`step.rs`) remembers the values a write
//! returned, as stored now; a later assign of a known value only adds to its count in memory
//! ([`Step::facets_unwritten`]), and [`write`] writes all of those in one statement when the
//! step commits, or before a merge reads the counts. Only the unknown values of a message go to
//! the database at once, in [`ADD_FACETS`] rounds. Leaving the known ones out changes nothing
//! there: a known value is stored, so it neither takes a place under the bound nor counts as
//! distinct, and the order the bound depends on is that of the unknown values, which the
//! rounds keep. Only steps write facets (they hold `LOCK_CLUSTER`), so what the step knows
//! stays true until it ends.

use super::big;
use super::step::{Step, Tally};
use crate::campaign_read::FACET_VALUES_SHOWN;
use crate::campaigns::{MAX_FACET_VALUES, to_facet};
use crate::error::{Result, StoreError};
use model::Campaign;
use model::campaign::CampaignId;
use std::collections::HashMap;

/// A facet value seen `n` times between `first` and `last` (unix nanoseconds).
pub(crate) struct Seen<'s> {
    pub(crate) facet: &'s str,
    pub(crate) value: &'s str,
    pub(crate) n: i64,
    pub(crate) first: i64,
    pub(crate) last: i64,
}

impl Seen<'_> {
    fn tally(&self) -> Tally {
        Tally {
            count: self.n,
            first: self.first,
            last: self.last,
        }
    }
}

/// What one [`ADD_FACETS`] did to one value.
pub(crate) struct Changed {
    facet: String,
    /// The value as stored now; `None` for a new value past the bound (counted, not stored).
    stored: Option<(String, Tally)>,
    /// The value was new to the campaign, so it counted as distinct.
    new: bool,
}

/// Counts an assign's facet values for campaign `id`: the known ones in memory, the others in
/// the table now. Keeps the step's record of the campaign, if it read one, current.
pub(crate) fn assign(tx: &mut Step<'_>, id: CampaignId, seen: &[Seen<'_>]) -> Result<()> {
    let mut unknown: Vec<&Seen<'_>> = Vec::new();
    for s in seen {
        let key = (id, s.facet.to_string(), s.value.to_string());
        let Some(known) = tx.facets_known.get_mut(&key) else {
            unknown.push(s);
            continue;
        };
        known.add(s.tally());
        let now = *known;
        if let Some((_, record)) = tx.records.get_mut(&id) {
            show(record, s.facet, s.value, now)?;
        }
        tx.facets_unwritten
            .entry(key)
            .and_modify(|t| t.add(s.tally()))
            .or_insert_with(|| s.tally());
    }
    if unknown.is_empty() {
        return Ok(());
    }
    for c in add(tx, id, &unknown)? {
        if let Some((_, record)) = tx.records.get_mut(&id) {
            if c.new {
                *record.distinct.entry(c.facet.clone()).or_default() += 1;
            }
            if let Some((value, tally)) = &c.stored {
                show(record, &c.facet, value, *tally)?;
            }
        }
        if let Some((value, tally)) = c.stored {
            tx.facets_known.insert((id, c.facet, value), tally);
        }
    }
    Ok(())
}

/// Writes what the step's assigns added to known values, in one statement.
pub(crate) fn write(tx: &mut Step<'_>) -> Result<()> {
    if tx.facets_unwritten.is_empty() {
        return Ok(());
    }
    let unwritten = std::mem::take(&mut tx.facets_unwritten);
    let n = unwritten.len();
    let (mut ids, mut facets, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let (mut counts, mut firsts, mut lasts) = (Vec::new(), Vec::new(), Vec::new());
    for ((id, facet, value), t) in unwritten {
        ids.push(id);
        facets.push(facet);
        values.push(value);
        counts.push(t.count);
        firsts.push(t.first);
        lasts.push(t.last);
    }
    let updated = tx.execute(
        "UPDATE campaign_facets f SET count = f.count + t.n,
             first_seen = least(f.first_seen, t.first_seen),
             last_seen = greatest(f.last_seen, t.last_seen)
         FROM unnest($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[],
                     $6::BIGINT[]) AS t(campaign, facet, value, n, first_seen, last_seen)
         WHERE f.campaign = t.campaign AND f.facet = t.facet AND f.value = t.value",
        &[&ids, &facets, &values, &counts, &firsts, &lasts],
    )?;
    if usize::try_from(updated).ok() != Some(n) {
        return Err(StoreError::corrupt(format!(
            "{n} facet values known to be stored, {updated} found"
        )));
    }
    Ok(())
}

/// A record just read from the table, with what the step added to known values and has not
/// written yet.
pub(crate) fn add_unwritten(tx: &Step<'_>, record: &mut Campaign) -> Result<()> {
    for (id, facet, value) in tx.facets_unwritten.keys() {
        if *id != record.id {
            continue;
        }
        if let Some(now) = tx.facets_known.get(&(*id, facet.clone(), value.clone())) {
            show(record, facet, value, *now)?;
        }
    }
    Ok(())
}

/// Counts `seen` for campaign `id` in the table. One statement per round, each round holding
/// at most one value per facet: the bound is checked against what earlier rounds stored, which
/// a single statement (one snapshot) could not see. Values of different facets touch different
/// rows, so only the order within a facet matters, and rounds keep it.
pub(crate) fn add(tx: &mut Step<'_>, id: CampaignId, seen: &[&Seen<'_>]) -> Result<Vec<Changed>> {
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
    let mut changed = Vec::new();
    for round in rounds {
        let facet: Vec<&str> = round.iter().map(|s| s.facet).collect();
        let value: Vec<&str> = round.iter().map(|s| s.value).collect();
        let n: Vec<i64> = round.iter().map(|s| s.n).collect();
        let first: Vec<i64> = round.iter().map(|s| s.first).collect();
        let last: Vec<i64> = round.iter().map(|s| s.last).collect();
        let rows = tx.query(
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
        for r in &rows {
            let value: Option<String> = r.try_get(1)?;
            let stored = match value {
                Some(v) => Some((
                    v,
                    Tally {
                        count: r.try_get(2)?,
                        first: r.try_get(3)?,
                        last: r.try_get(4)?,
                    },
                )),
                None => None,
            };
            changed.push(Changed {
                facet: r.try_get(0)?,
                stored,
                new: r.try_get(5)?,
            });
        }
    }
    Ok(changed)
}

/// Puts `value` of `facet`, as it is now, among the values `record` shows, as a fresh read
/// (`campaign_read::campaign`) would: ranked by count, then last seen, then value, the first
/// [`FACET_VALUES_SHOWN`] kept. Counts only rise and only the values given here changed, so the
/// values shown after a change are among those shown before and the changed one: exact.
fn show(record: &mut Campaign, facet: &str, value: &str, now: Tally) -> Result<()> {
    let v = to_facet((
        value.to_string(),
        u64::try_from(now.count).unwrap_or(0),
        now.first,
        now.last,
    ))?;
    let shown = record.facets.entry(facet.to_string()).or_default();
    shown.retain(|s| s.value != v.value);
    shown.push(v);
    shown.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.last_seen.cmp(&a.last_seen))
            .then(a.value.cmp(&b.value))
    });
    shown.truncate(FACET_VALUES_SHOWN);
    Ok(())
}

/// One round of [`add`]: `updated` are the stored values, `fresh` the others (one value per
/// facet, so a facet in `updated` has no fresh value). Returns the values it updated or stored,
/// as stored now, and one row per fresh value, its value NULL if it was not stored (past the
/// bound a fresh value is only counted); the last column says whether it counted as distinct.
const ADD_FACETS: &str = "
    WITH v AS (
        SELECT * FROM unnest($2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[], $6::BIGINT[])
            AS v(facet, value, n, first_seen, last_seen)
    ), updated AS (
        UPDATE campaign_facets f SET count = f.count + v.n,
               first_seen = least(f.first_seen, v.first_seen),
               last_seen = greatest(f.last_seen, v.last_seen)
        FROM v WHERE f.campaign = $1::BIGINT AND f.facet = v.facet AND f.value = v.value
        RETURNING f.facet, f.value, f.count, f.first_seen, f.last_seen
    ), fresh AS (
        SELECT * FROM v WHERE facet NOT IN (SELECT facet FROM updated)
    ), stored AS (
        INSERT INTO campaign_facets (campaign, facet, value, count, first_seen, last_seen)
        SELECT $1::BIGINT, facet, value, n, first_seen, last_seen FROM fresh
        WHERE (SELECT count(*) FROM (SELECT 1 FROM campaign_facets c
                                     WHERE c.campaign = $1::BIGINT AND c.facet = fresh.facet
                                     LIMIT $7::BIGINT) p) < $7::BIGINT
        RETURNING facet, value, count, first_seen, last_seen
    ), counted AS (
        INSERT INTO campaign_distinct (campaign, facet, n)
        SELECT $1::BIGINT, facet, 1 FROM fresh
        ON CONFLICT (campaign, facet) DO UPDATE SET n = campaign_distinct.n + 1
    )
    SELECT facet, value, count, first_seen, last_seen, false FROM updated
    UNION ALL
    SELECT fresh.facet, stored.value, stored.count, stored.first_seen, stored.last_seen, true
    FROM fresh LEFT JOIN stored ON stored.facet = fresh.facet";
