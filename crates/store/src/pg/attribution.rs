//! PostgreSQL counterpart of `crate::attribution`: the accepted recipients of a message that
//! name a seed become `seed_hits`, and the seed's and its harvester's counters move once per
//! message.

use super::prepared::Tx;
use crate::Result;
use crate::unix_nanos;
use model::Sighting;
use std::collections::BTreeMap;

/// This module's tables (part of schema version 1, see `schema.rs`): none, `seeds.rs` has them.
pub(crate) const DDL: &str = "";

/// Seed attribution of one analysed sighting, in the report save's transaction (see
/// `crate::attribution::attribute` for the rules). Counters move only when the `seed_hits`
/// row is new (`ON CONFLICT DO NOTHING`); a concurrent save of the same sighting waits on that
/// key until the first commits and then inserts nothing, so two collectors never count one
/// message twice.
///
/// Rows are locked in one order by every save: the seeds by token, then the harvesters by IP
/// (their counters move after all the seeds'), so two collectors attributing messages that
/// reached the seeds of the same harvesters do not deadlock.
pub(crate) fn attribute(tx: &mut Tx<'_>, s: &Sighting) -> Result<()> {
    let named = crate::attribution::seed_tokens(s);
    if named.is_empty() {
        return Ok(());
    }
    let Some(row) = tx.query_opt(
        "SELECT seq FROM sightings WHERE id = $1",
        &[&s.id.as_bytes().as_slice()],
    )?
    else {
        return Ok(());
    };
    let seq: i64 = row.try_get(0)?;
    let received = unix_nanos(s.received_at);
    let find = "SELECT d.id, d.domain, d.hits, v.ip FROM seeds d
                LEFT JOIN bait_visits v ON v.id = d.visit WHERE d.token = $1";
    // Per harvester IP: its seeds hit anew by this message, and how many got their first hit.
    let mut harvesters: BTreeMap<Vec<u8>, (Vec<i64>, i64)> = BTreeMap::new();
    for (token, domain) in named {
        let Some(seed) = tx.query_opt(find, &[&token])? else {
            continue;
        };
        let (id, seed_domain): (i64, String) = (seed.try_get(0)?, seed.try_get(1)?);
        let ip: Option<Vec<u8>> = seed.try_get(3)?;
        if seed_domain != domain {
            continue;
        }
        let added = tx.execute(
            "INSERT INTO seed_hits (seed, seq, received_at) VALUES ($1, $2, $3)
             ON CONFLICT (seed, seq) DO NOTHING",
            &[&id, &seq, &received],
        )?;
        if added == 0 {
            continue;
        }
        // The hits before this one, read after the insert: the row lock the update takes
        // orders concurrent first hits of one seed, so exactly one sees zero.
        let hits: i64 = tx
            .query_one(
                "UPDATE seeds SET hits = hits + 1,
                     first_hit = least(coalesce(first_hit, $2), $2),
                     last_hit = greatest(coalesce(last_hit, $2), $2)
                 WHERE id = $1 RETURNING hits - 1",
                &[&id, &received],
            )?
            .try_get(0)?;
        if let Some(ip) = ip {
            let (seeds, first) = harvesters.entry(ip).or_default();
            seeds.push(id);
            *first += i64::from(hits == 0);
        }
    }
    for (ip, (seeds, first)) in harvesters {
        count_harvester_hits(tx, &ip, &seeds, seq, first)?;
    }
    Ok(())
}

/// Moves a harvester's counters for the new hits of its `seeds` by sighting `seq`: one more
/// message unless one of its other seeds counted this message before, and one more seed hit
/// per seed that received its first message (`first_hits`).
fn count_harvester_hits(
    tx: &mut Tx<'_>,
    ip: &[u8],
    seeds: &[i64],
    seq: i64,
    first_hits: i64,
) -> Result<()> {
    let counted: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM seed_hits h JOIN seeds d ON d.id = h.seed
                            JOIN bait_visits v ON v.id = d.visit
                            WHERE h.seq = $1 AND h.seed <> ALL($2) AND v.ip = $3)",
            &[&seq, &seeds, &ip],
        )?
        .try_get(0)?;
    tx.execute(
        "UPDATE harvesters SET messages = messages + $2, seeds_hit = seeds_hit + $3
         WHERE ip = $1",
        &[&ip, &i64::from(!counted), &first_hits],
    )?;
    Ok(())
}
