//! Crash consistency: torn tails, damaged segments, and a real `kill -9` of a capturing process.

mod common;

use common::{capture, message, open, session_record, sighting};
use model::MessageId;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use store::{RawLookup, StoreError};

fn segment_paths(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("spool"))
        .expect("spool")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

/// Appends one journal record the way the writer frames it.
fn append_record(f: &mut std::fs::File, magic: [u8; 8], payload: &[u8]) {
    use sha2::Digest;
    f.write_all(&magic).expect("w");
    f.write_all(&(payload.len() as u64).to_le_bytes())
        .expect("w");
    f.write_all(&sha2::Sha256::digest(payload)).expect("w");
    f.write_all(payload).expect("w");
}

/// The last blob record of a segment.
fn last_blob(seg: &std::path::Path) -> store::ScannedRecord {
    let scan = store::scan_segment(seg).expect("scan");
    scan.records
        .into_iter()
        .rev()
        .find(|r| r.kind == store::RecordKind::Blob)
        .expect("a blob record")
}

#[test]
fn a_complete_unindexed_capture_is_replayed_and_a_torn_tail_cut_after_reopen() {
    if common::sqlite_only("journal replay") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let kept = capture(&store, &message(1, 0));
    store.close().expect("close");
    let seg = segment_paths(dir.path()).pop().expect("segment");
    // A whole capture the index never heard of (crash after fdatasync, before COMMIT) ...
    let ghost = b"ghost message".to_vec();
    let ghost_sighting = sighting(&ghost);
    let json = serde_json::to_vec(&ghost_sighting).expect("json");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .expect("open");
    append_record(&mut f, store::RECORD_MAGIC, &ghost);
    append_record(&mut f, store::SIGHTING_MAGIC, &json);
    let whole = f.metadata().expect("meta").len();
    // ... and half a record (crash in the middle of the append).
    f.write_all(&store::SIGHTING_MAGIC).expect("w");
    f.write_all(&[0x10, 0, 0]).expect("w");
    drop(f);
    let scan = store::scan_segment(&seg).expect("scan");
    assert_eq!(scan.records.len(), 4);
    assert!(scan.valid_end < scan.file_len);

    let store = open(dir.path());
    assert!(store.verify().expect("verify").is_ok());
    assert_eq!(
        std::fs::metadata(&seg).expect("meta").len(),
        whole,
        "the torn tail is cut"
    );
    assert_eq!(
        store.raw(&MessageId::of(&ghost)).expect("raw"),
        RawLookup::Found(ghost.clone())
    );
    assert_eq!(
        store.raw(&kept.message_id).expect("raw"),
        RawLookup::Found(message(1, 0))
    );
    let stats = store.stats().expect("stats");
    assert_eq!(
        (stats.messages, stats.sightings, stats.pending_jobs),
        (2, 2, 2)
    );
    // The journal's sighting, with its job, is back.
    let job_sightings: Vec<_> = std::iter::from_fn(|| {
        store
            .try_claim_job("w", std::time::Duration::from_secs(60))
            .expect("claim")
    })
    .map(|j| j.sighting_id)
    .collect();
    assert!(job_sightings.contains(&ghost_sighting.id));
    // Replaying again (another reopen) adds nothing.
    store.close().expect("close");
    let store = open(dir.path());
    let again = store.stats().expect("stats");
    assert_eq!((again.messages, again.sightings), (2, 2));
    assert!(capture(&store, &ghost).duplicate);
}

#[test]
fn a_truncated_segment_is_reported_not_panicked_on() {
    if common::sqlite_only("spool segments") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let first = capture(&store, &message(2, 0));
    let second = capture(&store, &message(2, 1));
    let seg = segment_paths(dir.path()).pop().expect("segment");
    let blob = last_blob(&seg);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open")
        .set_len(blob.offset + 100)
        .expect("truncate");
    assert!(matches!(
        store.raw(&second.message_id),
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(
        store.raw(&first.message_id).expect("raw"),
        RawLookup::Found(message(2, 0))
    );
    let report = store.verify().expect("verify");
    assert_eq!(report.checked_blobs, 2);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&second.message_id.to_hex())),
        "{:?}",
        report.problems
    );
}

#[test]
fn a_flipped_byte_is_caught_by_the_hash() {
    if common::sqlite_only("spool segments") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let done = capture(&store, &message(3, 0));
    let seg = segment_paths(dir.path()).pop().expect("segment");
    let blob = last_blob(&seg);
    let mut bytes = std::fs::read(&seg).expect("read");
    let at = (blob.end() - 1) as usize;
    bytes[at] ^= 0x01;
    std::fs::write(&seg, bytes).expect("write");
    assert!(matches!(
        store.raw(&done.message_id),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(!store.verify().expect("verify").is_ok());
}

/// What `synchronous=NORMAL` may lose in a power cut: the last index commits. The journal
/// (fdatasynced before every acknowledgement) brings them back at open, exactly once.
#[test]
fn index_rows_lost_behind_the_journal_are_replayed_at_open_without_duplicates() {
    if common::sqlite_only("journal replay") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut sightings = Vec::new();
    for n in 0..30 {
        // Every third message repeats the one before: duplicates replay as shared blobs.
        let raw = message(4, if n % 3 == 2 { n - 1 } else { n });
        sightings.push(capture(&store, &raw).sighting_id);
    }
    let record = session_record(None);
    store.record_session(record.clone());
    store.flush().expect("flush");
    let before = store.stats().expect("stats");
    store.close().expect("close");

    // The "power cut": the last commits never reached the database file.
    let db = rusqlite::Connection::open(dir.path().join("spamhattan.sqlite")).expect("db");
    db.execute_batch(
        "DELETE FROM jobs;
         DELETE FROM sightings WHERE rowid > 5;
         DELETE FROM sessions;
         DELETE FROM blobs WHERE id > 3;
         UPDATE segments SET indexed_upto = 0;",
    )
    .expect("rewind");
    drop(db);

    let store = open(dir.path());
    let after = store.stats().expect("stats");
    assert_eq!(
        (after.messages, after.sightings, after.sessions, after.blobs),
        (
            before.messages,
            before.sightings,
            before.sessions,
            before.blobs
        )
    );
    assert_eq!(after.sightings, 30);
    assert_eq!(after.messages, 20);
    assert_eq!(store.session(record.id).expect("session"), Some(record));
    for n in 0..30 {
        assert_eq!(
            store.raw(&MessageId::of(&message(4, n))).expect("raw"),
            if n % 3 == 2 {
                RawLookup::Unknown // never captured: its slot repeated message n - 1
            } else {
                RawLookup::Found(message(4, n))
            }
        );
    }
    // The 25 lost sightings got their jobs back (jobs of the 5 kept ones were deleted above).
    assert_eq!(after.pending_jobs, 25);
    let report = store.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
    assert!(capture(&store, &message(4, 0)).duplicate);
}

/// The environment switch that turns this test binary into the capturing child.
const CHILD_ENV: &str = "SPAMHATTAN_STORE_CRASH_CHILD";

/// On PostgreSQL, the schema the child writes to (the parent's).
const CHILD_SCHEMA_ENV: &str = "SPAMHATTAN_STORE_CRASH_SCHEMA";

/// Child side: capture from 8 threads forever, printing `ACK <thread> <n> <id>` after each
/// ticket resolves. Does nothing when run as a normal test.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut cfg = common::config(std::path::Path::new(&dir));
    if let (Some(pg), Ok(schema)) = (cfg.postgres.as_mut(), std::env::var(CHILD_SCHEMA_ENV)) {
        pg.schema = Some(schema);
    }
    let store = store::Store::open(cfg).expect("open");
    let round: usize = std::env::var("ROUND")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for n in 0.. {
                    // Every 5th message repeats an earlier one: dedup under crash too.
                    let raw = if n % 5 == 4 {
                        message(round * 100 + t, n - 1)
                    } else {
                        message(round * 100 + t, n)
                    };
                    let done = store
                        .capture(raw.clone(), sighting(&raw))
                        .wait()
                        .expect("capture");
                    println!(
                        "ACK {} {} {}",
                        round * 100 + t,
                        if n % 5 == 4 { n - 1 } else { n },
                        done.message_id
                    );
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
}

#[test]
fn kill_9_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    // On PostgreSQL every child writes to this one schema; the parent reads it at the end.
    let cfg = common::config(dir.path());
    let schema = cfg
        .postgres
        .as_ref()
        .and_then(|pg| pg.schema.clone())
        .unwrap_or_default();
    let exe = std::env::current_exe().expect("current exe");
    let mut acked: Vec<(usize, usize, String)> = Vec::new();
    for round in 0..4 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env(CHILD_SCHEMA_ENV, &schema)
            .env("ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        let mut this_round = 0;
        let kill_after = 300 + round * 150;
        loop {
            line.clear();
            let n = out.read_line(&mut line).expect("read");
            if n == 0 {
                break;
            }
            if !line.ends_with('\n') {
                continue; // torn final line: not a complete acknowledgement
            }
            let mut parts = line.split_whitespace();
            if parts.next() != Some("ACK") {
                continue;
            }
            let t: usize = parts.next().and_then(|p| p.parse().ok()).expect("thread");
            let m: usize = parts.next().and_then(|p| p.parse().ok()).expect("n");
            acked.push((t, m, parts.next().expect("id").to_owned()));
            this_round += 1;
            if this_round == kill_after {
                child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
            }
        }
        let status = child.wait().expect("wait");
        assert!(this_round >= kill_after, "child died early: {status:?}");
        assert!(!status.success());
    }
    let store = store::Store::open(cfg).expect("reopen");
    for (t, n, id) in &acked {
        let raw = message(*t, *n);
        assert_eq!(MessageId::of(&raw).to_hex(), *id);
        let id: MessageId = id.parse().expect("id");
        assert_eq!(
            store.raw(&id).expect("raw"),
            RawLookup::Found(raw),
            "acked {t}/{n} lost"
        );
    }
    let stats = store.stats().expect("stats");
    assert!(stats.sightings >= acked.len() as u64);
    let report = store.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
    if !store.is_postgres() {
        assert!(stats.segments >= 4, "one segment per process at least");
    }
}
