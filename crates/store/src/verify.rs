//! Verification: every live blob's bytes re-hash to its id, every sighting has its blob row (or
//! purge record), and every journal record up to its segment's `indexed_upto` is indexed.

use crate::RawLookup;
use crate::error::{Result, StoreError};
use crate::index::{SessionRow, SightingRow};
use crate::query::{self, message_id_from};
use crate::segment::{self, RecordKind};
use model::Sighting;
use rusqlite::Connection;
use serde::Serialize;
use std::path::Path;

/// Problems found by [`crate::Store::verify`]. Torn tails after the last indexed record are not
/// problems: they are what a crash mid-batch leaves, and the index never points at them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub checked_blobs: u64,
    pub checked_sightings: u64,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

pub(crate) fn run(conn: &Connection, spool: &Path) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    let ids: Vec<Vec<u8>> = conn
        .prepare("SELECT sha256 FROM blobs WHERE purged_at IS NULL ORDER BY segment, offset")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for sha in ids {
        report.checked_blobs += 1;
        let id = match message_id_from(&sha) {
            Ok(id) => id,
            Err(e) => {
                report.problems.push(e.to_string());
                continue;
            }
        };
        // `raw` re-reads the row, so a blob moved or purged by retention meanwhile is no problem.
        match query::raw(conn, spool, &id) {
            Ok(RawLookup::Found(_) | RawLookup::Purged | RawLookup::Unknown) => {}
            Err(e @ (StoreError::Corrupt { .. } | StoreError::Io { .. })) => {
                report.problems.push(format!("blob {id}: {e}"));
            }
            Err(e) => return Err(e),
        }
    }
    let mut stmt = conn.prepare(
        "SELECT s.id, s.message_id, s.json, b.sha256 IS NOT NULL AND b.sha256 = s.message_id
         FROM sightings s LEFT JOIN blobs b ON b.id = s.blob",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        report.checked_sightings += 1;
        let sid: Vec<u8> = row.get(0)?;
        let mid: Vec<u8> = row.get(1)?;
        let json: String = row.get(2)?;
        let has_blob: bool = row.get(3)?;
        let label = hex::encode(&sid);
        if !has_blob {
            report.problems.push(format!(
                "sighting {label} has no blob row (nor purge record)"
            ));
        }
        match query::parse_json::<Sighting>(&json, "sighting") {
            Ok(s) if s.id.as_bytes()[..] == sid[..] && s.message_id.as_bytes()[..] == mid[..] => {}
            Ok(_) => report
                .problems
                .push(format!("sighting {label}: JSON disagrees with its row")),
            Err(e) => report.problems.push(format!("sighting {label}: {e}")),
        }
    }
    drop(rows);
    journal(conn, spool, &mut report)?;
    Ok(report)
}

/// Every record a segment holds before its `indexed_upto` must be in the index. (Records after
/// it are a live writer's batch in flight, or a dead writer's tail that the next open replays.)
fn journal(conn: &Connection, spool: &Path, report: &mut VerifyReport) -> Result<()> {
    for (name, (upto, _void)) in crate::index::segment_marks(conn)? {
        let path = spool.join(&name);
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                // Deleted by retention after we read the marks, or lost.
                if crate::index::segment_marks(conn)?.contains_key(&name) {
                    report
                        .problems
                        .push(format!("segment {name} is indexed but missing"));
                }
                continue;
            }
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let mut unindexed = Vec::new();
        let (records, valid_end) = segment::scan_range(&file, 0, upto, |rec, payload| {
            let known = match rec.kind {
                RecordKind::Sighting => SightingRow::from_json(payload).and_then(|s| {
                    exists(
                        conn,
                        "SELECT 1 FROM sightings WHERE id = ?1",
                        s.id.as_bytes(),
                    )
                }),
                RecordKind::Session => SessionRow::from_json(payload).and_then(|s| {
                    exists(
                        conn,
                        "SELECT 1 FROM sessions WHERE id = ?1",
                        s.id.as_bytes(),
                    )
                }),
                RecordKind::Blob => Ok(true),
            };
            match known {
                Ok(true) => {}
                Ok(false) => unindexed.push(format!(
                    "segment {name}: {:?} record at offset {} is not indexed",
                    rec.kind, rec.offset
                )),
                Err(e) => unindexed.push(format!(
                    "segment {name}: record at offset {}: {e}",
                    rec.offset
                )),
            }
        });
        for rec in records.iter().filter(|r| r.kind == RecordKind::Blob) {
            if !exists(conn, "SELECT 1 FROM blobs WHERE sha256 = ?1", &rec.digest)? {
                report.problems.push(format!(
                    "segment {name}: blob record at offset {} ({}) is not indexed",
                    rec.offset,
                    hex::encode(rec.digest)
                ));
            }
        }
        report.problems.extend(unindexed);
        if valid_end < upto {
            report.problems.push(format!(
                "segment {name}: journal damaged or short at offset {valid_end}, \
                 indexed up to {upto}"
            ));
        }
    }
    Ok(())
}

fn exists(conn: &Connection, sql: &str, key: &[u8]) -> Result<bool> {
    Ok(conn.prepare_cached(sql)?.exists([key])?)
}
