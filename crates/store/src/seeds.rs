//! Seeds and bait visits (schema v10): which trap address was handed to whom, and the mail
//! that came back to it.
//!
//! A bait visit and the seeds minted for it are stored in one transaction
//! ([`Store::record_bait_visit`]); manual seeds by [`Store::mint_seeds`]. Attribution happens
//! when a report is saved (`reports.rs` calls `attribution::attribute`): every accepted
//! recipient whose local part carries a token ([`model::seed::token_of`]) that names a stored
//! seed *of the same domain* gets a `seed_hits` row (idempotent, so `reanalyze` repeats it
//! harmlessly) and the seed's and the harvester's counters move only when that row is new.
//! Reading a harvester (one visiting IP) never scans all visits: `harvesters` keeps one row
//! per IP, updated with each visit and each first hit of a message.
//!
//! Layout: this file holds the API, the writes and the v10 schema; `seeds_read.rs` the reads;
//! `attribution.rs` the link from a saved report to its seeds; `domains.rs` the per-domain
//! statistics (`message_domains`, filled at report save).
//!
//! Limits: list reads are capped at [`MAX_SEED_PAGE`]; a detail view shows at most
//! [`MAX_DETAIL_ROWS`] rows per list. Visitor strings are cut to [`MAX_VISIT_FIELD`] again
//! here: the store does not trust its caller to have done it.

use crate::error::StoreError;
use crate::search::Count;
use crate::{Result, Store, Timestamp, unix_nanos};
use model::seed::{MAX_SEED_LABEL, MAX_VISIT_FIELD, token_of, truncate};
use model::{BaitForm, BaitVisit, NewSeed, SeedOrigin};
use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior};
use serde::Serialize;

/// Most rows one list read returns.
pub const MAX_SEED_PAGE: usize = 500;
/// Most rows per list in a seed or harvester detail (hits, visits, campaigns, networks, ...).
pub const MAX_DETAIL_ROWS: usize = 100;
/// Most seeds one `mint_seeds` call creates.
pub const MAX_MINT: usize = 1000;
/// Longest seed address accepted: the RFC 5321 limit of a forward path.
pub const MAX_SEED_ADDRESS: usize = 254;

/// A stored seed with its hit counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedRecord {
    pub id: i64,
    pub token: String,
    pub address: String,
    pub domain: String,
    pub origin: SeedOrigin,
    pub form: Option<BaitForm>,
    pub label: String,
    /// The bait visit it was minted for (visit seeds).
    pub visit: Option<uuid::Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: Timestamp,
    /// Messages (sightings) that reached it.
    pub hits: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_hit: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_hit: Option<Timestamp>,
}

/// One message that reached a seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedHit {
    pub sighting: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: Timestamp,
    /// Sending peer `ip:port` and its network (`/24`, `/48`).
    pub peer: String,
    pub network: String,
    pub helo: Option<String>,
    pub sender: String,
    pub subject: Option<String>,
    /// Verdict class of the report.
    pub class: String,
    /// The campaign the message was clustered into, if any yet.
    pub campaign: Option<uuid::Uuid>,
}

/// A seed with where it went and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedDetail {
    pub seed: SeedRecord,
    /// The bait visit that harvested it (visit seeds).
    pub visit: Option<BaitVisit>,
    /// Newest first, at most [`MAX_DETAIL_ROWS`].
    pub hits: Vec<SeedHit>,
    /// From issue (the visit, or the mint) to the first message, in seconds.
    pub first_spam_after_secs: Option<i64>,
}

/// A seed as attributed to one message: the seed and, for visit seeds, the visit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeedAttribution {
    pub seed: SeedRecord,
    pub visit: Option<BaitVisit>,
    /// From issue to this message, in seconds.
    pub after_secs: i64,
}

/// Which seeds to list (newest first, keyset paging on the id).
#[derive(Debug, Clone, Default)]
pub struct SeedFilter {
    /// Exact label.
    pub label: Option<String>,
    pub origin: Option<SeedOrigin>,
    /// Only seeds that received mail.
    pub hit_only: bool,
    /// Only seeds minted for visits from this IP.
    pub visitor: Option<String>,
    /// Rows (capped at [`MAX_SEED_PAGE`]; 0 means the cap).
    pub limit: usize,
    /// Only ids below this one (the previous page's last id).
    pub before_id: Option<i64>,
}

/// One harvester: a visiting IP, with totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HarvesterRow {
    pub ip: String,
    pub visits: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub first_visit: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub last_visit: Timestamp,
    /// User agent of the latest visit.
    pub last_user_agent: String,
    /// Seeds minted for its visits, and how many of them received mail.
    pub seeds: u64,
    pub seeds_hit: u64,
    /// Messages that reached its seeds.
    pub messages: u64,
}

/// A campaign that used a harvester's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CampaignUse {
    pub campaign: uuid::Uuid,
    /// The campaign's label, if an analyst gave one.
    pub label: Option<String>,
    pub messages: u64,
}

/// Everything known about one harvester.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HarvesterDetail {
    pub harvester: HarvesterRow,
    /// User agents seen, most frequent first.
    pub user_agents: Vec<Count>,
    /// Pages it fetched, most frequent first.
    pub pages: Vec<Count>,
    /// Address forms whose seeds received mail (what its scraper can read).
    pub forms_hit: Vec<Count>,
    /// Shortest and median time from a visit to the first message at one of its seeds, seconds.
    pub first_spam_min_secs: Option<i64>,
    pub first_spam_median_secs: Option<i64>,
    /// Campaigns that mailed its seeds, most messages first.
    pub campaigns: Vec<CampaignUse>,
    /// Sending networks that mailed its seeds, most messages first.
    pub networks: Vec<Count>,
    /// Latest visits first.
    pub visits: Vec<BaitVisit>,
    /// Its seeds, latest first.
    pub seeds: Vec<SeedRecord>,
}

/// Per trap domain (exact recipient domain) over a time window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainStats {
    pub domain: String,
    /// Analysed messages in the window.
    pub messages: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_seen: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<Timestamp>,
    /// Verdict classes, most frequent first.
    pub by_class: Vec<Count>,
    /// Distinct campaigns in the window.
    pub campaigns: u64,
    /// Messages per sensor (the listener name until sensors report their own id).
    pub by_sensor: Vec<Count>,
}

impl Store {
    /// Stores one bait visit and the seeds minted for it, in one transaction. A visit id
    /// stored before, a malformed seed or a token that exists already is
    /// [`StoreError::Invalid`] and stores nothing.
    pub fn record_bait_visit(
        &self,
        visit: &BaitVisit,
        seeds: &[NewSeed],
    ) -> Result<Vec<SeedRecord>> {
        self.on_mut(
            |c| record_visit(c, visit, seeds),
            |c| crate::pg::seeds::record_visit(c, visit, seeds),
        )
    }

    /// Stores manual seeds (at most [`MAX_MINT`] per call), all or none.
    pub fn mint_seeds(&self, seeds: &[NewSeed]) -> Result<Vec<SeedRecord>> {
        if seeds.len() > MAX_MINT {
            return Err(StoreError::invalid(format!(
                "at most {MAX_MINT} seeds per call, not {}",
                seeds.len()
            )));
        }
        let now = model::now();
        self.on_mut(
            |c| {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = insert_seeds(&tx, seeds, None, now)?;
                tx.commit()?;
                Ok(out)
            },
            |c| {
                let mut tx = c.transaction()?;
                let out = crate::pg::seeds::insert_seeds(&mut tx, seeds, None, now)?;
                tx.commit()?;
                Ok(out)
            },
        )
    }

    /// Bait visits recorded since `since` (for the bait listener's daily cap).
    pub fn bait_visits_since(&self, since: Timestamp) -> Result<u64> {
        let since = unix_nanos(since);
        let n: i64 = self.on(
            |c| {
                let n = c
                    .prepare_cached("SELECT count(*) FROM bait_visits WHERE at >= ?1")?
                    .query_row([since], |r| r.get(0))?;
                Ok(n)
            },
            |c| {
                let row =
                    c.query_one("SELECT count(*) FROM bait_visits WHERE at >= $1", &[&since])?;
                Ok(row.try_get(0)?)
            },
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Seeds, newest first.
    pub fn seeds(&self, filter: &SeedFilter) -> Result<Vec<SeedRecord>> {
        self.on(
            |c| crate::seeds_read::seeds(c, filter),
            |c| crate::pg::seeds_read::seeds(c, filter),
        )
    }

    /// One seed by id.
    pub fn seed(&self, id: i64) -> Result<Option<SeedDetail>> {
        let key = crate::seeds_read::SeedKey::Id(id);
        self.on(
            |c| crate::seeds_read::seed_detail(c, key),
            |c| crate::pg::seeds_read::seed_detail(c, key),
        )
    }

    /// One seed by its address or token (case-insensitive). An address must name the seed's
    /// domain too; anything without a token's shape finds nothing.
    pub fn seed_by_address(&self, address_or_token: &str) -> Result<Option<SeedDetail>> {
        let Some(token) = token_of(address_or_token) else {
            return Ok(None);
        };
        let key = crate::seeds_read::SeedKey::Token(&token);
        let detail = self.on(
            |c| crate::seeds_read::seed_detail(c, key),
            |c| crate::pg::seeds_read::seed_detail(c, key),
        )?;
        Ok(detail.filter(|d| {
            !address_or_token.contains('@') || d.seed.address.eq_ignore_ascii_case(address_or_token)
        }))
    }

    /// The seeds a sighting reached (empty when none, or before its report is saved).
    pub fn seeds_of_sighting(&self, sighting: uuid::Uuid) -> Result<Vec<SeedAttribution>> {
        self.on(
            |c| crate::seeds_read::seeds_of_sighting(c, sighting),
            |c| crate::pg::seeds_read::seeds_of_sighting(c, sighting),
        )
    }

    /// Harvesters, latest visit first (then by IP, descending); `before` is the previous
    /// page's last `(last_visit, ip)`.
    pub fn harvesters(
        &self,
        limit: usize,
        before: Option<(Timestamp, String)>,
    ) -> Result<Vec<HarvesterRow>> {
        self.on(
            |c| crate::seeds_read::harvesters(c, limit, before.clone()),
            |c| crate::pg::seeds_read::harvesters(c, limit, before.clone()),
        )
    }

    /// One harvester by IP.
    pub fn harvester(&self, ip: &str) -> Result<Option<HarvesterDetail>> {
        self.on(
            |c| crate::seeds_read::harvester(c, ip),
            |c| crate::pg::seeds_read::harvester(c, ip),
        )
    }

    /// Statistics per exact trap domain for messages received in `[since, until]`.
    pub fn domain_stats(&self, since: Timestamp, until: Timestamp) -> Result<Vec<DomainStats>> {
        self.on(
            |c| crate::domains::stats(c, since, until),
            |c| crate::pg::domains::stats(c, since, until),
        )
    }

    /// The first message to `domain` (exact) received at or after `since`.
    pub fn domain_first_since(&self, domain: &str, since: Timestamp) -> Result<Option<Timestamp>> {
        self.on(
            |c| crate::domains::first_since(c, domain, since),
            |c| crate::pg::domains::first_since(c, domain, since),
        )
    }
}

fn record_visit(
    conn: &mut Connection,
    visit: &BaitVisit,
    seeds: &[NewSeed],
) -> Result<Vec<SeedRecord>> {
    if seeds.len() > MAX_MINT {
        return Err(StoreError::invalid(format!(
            "at most {MAX_MINT} seeds per visit"
        )));
    }
    let field = |s: &str| truncate(s, MAX_VISIT_FIELD);
    let (ip, agent) = (field(&visit.ip), field(&visit.user_agent));
    let at = unix_nanos(visit.at);
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO bait_visits (uuid, at, ip, user_agent, referer, path)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        )?
        .query_row(
            (
                visit.id.as_bytes().to_vec(),
                at,
                &ip,
                &agent,
                field(&visit.referer),
                field(&visit.path),
            ),
            |r| r.get(0),
        )
        .map_err(|e| duplicate(e, || format!("bait visit {} is stored already", visit.id)))?;
    // The latest visit's user agent wins; visits recorded out of order do not move it back.
    tx.prepare_cached(
        "INSERT INTO harvesters (ip, visits, first_visit, last_visit, last_user_agent, seeds,
                                 seeds_hit, messages)
         VALUES (?1, 1, ?2, ?2, ?3, ?4, 0, 0)
         ON CONFLICT(ip) DO UPDATE SET
             visits = visits + 1,
             first_visit = min(first_visit, ?2),
             last_user_agent = CASE WHEN ?2 >= last_visit THEN ?3 ELSE last_user_agent END,
             last_visit = max(last_visit, ?2),
             seeds = seeds + ?4",
    )?
    .execute((&ip, at, &agent, seeds.len() as i64))?;
    let out = insert_seeds(&tx, seeds, Some((id, visit.id)), visit.at)?;
    tx.commit()?;
    Ok(out)
}

/// Inserts `seeds` issued at `issued`, for the visit `(row id, uuid)` if any.
fn insert_seeds(
    tx: &Transaction<'_>,
    seeds: &[NewSeed],
    visit: Option<(i64, uuid::Uuid)>,
    issued: Timestamp,
) -> Result<Vec<SeedRecord>> {
    let mut put = tx.prepare_cached(
        "INSERT INTO seeds (token, address, domain, origin, form, label, visit, issued_at, hits)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0) RETURNING id",
    )?;
    let mut out = Vec::with_capacity(seeds.len());
    for s in seeds {
        check_seed(s)?;
        let label = truncate(&s.label, MAX_SEED_LABEL);
        let id: i64 = put
            .query_row(
                (
                    &s.token,
                    &s.address,
                    &s.domain,
                    s.origin.as_str(),
                    s.form.map(BaitForm::as_str),
                    &label,
                    visit.map(|(id, _)| id),
                    unix_nanos(issued),
                ),
                |r| r.get(0),
            )
            .map_err(|e| duplicate(e, || format!("seed token {} exists already", s.token)))?;
        out.push(new_record(id, s, label, visit.map(|(_, u)| u), issued));
    }
    Ok(out)
}

/// The record of a seed just stored as row `id`: no hits yet.
pub(crate) fn new_record(
    id: i64,
    s: &NewSeed,
    label: String,
    visit: Option<uuid::Uuid>,
    issued_at: Timestamp,
) -> SeedRecord {
    SeedRecord {
        id,
        token: s.token.clone(),
        address: s.address.clone(),
        domain: s.domain.clone(),
        origin: s.origin,
        form: s.form,
        label,
        visit,
        issued_at,
        hits: 0,
        first_hit: None,
        last_hit: None,
    }
}

/// A seed must be what [`NewSeed::mint`] makes: a valid token, carried by its address, whose
/// domain is the seed's lower-case domain. Anything else could never be attributed.
pub(crate) fn check_seed(s: &NewSeed) -> Result<()> {
    let domain_ok = s
        .address
        .rsplit_once('@')
        .is_some_and(|(_, d)| d == s.domain);
    let ok = token_of(&s.token).as_deref() == Some(s.token.as_str())
        && token_of(&s.address).as_deref() == Some(s.token.as_str())
        && domain_ok
        && !s.domain.is_empty()
        && s.domain == s.domain.to_ascii_lowercase()
        && s.address.len() <= MAX_SEED_ADDRESS;
    if ok {
        Ok(())
    } else {
        Err(StoreError::invalid(format!(
            "not a seed address: {:?}",
            truncate(&s.address, MAX_SEED_ADDRESS)
        )))
    }
}

/// A unique-constraint failure as [`StoreError::Invalid`] with `what`; other errors unchanged.
fn duplicate(e: rusqlite::Error, what: impl FnOnce() -> String) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::invalid(what()),
        _ => StoreError::sqlite(e),
    }
}

/// Schema v10 (appended to `schema::MIGRATIONS`; `domains::backfill_v10` fills
/// `message_domains` from the reports stored before it).
pub(crate) const MIGRATION_V10: &str = "
    -- Bait visits and seeds (seeds.rs).
    CREATE TABLE bait_visits (
        id         INTEGER PRIMARY KEY,
        uuid       BLOB NOT NULL UNIQUE,  -- model::BaitVisit.id (UUIDv7)
        at         INTEGER NOT NULL,      -- unix nanoseconds
        ip         TEXT NOT NULL,
        user_agent TEXT NOT NULL,
        referer    TEXT NOT NULL,
        path       TEXT NOT NULL
    );
    CREATE INDEX bait_visits_by_ip ON bait_visits(ip, at);
    CREATE INDEX bait_visits_by_time ON bait_visits(at);
    CREATE TABLE seeds (
        id         INTEGER PRIMARY KEY,
        token      TEXT NOT NULL UNIQUE,  -- model::seed token, lower case
        address    TEXT NOT NULL,
        domain     TEXT NOT NULL,         -- lower case
        origin     TEXT NOT NULL,         -- visit | manual
        form       TEXT,                  -- mailto | text | obfuscated | entities (visit seeds)
        label      TEXT NOT NULL,
        visit      INTEGER,               -- bait_visits.id
        issued_at  INTEGER NOT NULL,
        hits       INTEGER NOT NULL,      -- sightings that reached it
        first_hit  INTEGER,
        last_hit   INTEGER
    );
    CREATE INDEX seeds_by_label ON seeds(label, id);
    CREATE INDEX seeds_by_visit ON seeds(visit) WHERE visit IS NOT NULL;
    CREATE INDEX seeds_hit ON seeds(id) WHERE hits > 0;
    CREATE TABLE seed_hits (
        seed        INTEGER NOT NULL,     -- seeds.id
        seq         INTEGER NOT NULL,     -- sightings.seq
        received_at INTEGER NOT NULL,
        PRIMARY KEY (seed, seq)
    ) WITHOUT ROWID;
    CREATE INDEX seed_hits_by_seq ON seed_hits(seq);
    -- One row per visiting IP, kept at each visit and each new hit: lists never group visits.
    CREATE TABLE harvesters (
        ip              TEXT PRIMARY KEY,
        visits          INTEGER NOT NULL,
        first_visit     INTEGER NOT NULL,
        last_visit      INTEGER NOT NULL,
        last_user_agent TEXT NOT NULL,
        seeds           INTEGER NOT NULL,
        seeds_hit       INTEGER NOT NULL,
        messages        INTEGER NOT NULL  -- distinct sightings that reached its seeds
    ) WITHOUT ROWID;
    CREATE INDEX harvesters_by_last_visit ON harvesters(last_visit, ip);
    -- Per-domain statistics (domains.rs): one row per analysed message and accepted
    -- recipient domain. seq = reports.seq, so the class and campaign are one rowid away.
    CREATE TABLE message_domains (
        domain      TEXT NOT NULL,        -- exact recipient domain, lower case
        received_at INTEGER NOT NULL,
        seq         INTEGER NOT NULL,     -- reports.seq
        sensor      TEXT NOT NULL,        -- the sighting's listener, 'import' when none
        PRIMARY KEY (domain, received_at, seq)
    ) WITHOUT ROWID;
";
