//! Attribution at report save (schema v10): the accepted recipients of a message that name a
//! seed become `seed_hits`, and the seed's and its harvester's counters move once per message.

use crate::Result;
use crate::unix_nanos;
use model::Sighting;
use model::seed::token_of;
use rusqlite::{OptionalExtension, Transaction};

/// Seed tokens looked up per message at report save; a message with more token-shaped
/// recipients than any trap accepts is attributed for the first ones only.
pub const MAX_SEEDS_PER_MESSAGE: usize = 1000;

/// Links the sighting of a report being saved to the seeds its accepted recipients name
/// (called by `reports::save` in its transaction). Only accepted recipients count: a relay
/// attempt never reached a trap domain. A token counts only for a seed of the recipient's own
/// domain, so a harvested token mailed at a foreign domain proves nothing. Counters move only
/// when the `seed_hits` row is new, which makes a second save of the same report a no-op.
pub(crate) fn attribute(tx: &Transaction<'_>, s: &Sighting) -> Result<()> {
    let named = seed_tokens(s);
    if named.is_empty() {
        return Ok(());
    }
    let seq: Option<i64> = tx
        .prepare_cached("SELECT seq FROM sightings WHERE id = ?1")?
        .query_row([s.id.as_bytes().to_vec()], |r| r.get(0))
        .optional()?;
    let Some(seq) = seq else { return Ok(()) };
    let received = unix_nanos(s.received_at);
    let mut find = tx.prepare_cached(
        "SELECT d.id, d.domain, d.hits, v.ip FROM seeds d LEFT JOIN bait_visits v ON v.id = d.visit
         WHERE d.token = ?1",
    )?;
    for (token, domain) in named {
        let seed: Option<(i64, String, i64, Option<String>)> = find
            .query_row([&token], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let Some((id, seed_domain, hits, ip)) = seed else {
            continue;
        };
        if seed_domain != domain {
            continue;
        }
        let added = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO seed_hits (seed, seq, received_at) VALUES (?1, ?2, ?3)",
            )?
            .execute((id, seq, received))?;
        if added == 0 {
            continue;
        }
        tx.prepare_cached(
            "UPDATE seeds SET hits = hits + 1,
                 first_hit = min(coalesce(first_hit, ?2), ?2),
                 last_hit = max(coalesce(last_hit, ?2), ?2)
             WHERE id = ?1",
        )?
        .execute((id, received))?;
        if let Some(ip) = ip {
            count_harvester_hit(tx, &ip, id, seq, hits == 0)?;
        }
    }
    Ok(())
}

/// Moves a harvester's counters for a new hit of its seed `seed` by sighting `seq`: one more
/// message unless another of its seeds already counted this one, one more seed hit when the
/// seed received its first message.
fn count_harvester_hit(
    tx: &Transaction<'_>,
    ip: &str,
    seed: i64,
    seq: i64,
    first_of_seed: bool,
) -> Result<()> {
    let counted: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM seed_hits h JOIN seeds d ON d.id = h.seed
                            JOIN bait_visits v ON v.id = d.visit
                            WHERE h.seq = ?1 AND h.seed != ?2 AND v.ip = ?3)",
        )?
        .query_row((seq, seed, ip), |r| r.get(0))?;
    tx.prepare_cached(
        "UPDATE harvesters SET messages = messages + ?2, seeds_hit = seeds_hit + ?3
         WHERE ip = ?1",
    )?
    .execute((ip, i64::from(!counted), i64::from(first_of_seed)))?;
    Ok(())
}

/// The (token, domain) pairs of the accepted recipients that carry a seed token, sorted and
/// without repeats, at most [`MAX_SEEDS_PER_MESSAGE`]: what both stores attribute (sorted, so
/// every save locks the seeds in one order).
pub(crate) fn seed_tokens(s: &Sighting) -> Vec<(String, String)> {
    let mut named: Vec<(String, String)> = s
        .envelope
        .accepted()
        .filter_map(|r| {
            let address = r.address.to_ascii_lowercase();
            let (_, domain) = address.rsplit_once('@')?;
            Some((token_of(&address)?, domain.to_string()))
        })
        .take(MAX_SEEDS_PER_MESSAGE)
        .collect();
    named.sort();
    named.dedup();
    named
}
