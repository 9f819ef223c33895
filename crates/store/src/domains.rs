//! Per-domain statistics (schema v10): `message_domains` holds one row per analysed message
//! and accepted recipient domain, keyed `(domain, received_at, seq)`, so a domain's window is
//! one range of the primary key and its first message after a date one seek. Filled when a
//! report is saved (`reports.rs` calls [`index_report`]), backfilled by the v10 migration.

use crate::error::Result;
use crate::query::{from_nanos, parse_json};
use crate::search::Count;
use crate::seeds::DomainStats;
use crate::{Timestamp, unix_nanos};
use model::Sighting;
use model::seed::truncate;
use rusqlite::{Connection, OptionalExtension, Transaction};
use std::collections::{BTreeMap, HashSet};

/// Domains one statistics read covers. A wildcard trap domain accepts any subdomain a sender
/// invents, so the number of distinct recipient domains is the attacker's choice; past this
/// many (in name order) the rest are left out.
pub const MAX_STAT_DOMAINS: usize = 1000;

/// Longest sensor (listener) name kept per row.
pub const MAX_SENSOR: usize = 64;

/// The sensor a sighting came through: the sensor's id when it came over the bus from a
/// `spamhattan sensor`, else its listener, `import` for imported mail.
pub(crate) fn sensor_of(s: &Sighting) -> String {
    if let Some(tag) = &s.sensor {
        truncate(&tag.id, MAX_SENSOR)
    } else if s.listener.is_empty() {
        "import".into()
    } else {
        truncate(&s.listener, MAX_SENSOR)
    }
}

/// Records the recipient domains of a report being saved (after its row is written, since
/// the row's `seq` is the key). Saving again inserts nothing new.
pub(crate) fn index_report(tx: &Transaction<'_>, s: &Sighting) -> Result<()> {
    let seq: Option<i64> = tx
        .prepare_cached("SELECT seq FROM reports WHERE sighting_id = ?1")?
        .query_row([s.id.as_bytes().to_vec()], |r| r.get(0))
        .optional()?;
    match seq {
        Some(seq) => index_seq(tx, seq, s),
        None => Ok(()),
    }
}

fn index_seq(c: &Connection, seq: i64, s: &Sighting) -> Result<()> {
    let mut put = c.prepare_cached(
        "INSERT OR IGNORE INTO message_domains (domain, received_at, seq, sensor)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    let (at, sensor) = (unix_nanos(s.received_at), sensor_of(s));
    for domain in crate::search::trap_domains(s) {
        if !domain.is_empty() {
            put.execute((domain, at, seq, &sensor))?;
        }
    }
    Ok(())
}

/// Fills `message_domains` from the reports stored before v10, inside the migration
/// transaction: one pass over the reports, one row in memory at a time.
pub(crate) fn backfill_v10(tx: &Transaction<'_>) -> Result<()> {
    let mut stmt = tx.prepare(
        "SELECT r.seq, s.json FROM reports r JOIN sightings s ON s.id = r.sighting_id
         ORDER BY r.seq",
    )?;
    let mut rows = stmt.query([])?;
    let mut n = 0u64;
    while let Some(row) = rows.next()? {
        let s: Sighting = parse_json(&row.get::<_, String>(1)?, "sighting")?;
        index_seq(tx, row.get(0)?, &s)?;
        n += 1;
    }
    if n > 0 {
        tracing::info!(reports = n, "per-domain statistics built");
    }
    Ok(())
}

pub(crate) fn first_since(
    c: &Connection,
    domain: &str,
    since: Timestamp,
) -> Result<Option<Timestamp>> {
    let at: Option<i64> = c
        .prepare_cached(
            "SELECT received_at FROM message_domains WHERE domain = ?1 AND received_at >= ?2
             ORDER BY received_at LIMIT 1",
        )?
        .query_row((domain.to_ascii_lowercase(), unix_nanos(since)), |r| {
            r.get(0)
        })
        .optional()?;
    at.map(from_nanos).transpose()
}

/// Statistics of every domain with messages in `[since, until]`, most messages first. The
/// domains are walked one seek each (`domain > previous`), then each domain's window is one
/// range scan: nothing outside the window is read.
pub(crate) fn stats(
    c: &Connection,
    since: Timestamp,
    until: Timestamp,
) -> Result<Vec<DomainStats>> {
    let (since, until) = (unix_nanos(since), unix_nanos(until));
    let mut next = c.prepare_cached(
        "SELECT domain FROM message_domains WHERE domain > ?1 ORDER BY domain LIMIT 1",
    )?;
    let mut out = Vec::new();
    // The empty name is never stored, so "" starts the walk before every domain.
    let mut previous = String::new();
    for _ in 0..MAX_STAT_DOMAINS {
        let Some(domain) = next
            .query_row([&previous], |r| r.get::<_, String>(0))
            .optional()?
        else {
            break;
        };
        if let Some(s) = window(c, &domain, since, until)? {
            out.push(s);
        }
        previous = domain;
    }
    rank_domains(&mut out);
    Ok(out)
}

/// One domain's window, `None` when it had no message in it.
fn window(c: &Connection, domain: &str, since: i64, until: i64) -> Result<Option<DomainStats>> {
    let mut stmt = c.prepare_cached(
        "SELECT m.received_at, m.sensor, r.class, r.campaign FROM message_domains m
         JOIN reports r ON r.seq = m.seq
         WHERE m.domain = ?1 AND m.received_at >= ?2 AND m.received_at <= ?3",
    )?;
    let mut rows = stmt.query((domain, since, until))?;
    let mut w = Window::default();
    while let Some(r) = rows.next()? {
        w.add(r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
    }
    w.stats(domain)
}

/// One domain's messages in a window, counted as they are read (by either backend).
#[derive(Default)]
pub(crate) struct Window {
    messages: u64,
    first: Option<i64>,
    last: Option<i64>,
    by_class: BTreeMap<String, u64>,
    by_sensor: BTreeMap<String, u64>,
    campaigns: HashSet<i64>,
}

impl Window {
    /// One message received at `at` through `sensor`, of `class`, in `campaign` if clustered.
    pub(crate) fn add(&mut self, at: i64, sensor: String, class: String, campaign: Option<i64>) {
        self.messages += 1;
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
        *self.by_sensor.entry(sensor).or_default() += 1;
        *self.by_class.entry(class).or_default() += 1;
        if let Some(k) = campaign {
            self.campaigns.insert(k);
        }
    }

    /// The statistics, `None` when no message was added.
    pub(crate) fn stats(self, domain: &str) -> Result<Option<DomainStats>> {
        let (Some(first), Some(last)) = (self.first, self.last) else {
            return Ok(None);
        };
        Ok(Some(DomainStats {
            domain: domain.to_string(),
            messages: self.messages,
            first_seen: Some(from_nanos(first)?),
            last_seen: Some(from_nanos(last)?),
            by_class: ranked(self.by_class),
            campaigns: self.campaigns.len() as u64,
            by_sensor: ranked(self.by_sensor),
        }))
    }
}

/// Most messages first, ties by domain name.
pub(crate) fn rank_domains(out: &mut [DomainStats]) {
    out.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| a.domain.cmp(&b.domain))
    });
}

/// Counts, most frequent first, ties by key.
fn ranked(m: BTreeMap<String, u64>) -> Vec<Count> {
    let mut out: Vec<Count> = m
        .into_iter()
        .map(|(key, count)| Count { key, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
    out
}
