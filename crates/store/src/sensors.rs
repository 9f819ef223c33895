//! The sensors a collector heard from (schema v11): one row per sensor id with its tags as last
//! seen, its sighting count and the first and last `received_at`. Kept by the writer and by
//! recovery for the sightings they actually insert, summed per batch: one statement per sensor
//! per batch, not per message.

use crate::Timestamp;
use crate::error::Result;
use crate::index::SightingRow;
use crate::query::from_nanos;
use rusqlite::Connection;
use serde::Serialize;
use std::collections::BTreeMap;

/// One sensor as the collector knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SensorRow {
    pub id: String,
    /// The sector and location of its newest batch (an operator may retag a sensor).
    pub sector: String,
    pub location: String,
    /// Sightings stored from it (a redelivered one counts once).
    pub sightings: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: Timestamp,
}

/// One batch's sightings per sensor, written with [`SensorTally::write`].
#[derive(Debug, Default)]
pub(crate) struct SensorTally {
    /// Ordered: PostgreSQL collectors upsert sensor rows in one order, so they cannot deadlock.
    by_id: BTreeMap<String, Tally>,
}

#[derive(Debug)]
struct Tally {
    sector: String,
    location: String,
    count: i64,
    first: i64,
    last: i64,
}

impl SensorTally {
    /// Counts a sighting that was inserted (callers skip replays and retries).
    pub fn add(&mut self, row: &SightingRow) {
        let Some(tag) = &row.sensor else { return };
        let t = self.by_id.entry(tag.id.clone()).or_insert_with(|| Tally {
            sector: String::new(),
            location: String::new(),
            count: 0,
            first: row.received_at,
            last: row.received_at,
        });
        t.sector.clone_from(&tag.sector);
        t.location.clone_from(&tag.location);
        t.count += 1;
        t.first = t.first.min(row.received_at);
        t.last = t.last.max(row.received_at);
    }

    /// The batch's tallies: id, sector, location, sightings, first and last seen.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &str, &str, i64, i64, i64)> {
        self.by_id.iter().map(|(id, t)| {
            (
                id.as_str(),
                t.sector.as_str(),
                t.location.as_str(),
                t.count,
                t.first,
                t.last,
            )
        })
    }

    /// One update (else insert) per sensor, in the caller's transaction.
    pub fn write(&self, conn: &Connection) -> Result<()> {
        for (id, t) in &self.by_id {
            let params = (id, &t.sector, &t.location, t.count, t.first, t.last);
            let updated = conn
                .prepare_cached(
                    "UPDATE sensors SET sector = ?2, location = ?3, sightings = sightings + ?4,
                         first_seen = min(first_seen, ?5), last_seen = max(last_seen, ?6)
                     WHERE id = ?1",
                )?
                .execute(params)?;
            if updated == 0 {
                conn.prepare_cached(
                    "INSERT INTO sensors (id, sector, location, sightings, first_seen, last_seen)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params)?;
            }
        }
        Ok(())
    }
}

/// Every sensor, by id.
pub(crate) fn list(conn: &Connection) -> Result<Vec<SensorRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, sector, location, sightings, first_seen, last_seen FROM sensors ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, i64>(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, sector, location, n, first, last) = row?;
        out.push(SensorRow {
            id,
            sector,
            location,
            sightings: u64::try_from(n).unwrap_or(0),
            first_seen: from_nanos(first)?,
            last_seen: from_nanos(last)?,
        });
    }
    Ok(out)
}
