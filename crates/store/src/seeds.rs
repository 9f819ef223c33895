//! Seeds and bait visits (schema v10): which trap address was handed to whom, and the mail
//! that came back to it.
//!
//! A bait visit and the seeds minted for it are stored in one transaction
//! ([`Store::record_bait_visit`]); manual seeds by [`Store::mint_seeds`]. Attribution happens
//! when a report is saved (`reports.rs` calls [`attribute`]): every accepted recipient whose
//! local part carries a token ([`model::seed::token_of`]) that names a stored seed gets a
//! `seed_hits` row (idempotent, so `reanalyze` repeats it harmlessly) and the seed's and the
//! harvester's counters move. Reading a harvester (one visiting IP) never scans all visits:
//! `harvesters` keeps one row per IP, updated with each visit and each hit.
//!
//! Limits: list reads are capped at [`MAX_SEED_PAGE`]; a detail view shows at most
//! [`MAX_DETAIL_ROWS`] rows per list.

use crate::search::Count;
use crate::{Result, Store, Timestamp};
use model::{BaitForm, BaitVisit, NewSeed, SeedOrigin};
use serde::Serialize;

/// Most rows one list read returns.
pub const MAX_SEED_PAGE: usize = 500;
/// Most rows per list in a seed or harvester detail (hits, visits, campaigns, networks, ...).
pub const MAX_DETAIL_ROWS: usize = 100;
/// Most seeds one `mint_seeds` call creates.
pub const MAX_MINT: usize = 1000;

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
    /// Stores one bait visit and the seeds minted for it, in one transaction.
    pub fn record_bait_visit(&self, visit: &BaitVisit, seeds: &[NewSeed]) -> Result<Vec<SeedRecord>> {
        let _ = (visit, seeds);
        todo!("seeds: record_bait_visit")
    }

    /// Stores manual seeds (at most [`MAX_MINT`] per call).
    pub fn mint_seeds(&self, seeds: &[NewSeed]) -> Result<Vec<SeedRecord>> {
        let _ = seeds;
        todo!("seeds: mint_seeds")
    }

    /// Bait visits recorded since `since` (for the bait listener's daily cap).
    pub fn bait_visits_since(&self, since: Timestamp) -> Result<u64> {
        let _ = since;
        todo!("seeds: bait_visits_since")
    }

    /// Seeds, newest first.
    pub fn seeds(&self, filter: &SeedFilter) -> Result<Vec<SeedRecord>> {
        let _ = filter;
        todo!("seeds: seeds")
    }

    /// One seed by id.
    pub fn seed(&self, id: i64) -> Result<Option<SeedDetail>> {
        let _ = id;
        todo!("seeds: seed")
    }

    /// One seed by its address or token (case-insensitive).
    pub fn seed_by_address(&self, address_or_token: &str) -> Result<Option<SeedDetail>> {
        let _ = address_or_token;
        todo!("seeds: seed_by_address")
    }

    /// The seeds a sighting reached (empty when none, or before its report is saved).
    pub fn seeds_of_sighting(&self, sighting: uuid::Uuid) -> Result<Vec<SeedAttribution>> {
        let _ = sighting;
        todo!("seeds: seeds_of_sighting")
    }

    /// Harvesters, latest visit first; `before` is the previous page's last `last_visit`.
    pub fn harvesters(&self, limit: usize, before: Option<Timestamp>) -> Result<Vec<HarvesterRow>> {
        let _ = (limit, before);
        todo!("seeds: harvesters")
    }

    /// One harvester by IP.
    pub fn harvester(&self, ip: &str) -> Result<Option<HarvesterDetail>> {
        let _ = ip;
        todo!("seeds: harvester")
    }

    /// Statistics per exact trap domain for messages received in `[since, until]`.
    pub fn domain_stats(&self, since: Timestamp, until: Timestamp) -> Result<Vec<DomainStats>> {
        let _ = (since, until);
        todo!("seeds: domain_stats")
    }

    /// The first message to `domain` (exact) received at or after `since`.
    pub fn domain_first_since(&self, domain: &str, since: Timestamp) -> Result<Option<Timestamp>> {
        let _ = (domain, since);
        todo!("seeds: domain_first_since")
    }
}
