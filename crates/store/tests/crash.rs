//! Crash consistency: torn tails, damaged segments, and a real `kill -9` of a capturing process.

mod common;

use common::{capture, message, open, sighting};
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

#[test]
fn a_torn_tail_and_an_unindexed_record_are_invisible_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let kept = capture(&store, &message(1, 0));
    store.close().expect("close");
    let seg = segment_paths(dir.path()).pop().expect("segment");
    // A whole record the index never heard of (crash after fdatasync, before COMMIT) ...
    let ghost = b"ghost message".to_vec();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .expect("open");
    f.write_all(&store::RECORD_MAGIC).expect("w");
    f.write_all(&(ghost.len() as u64).to_le_bytes()).expect("w");
    f.write_all(MessageId::of(&ghost).as_bytes()).expect("w");
    f.write_all(&ghost).expect("w");
    // ... and half a record (crash in the middle of the append).
    f.write_all(&store::RECORD_MAGIC).expect("w");
    f.write_all(&[0x10, 0, 0]).expect("w");
    drop(f);
    let scan = store::scan_segment(&seg).expect("scan");
    assert_eq!(scan.records.len(), 2);
    assert!(scan.valid_end < scan.file_len);

    let store = open(dir.path());
    assert!(store.verify().expect("verify").is_ok());
    assert_eq!(
        store.raw(&MessageId::of(&ghost)).expect("raw"),
        RawLookup::Unknown
    );
    assert_eq!(
        store.raw(&kept.message_id).expect("raw"),
        RawLookup::Found(message(1, 0))
    );
    let stats = store.stats().expect("stats");
    assert_eq!((stats.messages, stats.sightings), (1, 1));
    // The ghost arriving for real is stored properly, not "deduplicated" against the tail.
    assert!(!capture(&store, &ghost).duplicate);
    assert_eq!(
        store.raw(&MessageId::of(&ghost)).expect("raw"),
        RawLookup::Found(ghost)
    );
}

#[test]
fn a_truncated_segment_is_reported_not_panicked_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let first = capture(&store, &message(2, 0));
    let second = capture(&store, &message(2, 1));
    let seg = segment_paths(dir.path()).pop().expect("segment");
    let len = std::fs::metadata(&seg).expect("meta").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .expect("open")
        .set_len(len - 100)
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
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(report.problems[0].contains(&second.message_id.to_hex()));
}

#[test]
fn a_flipped_byte_is_caught_by_the_hash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let done = capture(&store, &message(3, 0));
    let seg = segment_paths(dir.path()).pop().expect("segment");
    let mut bytes = std::fs::read(&seg).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    std::fs::write(&seg, bytes).expect("write");
    assert!(matches!(
        store.raw(&done.message_id),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(!store.verify().expect("verify").is_ok());
}

/// The environment switch that turns this test binary into the capturing child.
const CHILD_ENV: &str = "SPAMHATTAN_STORE_CRASH_CHILD";

/// Child side: capture from 8 threads forever, printing `ACK <thread> <n> <id>` after each
/// ticket resolves. Does nothing when run as a normal test.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = open(std::path::Path::new(&dir));
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
    let exe = std::env::current_exe().expect("current exe");
    let mut acked: Vec<(usize, usize, String)> = Vec::new();
    for round in 0..4 {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
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
    let store = open(dir.path());
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
    assert!(stats.segments >= 4, "one segment per process at least");
}
