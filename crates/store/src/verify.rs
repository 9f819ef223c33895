//! Verification: every live blob's bytes re-hash to its id, every sighting has a blob row.

use crate::RawLookup;
use crate::error::{Result, StoreError};
use crate::query::{self, message_id_from};
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
        "SELECT s.id, s.message_id, s.json, b.sha256 IS NOT NULL
         FROM sightings s LEFT JOIN blobs b ON b.sha256 = s.message_id",
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
    Ok(report)
}
