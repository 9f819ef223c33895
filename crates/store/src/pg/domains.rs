//! PostgreSQL counterpart of `crate::domains`: per trap domain statistics from
//! `message_domains`, one row per analysed message and accepted recipient domain, keyed
//! `(domain, received_at, seq)` so a domain's window is one index range.

use crate::domains::{MAX_STAT_DOMAINS, Window, rank_domains, sensor_of};
use crate::error::Result;
use crate::query::from_nanos;
use crate::seeds::DomainStats;
use crate::{Timestamp, unix_nanos};
use model::Sighting;
use postgres::GenericClient;

/// This module's tables (part of schema version 1, see `schema.rs`). Domains sort by bytes
/// (`COLLATE "C"`), as in SQLite, so the walk over domain names is the same.
pub(crate) const DDL: &str = r#"
    CREATE TABLE message_domains (
        domain      TEXT COLLATE "C" NOT NULL,  -- exact recipient domain, lower case
        received_at BIGINT NOT NULL,
        seq         BIGINT NOT NULL,            -- reports.seq
        sensor      TEXT NOT NULL,              -- the sighting's sensor or listener, or 'import'
        PRIMARY KEY (domain, received_at, seq)
    );
"#;

/// Per trap domain statistics of one analysed sighting, in the report save's transaction
/// (after its report row is written: the row's `seq`, which the save passes, is the key).
/// Saving again adds nothing.
pub(crate) fn index_report(tx: &mut super::prepared::Tx<'_>, s: &Sighting, seq: i64) -> Result<()> {
    let domains: Vec<String> = crate::search::trap_domains(s)
        .into_iter()
        .filter(|d| !d.is_empty())
        .collect();
    tx.execute(
        "INSERT INTO message_domains (domain, received_at, seq, sensor)
         SELECT d, $2, $3, $4 FROM unnest($1::text[]) AS d
         ON CONFLICT DO NOTHING",
        &[&domains, &unix_nanos(s.received_at), &seq, &sensor_of(s)],
    )?;
    Ok(())
}

pub(crate) fn first_since(
    c: &mut impl GenericClient,
    domain: &str,
    since: Timestamp,
) -> Result<Option<Timestamp>> {
    c.query_opt(
        "SELECT received_at FROM message_domains WHERE domain = $1 AND received_at >= $2
         ORDER BY received_at LIMIT 1",
        &[&domain.to_ascii_lowercase(), &unix_nanos(since)],
    )?
    .map(|r| from_nanos(r.try_get(0)?))
    .transpose()
}

/// Statistics of every domain with messages in `[since, until]`, most messages first: the
/// domains are walked one index seek each, then each domain's window is one range scan.
pub(crate) fn stats(
    c: &mut impl GenericClient,
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<DomainStats>> {
    let (since, until) = (unix_nanos(since), unix_nanos(until));
    let next =
        c.prepare("SELECT domain FROM message_domains WHERE domain > $1 ORDER BY domain LIMIT 1")?;
    let window = c.prepare(
        "SELECT m.received_at, m.sensor, r.class, r.campaign FROM message_domains m
         JOIN reports r ON r.seq = m.seq
         WHERE m.domain = $1 AND m.received_at >= $2 AND m.received_at <= $3",
    )?;
    let mut out = Vec::new();
    // The empty name is never stored, so "" starts the walk before every domain.
    let mut previous = String::new();
    for _ in 0..MAX_STAT_DOMAINS {
        let Some(row) = c.query_opt(&next, &[&previous])? else {
            break;
        };
        let domain: String = row.try_get(0)?;
        let mut w = Window::default();
        for r in c.query(&window, &[&domain, &since, &until])? {
            w.add(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?);
        }
        out.extend(w.stats(&domain)?);
        previous = domain;
    }
    rank_domains(&mut out);
    Ok(out)
}
