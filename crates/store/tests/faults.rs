//! Store faults: a stalled writer (bounded queue), low disk, a damaged index or spool at open.

mod common;

use common::{capture, message, open, session_record, sighting};
use model::MessageId;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use store::{CaptureTicket, RawLookup, Store, StoreConfig, StoreError};

/// Whether a ticket has resolved yet, without waiting.
fn peek(ticket: &mut CaptureTicket) -> Poll<Result<store::Captured, StoreError>> {
    Pin::new(ticket).poll(&mut Context::from_waker(Waker::noop()))
}

fn db_path(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("spamhattan.sqlite")
}

/// The writer is stalled honestly: another connection (as `import` in another process would)
/// holds SQLite's write lock, so the writer's batch waits in `BEGIN IMMEDIATE`. With a queue of
/// 4, captures beyond what the writer took plus 4 are refused at once (`Full`, the trap's `451`)
/// instead of blocking the caller, session records are dropped and counted, and once the lock
/// is released every capture that was queued is stored.
#[test]
fn a_stalled_writer_refuses_captures_at_once_and_drops_session_records() {
    if common::sqlite_only("a writer stalled on the SQLite write lock") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = StoreConfig::new(dir.path());
    cfg.min_free_bytes = 0;
    cfg.queue_capacity = 4;
    cfg.max_batch = 2;
    cfg.busy_timeout = Duration::from_secs(60);
    let store = Store::open(cfg.clone()).expect("open");
    let kept = capture(&store, &message(9, 9));

    let blocker = rusqlite::Connection::open(db_path(dir.path())).expect("connect");
    blocker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    let started = Instant::now();
    let (mut queued, mut refused) = (Vec::new(), Vec::new());
    for i in 0..50 {
        let raw = message(10, i);
        let mut ticket = store.capture(raw.clone(), sighting(&raw));
        match peek(&mut ticket) {
            Poll::Pending => queued.push((raw, ticket)),
            Poll::Ready(Err(StoreError::Full { detail })) => {
                assert!(detail.contains("4 commands"), "{detail}");
                refused.push(raw);
            }
            Poll::Ready(other) => {
                panic!("capture {i} resolved while the writer is stalled: {other:?}")
            }
        }
    }
    let slots = cfg.max_batch + cfg.queue_capacity;
    assert!(
        (cfg.queue_capacity..=slots).contains(&queued.len()),
        "{} captures queued; the writer's batch and the queue hold at most {slots}",
        queued.len()
    );
    assert_eq!(queued.len() + refused.len(), 50);
    let before = store.dropped_session_records();
    for _ in 0..10 {
        store.record_session(session_record(Some("flood.example")));
    }
    let dropped = store.dropped_session_records() - before;
    // The queue is full: at most the slots the captures left free take a session record.
    assert!(
        dropped >= (10 - (slots - queued.len())) as u64,
        "only {dropped} of 10 session records dropped"
    );
    assert_eq!(
        store.usage().expect("usage").dropped_session_records,
        before + dropped
    );
    // Nothing above waited for the stalled writer (it would have waited for the 60 s timeout).
    assert!(
        started.elapsed() < cfg.busy_timeout / 4,
        "captures or session records blocked for {:?}",
        started.elapsed()
    );

    blocker.execute_batch("ROLLBACK").expect("release the lock");
    let queued_count = queued.len() as u64;
    for (raw, ticket) in queued {
        let done = ticket
            .wait()
            .expect("a queued capture is stored once the lock is free");
        assert_eq!(done.message_id, MessageId::of(&raw));
        assert_eq!(
            store.raw(&done.message_id).expect("raw"),
            RawLookup::Found(raw)
        );
    }
    for raw in &refused {
        assert_eq!(
            store.raw(&MessageId::of(raw)).expect("raw"),
            RawLookup::Unknown
        );
    }
    store.flush().expect("flush");
    assert_eq!(
        store.raw(&kept.message_id).expect("raw"),
        RawLookup::Found(message(9, 9))
    );
    let stats = store.stats().expect("stats");
    assert_eq!(stats.sightings, 1 + queued_count);
    assert!(store.verify().expect("verify").is_ok());
    // And the queue takes captures again.
    capture(&store, &message(11, 0));
}

/// Below `min_free_bytes` the trap refuses MAIL (`452`), yet every connection of a flood would
/// still write a session row: those are dropped and counted. A session that stored a message
/// keeps its record (the sighting names it).
#[test]
fn low_disk_drops_session_records_of_sessions_without_mail() {
    if common::sqlite_only("min_free_bytes is the local disk's; PostgreSQL's disk is the server's")
    {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = StoreConfig::new(dir.path());
    cfg.min_free_bytes = u64::MAX;
    let store = Store::open(cfg).expect("open");
    assert_eq!(store.pressure(), store::Pressure::Disk);
    let idle = session_record(Some("flood.example"));
    let mut mailed = session_record(Some("sender.example"));
    mailed.sightings.push(uuid::Uuid::now_v7());
    store.record_session(idle.clone());
    store.record_session(mailed.clone());
    store.flush().expect("flush");
    assert_eq!(store.dropped_session_records(), 1);
    assert_eq!(store.session(idle.id).expect("read"), None);
    assert_eq!(store.session(mailed.id).expect("read"), Some(mailed));
}

fn segment_paths(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("spool"))
        .expect("spool")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dat"))
        .collect();
    v.sort();
    v
}

/// Appends one journal record the way the writer frames it; returns its offset.
fn append_record(f: &mut std::fs::File, magic: [u8; 8], payload: &[u8]) -> u64 {
    use sha2::Digest;
    let at = f.metadata().expect("meta").len();
    f.write_all(&magic).expect("w");
    f.write_all(&(payload.len() as u64).to_le_bytes())
        .expect("w");
    f.write_all(&sha2::Sha256::digest(payload)).expect("w");
    f.write_all(payload).expect("w");
    at
}

fn open_err(dir: &std::path::Path) -> StoreError {
    match Store::open(StoreConfig::new(dir)) {
        Ok(_) => panic!("a damaged store opened"),
        Err(e) => e,
    }
}

/// An index overwritten with garbage is refused, naming the file and the way out, and is left
/// as it was; moving it aside (as the message says) rebuilds every message and sighting from
/// the spool journal.
#[test]
fn a_garbage_index_is_refused_and_the_spool_rebuilds_it_when_moved_aside() {
    if common::sqlite_only("the SQLite index and spool") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let raws: Vec<Vec<u8>> = (0..3).map(|i| message(20, i)).collect();
    for raw in &raws {
        capture(&store, raw);
    }
    store.close().expect("close");
    let db = db_path(dir.path());
    let garbage: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&db, &garbage).expect("overwrite");

    let err = open_err(dir.path());
    let text = err.to_string();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(text.contains(&db.display().to_string()), "{text}");
    assert!(text.contains("aside"), "{text}");
    assert_eq!(
        std::fs::read(&db).expect("read"),
        garbage,
        "the damaged index was changed"
    );

    std::fs::rename(&db, dir.path().join("spamhattan.sqlite.damaged")).expect("move aside");
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("spamhattan.sqlite{suffix}")));
    }
    let store = open(dir.path());
    let stats = store.stats().expect("stats");
    assert_eq!(
        (stats.messages, stats.sightings, stats.pending_jobs),
        (3, 3, 3)
    );
    for raw in &raws {
        assert_eq!(
            store.raw(&MessageId::of(raw)).expect("raw"),
            RawLookup::Found(raw.clone())
        );
    }
    assert!(store.verify().expect("verify").is_ok());
}

/// A truncated index (SQLite finds its pages missing at open) is refused the same way.
#[test]
fn a_truncated_index_is_refused() {
    if common::sqlite_only("the SQLite index") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    for i in 0..200 {
        capture(&store, &message(21, i));
    }
    store.close().expect("close");
    let db = db_path(dir.path());
    let len = std::fs::metadata(&db).expect("meta").len();
    assert!(len > 8192, "the index is only {len} bytes");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .expect("open")
        .set_len(len / 2)
        .expect("truncate");
    let err = open_err(dir.path());
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("malformed"), "{err}");
}

/// A flipped byte in a journal record that recovery must replay (the index lost its last
/// commits) costs that record only: recovery steps over it by its header's length, replays the
/// records after it and keeps the file whole; `verify` names the damaged message.
#[test]
fn a_damaged_unindexed_record_costs_only_itself() {
    if common::sqlite_only("spool segments") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let kept = capture(&store, &message(22, 0));
    store.close().expect("close");
    let seg = segment_paths(dir.path()).pop().expect("segment");
    let (a, b) = (message(22, 1), message(22, 2));
    let (sa, sb) = (sighting(&a), sighting(&b));
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .expect("open");
    let at_a = append_record(&mut f, store::RECORD_MAGIC, &a);
    append_record(
        &mut f,
        store::SIGHTING_MAGIC,
        &serde_json::to_vec(&sa).expect("json"),
    );
    append_record(&mut f, store::RECORD_MAGIC, &b);
    append_record(
        &mut f,
        store::SIGHTING_MAGIC,
        &serde_json::to_vec(&sb).expect("json"),
    );
    drop(f);
    let mut bytes = std::fs::read(&seg).expect("read");
    let whole = bytes.len() as u64;
    bytes[(at_a + store::HEADER_LEN) as usize + 100] ^= 0x40;
    std::fs::write(&seg, &bytes).expect("flip");

    let store = open(dir.path());
    assert_eq!(
        std::fs::metadata(&seg).expect("meta").len(),
        whole,
        "records were cut"
    );
    assert_eq!(
        store.raw(&MessageId::of(&b)).expect("raw"),
        RawLookup::Found(b.clone()),
        "a whole record after the damaged one was not replayed"
    );
    assert_eq!(
        store.raw(&kept.message_id).expect("raw"),
        RawLookup::Found(message(22, 0))
    );
    assert_eq!(
        store.raw(&MessageId::of(&a)).expect("raw"),
        RawLookup::Unknown
    );
    let report = store.verify().expect("verify");
    let a_hex = MessageId::of(&a).to_hex();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&a_hex) && p.contains("damaged")),
        "{:?}",
        report.problems
    );
    let sa_hex = hex::encode(sa.id.as_bytes());
    assert!(
        report.problems.iter().any(|p| p.contains(&sa_hex)),
        "the sighting of the lost message is not reported: {:?}",
        report.problems
    );
    // Opening again replays nothing twice and keeps reporting the damage.
    store.close().expect("close");
    let store = open(dir.path());
    assert_eq!(store.stats().expect("stats").sightings, 3);
    assert!(!store.verify().expect("verify").is_ok());
}

/// A read-only spool is refused at open (not at the first capture). As root, permission bits
/// do not stop writes, so a read-only bind mount is used when the test runs as root; elsewhere
/// the directory's mode does it.
#[test]
fn a_spool_that_cannot_be_written_is_refused_at_open() {
    if common::sqlite_only("the spool directory") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    open(dir.path()).close().expect("close");
    let spool = dir.path().join("spool");
    let guard = ReadOnly::make(&spool);
    let err = open_err(dir.path());
    drop(guard);
    let text = err.to_string();
    assert!(text.contains(&spool.display().to_string()), "{text}");
    assert!(
        text.contains("Read-only file system") || text.contains("Permission denied"),
        "{text}"
    );
    open(dir.path()).close().expect("writable again");
}

/// Makes a directory read-only for the test's lifetime: a read-only bind mount as root (where
/// mode bits are ignored), mode 0555 otherwise.
struct ReadOnly {
    dir: std::path::PathBuf,
    mounted: bool,
}

impl ReadOnly {
    fn make(dir: &std::path::Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::fs::PermissionsExt;
        let is_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if is_root {
            let d = dir.to_str().expect("utf-8 path");
            let ok = std::process::Command::new("mount")
                .args(["--bind", d, d])
                .status()
                .is_ok_and(|s| s.success())
                && std::process::Command::new("mount")
                    .args(["-o", "remount,bind,ro", d])
                    .status()
                    .is_ok_and(|s| s.success());
            assert!(ok, "cannot make a read-only bind mount of {d}");
            return Self {
                dir: dir.to_path_buf(),
                mounted: true,
            };
        }
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
        Self {
            dir: dir.to_path_buf(),
            mounted: false,
        }
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.mounted {
            let _ = std::process::Command::new("umount").arg(&self.dir).status();
        } else {
            let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o755));
        }
    }
}
