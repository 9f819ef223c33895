//! PostgreSQL counterpart of `crate::verify`: every stored raw message re-hashes to its id and
//! has its recorded length, and every sighting has its blob row (live or purged) and JSON that
//! agrees with its columns.
//!
//! There is no journal, no segment and no hash-key table here, so the SQLite checks of those
//! have no counterpart. The hashing runs in the server (`sha256()`), so a verify does not pull
//! every raw message over the network; the checks read one snapshot (a read-only repeatable
//! read transaction), so a capture or a purge committing meanwhile is seen entirely or not at
//! all.

use crate::error::Result;
use crate::query::{message_id_from, parse_json};
use crate::verify::VerifyReport;
use model::Sighting;
use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, IsolationLevel};

pub(crate) fn run(c: &mut Client) -> Result<VerifyReport> {
    let mut tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let mut report = VerifyReport::default();
    let live: i64 = tx
        .query_one("SELECT count(*) FROM blobs WHERE raw IS NOT NULL", &[])?
        .try_get(0)?;
    report.checked_blobs = super::query::count(live);
    let bad = tx.query(
        "SELECT sha256, length, octet_length(raw)::BIGINT, sha256(raw) = sha256
         FROM blobs
         WHERE raw IS NOT NULL AND (sha256(raw) <> sha256 OR octet_length(raw) <> length)",
        &[],
    )?;
    for row in bad {
        let sha: &[u8] = row.try_get(0)?;
        let label = match message_id_from(sha) {
            Ok(id) => id.to_string(),
            Err(e) => {
                report.problems.push(e.to_string());
                continue;
            }
        };
        let (length, stored, hash_ok): (i64, i64, bool) =
            (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        if !hash_ok {
            report.problems.push(format!(
                "blob {label}: its stored bytes do not hash to its id"
            ));
        }
        if length != stored {
            report.problems.push(format!(
                "blob {label}: {stored} bytes stored, its row says {length}"
            ));
        }
    }
    let mut rows = tx.query_raw(
        "SELECT s.id, s.message_id, s.json, b.sha256 IS NOT NULL
         FROM sightings s LEFT JOIN blobs b ON b.sha256 = s.message_id",
        std::iter::empty::<i64>(),
    )?;
    while let Some(row) = rows.next()? {
        report.checked_sightings += 1;
        let sid: &[u8] = row.try_get(0)?;
        let mid: &[u8] = row.try_get(1)?;
        let json: &str = row.try_get(2)?;
        let has_blob: bool = row.try_get(3)?;
        let label = hex::encode(sid);
        if !has_blob {
            report.problems.push(format!(
                "sighting {label} has no blob row (nor purge record)"
            ));
        }
        match parse_json::<Sighting>(json, "sighting") {
            Ok(s) if s.id.as_bytes()[..] == sid[..] && s.message_id.as_bytes()[..] == mid[..] => {}
            Ok(_) => report
                .problems
                .push(format!("sighting {label}: JSON disagrees with its row")),
            Err(e) => report.problems.push(format!("sighting {label}: {e}")),
        }
    }
    drop(rows);
    tx.commit()?;
    Ok(report)
}
