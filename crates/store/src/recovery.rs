//! Recovery: replays the journal (segment records after each segment's `indexed_upto`) into
//! the index, for every segment no live writer holds, and cuts torn tails off.

use crate::error::{Result, StoreError};
use crate::index::{self, Indexer, NewBlob, SessionRow, SightingRow};
use crate::segment::{self, RecordKind, ScannedRecord};
use crate::sensors::SensorTally;
use model::MessageId;
use rusqlite::{Connection, TransactionBehavior};
use std::fs::{File, OpenOptions};
use std::path::Path;

/// What one recovery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Recovered {
    pub segments: u64,
    pub blobs: u64,
    pub sightings: u64,
    pub sessions: u64,
    pub torn_bytes: u64,
}

/// A segment being replayed: locked (so no other process replays or deletes it meanwhile).
struct Replay {
    name: String,
    file: File,
    from: u64,
    valid_end: u64,
    file_len: u64,
    records: Vec<ScannedRecord>,
    json: Vec<(RecordKind, Vec<u8>)>,
}

/// Replays every unlocked segment's unindexed records, blobs of all segments first (a sighting
/// may name a blob appended by another writer whose index rows a power cut lost), then
/// sightings and sessions; one transaction. Then cuts torn tails, while still holding the locks.
pub(crate) fn run(conn: &mut Connection, spool: &Path, jobs: bool) -> Result<Recovered> {
    let marks = index::segment_marks(conn)?;
    let segments = segment::list_segments(spool)?;
    report_lost(&marks, &segments);
    let mut replays = Vec::new();
    for seg in segments {
        let (upto, void) = marks.get(&seg.name).copied().unwrap_or((0, None));
        let limit = void.map_or(seg.bytes, |v| v.min(seg.bytes));
        // Empty files are being created (their writer locks them right after) or never used.
        if seg.bytes == 0 || (upto >= limit && limit == seg.bytes) {
            continue;
        }
        let path = spool.join(&seg.name);
        let file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        if file.try_lock().is_err() {
            continue; // a live writer (here or in another process) owns it and indexes it
        }
        let mut json = Vec::new();
        let (records, valid_end) = replay_range(&file, &seg.name, upto, limit, &mut json);
        replays.push(Replay {
            name: seg.name,
            file,
            from: upto,
            valid_end,
            file_len: seg.bytes,
            records,
            json,
        });
    }
    let mut done = Recovered::default();
    if replays.is_empty() {
        return Ok(done);
    }
    let now = crate::unix_nanos(model::now());
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut ix = Indexer::new(&tx, jobs)?;
    let mut sensors = SensorTally::default();
    for r in &replays {
        for rec in r.records.iter().filter(|r| r.kind == RecordKind::Blob) {
            let id = MessageId::from_bytes(rec.digest);
            let new = NewBlob {
                id: &id,
                segment: &r.name,
                offset: rec.offset,
                len: rec.len,
            };
            ix.index_blob(&new, now)?;
            done.blobs += 1;
            if done.blobs % index::KEY_BATCH as u64 == 0 {
                // Keeps the unindexed tail (scanned by every lookup) short.
                index::index_tail(&tx, index::KEY_BATCH as i64)?;
            }
        }
    }
    for r in &replays {
        let mut spans = index::SeqSpans::default();
        for (kind, payload) in &r.json {
            match kind {
                RecordKind::Sighting => {
                    // A record whose hash checks but whose JSON does not parse is a bug, not a
                    // torn write: keep opening (the trap must keep capturing); verify reports it.
                    let row = match SightingRow::from_json(payload) {
                        Ok(row) => row,
                        Err(e) => {
                            tracing::error!(segment = %r.name, error = %e, "sighting record skipped");
                            continue;
                        }
                    };
                    let blob = match ix.lookup_blob(&row.message_id)? {
                        Some((blob, _)) => blob,
                        None => {
                            tracing::error!(sighting = %row.id, message = %row.message_id,
                                "replayed sighting names a blob the store never had");
                            0
                        }
                    };
                    if let Some(seq) = ix.index_sighting(&row, blob, now)? {
                        done.sightings += 1;
                        spans.sighting(seq);
                        sensors.add(&row);
                    } else if let Some(seq) = ix.sighting_seq(&row.id)? {
                        spans.sighting(seq);
                    }
                }
                RecordKind::Session => match SessionRow::from_json(payload) {
                    Ok(row) => {
                        let (seq, _) = index::index_session(&tx, &row)?;
                        spans.session(seq);
                        done.sessions += 1;
                    }
                    Err(e) => {
                        tracing::error!(segment = %r.name, error = %e, "session record skipped");
                    }
                },
                RecordKind::Blob => {}
            }
        }
        index::set_indexed_upto(&tx, &r.name, r.valid_end, &spans)?;
    }
    sensors.write(&tx)?;
    index::index_tail(&tx, index::KEY_BATCH as i64)?;
    ix.finish()?;
    tx.commit()?;
    for r in &replays {
        done.segments += 1;
        if r.valid_end < r.file_len && r.valid_end >= r.from {
            // A torn tail (crash mid-append) or a void batch: nothing indexed lies beyond it.
            r.file
                .set_len(r.valid_end)
                .and_then(|()| r.file.sync_data())
                .map_err(|e| StoreError::io(spool.join(&r.name), e))?;
            done.torn_bytes += r.file_len - r.valid_end;
        }
    }
    if done != Recovered::default() {
        tracing::info!(?done, "store recovered records from the segment journal");
    }
    Ok(done)
}

/// Scans `[from, to)` like [`segment::scan_range`], but steps over a damaged record whose header
/// is intact (a flipped byte in its payload): the record at its declared end is checked, and if
/// it is whole the scan goes on from there, so one bad sector does not cost every acknowledged
/// record after it. The damaged record is logged (with its digest: a blob's is its message id)
/// and left to `store verify`. A scan only resumes at the boundary the damaged record's own
/// header declares, never by searching for a magic, since message bodies may hold bytes that look
/// like records. Where no whole record follows, the rest is a torn tail, as before.
fn replay_range(
    file: &File,
    name: &str,
    from: u64,
    to: u64,
    json: &mut Vec<(RecordKind, Vec<u8>)>,
) -> (Vec<ScannedRecord>, u64) {
    let mut records = Vec::new();
    let mut at = from;
    loop {
        let (found, end) = segment::scan_range(file, at, to, |rec, payload| {
            json.push((rec.kind, payload.to_vec()));
        });
        records.extend(found);
        let Some(damaged) = segment::damaged_record_at(file, end, to) else {
            return (records, end);
        };
        tracing::error!(
            segment = %name,
            offset = end,
            kind = ?damaged.kind,
            digest = %hex::encode(damaged.digest),
            "damaged journal record (its bytes do not match its SHA-256) skipped; \
             the records after it are replayed; run `spamhattan store verify`"
        );
        at = damaged.end();
    }
}

/// Logs, at every open, index marks that point past the end of their segment, or at a segment
/// that is gone: acknowledged records were lost after they were written (a truncated or deleted
/// file). Nothing can be replayed from them; `store verify` names the messages.
fn report_lost(
    marks: &std::collections::HashMap<String, (u64, Option<u64>)>,
    segments: &[segment::SegmentFile],
) {
    for (name, &(upto, _)) in marks {
        match segments.iter().find(|s| &s.name == name) {
            Some(seg) if seg.bytes < upto => tracing::error!(
                segment = %name,
                bytes = seg.bytes,
                indexed_upto = upto,
                "segment is shorter than the index says: acknowledged records were lost; \
                 run `spamhattan store verify`"
            ),
            Some(_) => {}
            None if upto > 0 => tracing::error!(
                segment = %name,
                indexed_upto = upto,
                "indexed segment is missing from the spool: acknowledged records were lost; \
                 run `spamhattan store verify`"
            ),
            None => {}
        }
    }
}
