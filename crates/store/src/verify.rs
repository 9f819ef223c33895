//! Verification: every live blob's bytes re-hash to its id, every sighting has its blob row (or
//! purge record), and every journal record up to its segment's `indexed_upto` is indexed.

use crate::RawLookup;
use crate::error::{Result, StoreError};
use crate::index::{SessionRow, SightingRow, blob_by_sha};
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
    let ids: Vec<(i64, Vec<u8>)> = conn
        .prepare("SELECT id, sha256 FROM blobs WHERE purged_at IS NULL ORDER BY segment, offset")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (key, sha) in ids {
        report.checked_blobs += 1;
        let id = match message_id_from(&sha) {
            Ok(id) => id,
            Err(e) => {
                report.problems.push(e.to_string());
                continue;
            }
        };
        // `raw` re-reads the row, so a blob moved or purged by retention meanwhile is no problem.
        match query::raw_of_blob(conn, spool, key, &id) {
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
    keys(conn, &mut report)?;
    journal(conn, spool, &mut report)?;
    Ok(report)
}

/// `blob_keys` agrees with `blobs`: every key names its blob, every blob up to the mark is keyed
/// (one snapshot: a read transaction, as a key pass may commit meanwhile).
fn keys(conn: &Connection, report: &mut VerifyReport) -> Result<()> {
    conn.execute_batch("BEGIN")?;
    let counted = conn.query_row(
        "SELECT
            (SELECT count(*) FROM blob_keys k LEFT JOIN blobs b ON b.id = k.blob
             WHERE b.sha256 IS NOT k.sha256),
            (SELECT count(*) FROM blobs b
             WHERE b.id <= coalesce((SELECT value FROM counters
                                     WHERE name = 'sha_indexed_upto'), 0)
               AND NOT EXISTS (SELECT 1 FROM blob_keys k
                               WHERE k.sha256 = b.sha256 AND k.blob = b.id))",
        [],
        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
    );
    conn.execute_batch("COMMIT")?;
    let (wrong, missing) = counted?;
    if wrong > 0 {
        report
            .problems
            .push(format!("{wrong} blob keys name no blob of their hash"));
    }
    if missing > 0 {
        report
            .problems
            .push(format!("{missing} blobs before the key mark are not keyed"));
    }
    Ok(())
}

/// Every record a segment holds before its `indexed_upto` must be in the index. (Records after
/// it are a live writer's batch in flight, or a dead writer's tail that the next open replays.)
fn journal(conn: &Connection, spool: &Path, report: &mut VerifyReport) -> Result<()> {
    let marks = crate::index::segment_marks(conn)?;
    // The unindexed tail as of now (after the marks): a blob record before a mark was committed
    // before it, so it is in this tail or, if a key pass ran since, in `blob_keys`.
    let mut tail = std::collections::HashSet::new();
    let mut stmt = conn.prepare(
        "SELECT sha256 FROM blobs WHERE id > coalesce((SELECT value FROM counters
                                                       WHERE name = 'sha_indexed_upto'), 0)",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        tail.insert(r.get::<_, Vec<u8>>(0)?);
    }
    drop(rows);
    let keyed = format!("SELECT 1 FROM blobs WHERE id = {}", blob_by_sha("?1"));
    for (name, (upto, _void)) in marks {
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
            let known = tail.contains(&rec.digest[..])
                || exists(
                    conn,
                    "SELECT 1 FROM blob_keys WHERE sha256 = ?1",
                    &rec.digest,
                )?
                || exists(conn, &keyed, &rec.digest)?;
            if !known {
                report.problems.push(format!(
                    "segment {name}: blob record at offset {} ({}) is not indexed",
                    rec.offset,
                    hex::encode(rec.digest)
                ));
            }
        }
        report.problems.extend(unindexed);
        if valid_end < upto {
            report.problems.push(match segment::damaged_record_at(&file, valid_end, upto) {
                Some(rec) if rec.kind == RecordKind::Blob => format!(
                    "segment {name}: blob record at offset {valid_end} (message {}) is damaged: \
                     its bytes do not hash to its id; indexed up to {upto}",
                    hex::encode(rec.digest)
                ),
                Some(rec) => format!(
                    "segment {name}: {:?} record at offset {valid_end} is damaged: its bytes \
                     do not match its SHA-256; indexed up to {upto}",
                    rec.kind
                ),
                None => format!(
                    "segment {name}: journal damaged or short at offset {valid_end}, \
                     indexed up to {upto}"
                ),
            });
        }
    }
    Ok(())
}

fn exists(conn: &Connection, sql: &str, key: &[u8]) -> Result<bool> {
    Ok(conn.prepare_cached(sql)?.exists([key])?)
}
