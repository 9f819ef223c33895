//! PostgreSQL counterpart of `crate::seeds`: bait visits and the seeds minted for them.
//!
//! The visitor's strings (IP, user agent, referer, path) are `BYTEA` holding UTF-8, not `TEXT`:
//! they come from whoever fetched the bait page, and PostgreSQL text cannot hold the NUL a
//! hostile client may send (SQLite stores it, and a trap keeps the raw attacker value). Bytes
//! also compare and sort like SQLite's text, so the harvester keyset pages the same way.

use crate::error::{Result, StoreError};
use crate::seeds::{MAX_MINT, SeedRecord, check_seed, new_record};
use crate::{Timestamp, unix_nanos};
use model::seed::{MAX_SEED_LABEL, MAX_VISIT_FIELD, truncate};
use model::{BaitForm, BaitVisit, NewSeed};
use postgres::error::SqlState;
use postgres::{Client, Transaction};

/// This module's tables (part of schema version 1, see `schema.rs`).
pub(crate) const DDL: &str = r#"
    CREATE TABLE bait_visits (
        id         BIGSERIAL PRIMARY KEY,
        uuid       BYTEA NOT NULL UNIQUE,  -- model::BaitVisit.id (UUIDv7)
        at         BIGINT NOT NULL,        -- unix nanoseconds
        ip         BYTEA NOT NULL,         -- UTF-8, as sent (see pg/seeds.rs)
        user_agent BYTEA NOT NULL,
        referer    BYTEA NOT NULL,
        path       BYTEA NOT NULL
    );
    CREATE INDEX bait_visits_by_ip ON bait_visits(ip, at);
    CREATE INDEX bait_visits_by_time ON bait_visits(at);
    CREATE TABLE seeds (
        id         BIGSERIAL PRIMARY KEY,
        token      TEXT NOT NULL UNIQUE,   -- model::seed token, lower case
        address    TEXT NOT NULL,
        domain     TEXT NOT NULL,          -- lower case
        origin     TEXT NOT NULL,          -- visit | manual
        form       TEXT COLLATE "C",       -- mailto | text | obfuscated | entities
        label      TEXT NOT NULL,
        visit      BIGINT,                 -- bait_visits.id
        issued_at  BIGINT NOT NULL,
        hits       BIGINT NOT NULL,        -- sightings that reached it
        first_hit  BIGINT,
        last_hit   BIGINT
    );
    CREATE INDEX seeds_by_label ON seeds(label, id);
    CREATE INDEX seeds_by_visit ON seeds(visit) WHERE visit IS NOT NULL;
    CREATE INDEX seeds_hit ON seeds(id) WHERE hits > 0;
    CREATE TABLE seed_hits (
        seed        BIGINT NOT NULL,       -- seeds.id
        seq         BIGINT NOT NULL,       -- sightings.seq
        received_at BIGINT NOT NULL,
        PRIMARY KEY (seed, seq)
    );
    CREATE INDEX seed_hits_by_seq ON seed_hits(seq);
    -- One row per visiting IP, kept at each visit and each new hit: lists never group visits.
    CREATE TABLE harvesters (
        ip              BYTEA PRIMARY KEY,
        visits          BIGINT NOT NULL,
        first_visit     BIGINT NOT NULL,
        last_visit      BIGINT NOT NULL,
        last_user_agent BYTEA NOT NULL,
        seeds           BIGINT NOT NULL,
        seeds_hit       BIGINT NOT NULL,
        messages        BIGINT NOT NULL    -- distinct sightings that reached its seeds
    );
    CREATE INDEX harvesters_by_last_visit ON harvesters(last_visit, ip);
"#;

/// Stores one bait visit and its seeds in one transaction (see `Store::record_bait_visit`).
pub(crate) fn record_visit(
    c: &mut Client,
    visit: &BaitVisit,
    seeds: &[NewSeed],
) -> Result<Vec<SeedRecord>> {
    if seeds.len() > MAX_MINT {
        return Err(StoreError::invalid(format!(
            "at most {MAX_MINT} seeds per visit"
        )));
    }
    let field = |s: &str| truncate(s, MAX_VISIT_FIELD).into_bytes();
    let (ip, agent) = (field(&visit.ip), field(&visit.user_agent));
    let at = unix_nanos(visit.at);
    let mut tx = c.transaction()?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO bait_visits (uuid, at, ip, user_agent, referer, path)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                &visit.id.as_bytes().as_slice(),
                &at,
                &ip,
                &agent,
                &field(&visit.referer),
                &field(&visit.path),
            ],
        )
        .map_err(|e| duplicate(e, || format!("bait visit {} is stored already", visit.id)))?
        .try_get(0)?;
    // The latest visit's user agent wins; visits recorded out of order do not move it back.
    // One statement, so two collectors recording visits of one IP never lose a count.
    tx.execute(
        "INSERT INTO harvesters (ip, visits, first_visit, last_visit, last_user_agent, seeds,
                                 seeds_hit, messages)
         VALUES ($1, 1, $2, $2, $3, $4, 0, 0)
         ON CONFLICT (ip) DO UPDATE SET
             visits = harvesters.visits + 1,
             first_visit = least(harvesters.first_visit, EXCLUDED.first_visit),
             last_user_agent = CASE WHEN EXCLUDED.last_visit >= harvesters.last_visit
                               THEN EXCLUDED.last_user_agent
                               ELSE harvesters.last_user_agent END,
             last_visit = greatest(harvesters.last_visit, EXCLUDED.last_visit),
             seeds = harvesters.seeds + EXCLUDED.seeds",
        &[&ip, &at, &agent, &super::big(seeds.len())],
    )?;
    let out = insert_seeds(&mut tx, seeds, Some((id, visit.id)), visit.at)?;
    tx.commit()?;
    Ok(out)
}

/// Inserts `seeds` issued at `issued`, for the visit `(row id, uuid)` if any. The caller
/// commits; an error leaves the transaction to roll back.
pub(crate) fn insert_seeds(
    tx: &mut Transaction<'_>,
    seeds: &[NewSeed],
    visit: Option<(i64, uuid::Uuid)>,
    issued: Timestamp,
) -> Result<Vec<SeedRecord>> {
    let put = tx.prepare(
        "INSERT INTO seeds (token, address, domain, origin, form, label, visit, issued_at, hits)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0) RETURNING id",
    )?;
    let mut out = Vec::with_capacity(seeds.len());
    for s in seeds {
        check_seed(s)?;
        let label = truncate(&s.label, MAX_SEED_LABEL);
        let id: i64 = tx
            .query_one(
                &put,
                &[
                    &s.token,
                    &s.address,
                    &s.domain,
                    &s.origin.as_str(),
                    &s.form.map(BaitForm::as_str),
                    &label,
                    &visit.map(|(id, _)| id),
                    &unix_nanos(issued),
                ],
            )
            .map_err(|e| duplicate(e, || format!("seed token {} exists already", s.token)))?
            .try_get(0)?;
        out.push(new_record(id, s, label, visit.map(|(_, u)| u), issued));
    }
    Ok(out)
}

/// A unique-key violation as [`StoreError::Invalid`] with `what`; other errors unchanged.
fn duplicate(e: postgres::Error, what: impl FnOnce() -> String) -> StoreError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::invalid(what())
    } else {
        StoreError::Postgres(e)
    }
}
