//! A collector's idempotent ingest: redelivered sightings and session records are stored once,
//! with one job, across batches, reopens, recovery and a `kill -9`; the sensors table counts
//! what was actually stored.

mod common;

use common::{message, session_record, sighting};
use model::{MessageId, SensorTag, Sighting};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use store::{RawLookup, Store, StoreConfig, StoreError};

fn tag(id: &str, sector: &str) -> SensorTag {
    SensorTag {
        id: id.into(),
        sector: sector.into(),
        location: "NL".into(),
    }
}

/// A sighting of `raw` captured by sensor `sensor`, with a fixed id (a redelivery carries the
/// same one).
fn from_sensor(raw: &[u8], id: u128, sensor: &str) -> Sighting {
    let mut s = sighting(raw);
    s.id = uuid::Uuid::from_u128(id);
    s.sensor = Some(tag(sensor, "bank"));
    s
}

/// A collector's store: SQLite in `dir`, or a fresh PostgreSQL schema (see `common::config`).
/// A test that reopens keeps the one it got.
fn cfg(dir: &std::path::Path) -> StoreConfig {
    let mut cfg = common::config(dir);
    cfg.min_free_bytes = 0;
    cfg
}

fn ingest(store: &Store, raw: &[u8], s: &Sighting) -> store::Captured {
    store
        .ingest(raw.to_vec(), s.clone())
        .wait()
        .expect("ingest")
}

#[test]
fn a_sighting_ingested_twice_is_stored_once_with_one_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(cfg(dir.path())).expect("open");
    let raw = message(1, 0);
    let s = from_sensor(&raw, 1, "a");
    let first = ingest(&store, &raw, &s);
    assert!(!first.duplicate && !first.replayed);
    let bytes = store.stats().expect("stats").segment_bytes;
    let again = ingest(&store, &raw, &s);
    assert!(again.duplicate && again.replayed, "{again:?}");
    let stats = store.stats().expect("stats");
    assert_eq!((stats.sightings, stats.pending_jobs), (1, 1));
    assert_eq!(stats.segment_bytes, bytes, "a replay appends nothing");
    // Another arrival of the same message (a new sighting id) is a duplicate, not a replay.
    let other = ingest(&store, &raw, &from_sensor(&raw, 2, "a"));
    assert!(other.duplicate && !other.replayed);
    assert_eq!(store.job_depth().expect("depth"), 2);
    assert!(store.verify().expect("verify").is_ok());
}

#[test]
fn many_redeliveries_queued_together_are_stored_once_each() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(cfg(dir.path())).expect("open");
    let msgs: Vec<_> = (0..200).map(|n| message(2, n)).collect();
    // Every message three times, queued before any ticket is awaited: batches mix replays
    // of ids earlier in the batch with ids committed by an earlier batch.
    let tickets: Vec<_> = (0..3)
        .flat_map(|_| msgs.iter().enumerate())
        .map(|(n, raw)| store.ingest(raw.clone(), from_sensor(raw, n as u128 + 1, "a")))
        .collect();
    let replayed = tickets
        .into_iter()
        .map(|t| t.wait().expect("ingest"))
        .filter(|c| c.replayed)
        .count();
    assert_eq!(replayed, 400);
    let stats = store.stats().expect("stats");
    assert_eq!((stats.sightings, stats.pending_jobs), (200, 200));
    assert_eq!(store.sensors().expect("sensors")[0].sightings, 200);
}

#[test]
fn an_ingest_after_reopen_is_a_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let raw = message(3, 0);
    let s = from_sensor(&raw, 7, "a");
    let cfg = cfg(dir.path());
    let store = Store::open(cfg.clone()).expect("open");
    ingest(&store, &raw, &s);
    store.close().expect("close");
    let store = Store::open(cfg).expect("reopen");
    assert!(ingest(&store, &raw, &s).replayed);
    let stats = store.stats().expect("stats");
    assert_eq!((stats.sightings, stats.pending_jobs), (1, 1));
}

#[test]
fn a_session_record_ingested_twice_is_stored_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path());
    let store = Store::open(cfg.clone()).expect("open");
    let record = session_record(Some("spam.example"));
    assert!(store.ingest_session(record.clone()).wait().expect("first"));
    let bytes = store.stats().expect("stats").segment_bytes;
    assert!(!store.ingest_session(record.clone()).wait().expect("again"));
    assert_eq!(store.stats().expect("stats").segment_bytes, bytes);
    store.close().expect("close");
    let store = Store::open(cfg).expect("reopen");
    assert!(
        !store
            .ingest_session(record.clone())
            .wait()
            .expect("after reopen")
    );
    assert_eq!(store.stats().expect("stats").sessions, 1);
    assert_eq!(store.session(record.id).expect("read"), Some(record));
}

#[test]
fn a_sighting_with_a_bad_sensor_tag_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(cfg(dir.path())).expect("open");
    let raw = message(4, 0);
    let mut s = from_sensor(&raw, 1, "a");
    s.sensor = Some(tag("a.b", ""));
    let err = store.ingest(raw, s).wait();
    assert!(matches!(err, Err(StoreError::Invalid { .. })), "{err:?}");
    assert_eq!(store.stats().expect("stats").sightings, 0);
}

#[test]
fn the_sensors_table_counts_stored_sightings_not_redeliveries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(cfg(dir.path())).expect("open");
    let early = time::macros::datetime!(2026-01-01 00:00 UTC);
    let late = time::macros::datetime!(2026-01-02 00:00 UTC);
    let (m1, m2, m3) = (message(5, 1), message(5, 2), message(5, 3));
    let mut a1 = from_sensor(&m1, 1, "a");
    a1.received_at = late;
    let mut a2 = from_sensor(&m2, 2, "a");
    a2.received_at = early;
    let mut b1 = from_sensor(&m3, 3, "b");
    b1.sensor = Some(tag("b", "isp"));
    for (raw, s) in [(&m1, &a1), (&m2, &a2), (&m1, &a1), (&m3, &b1), (&m2, &a2)] {
        ingest(&store, raw, s);
    }
    // A sighting without a sensor (this process's own capture) is not a sensor's.
    common::capture(&store, &message(5, 4));
    let rows = store.sensors().expect("sensors");
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.id.as_str(), r.sector.as_str(), r.sightings))
        .collect();
    assert_eq!(got, [("a", "bank", 2), ("b", "isp", 1)]);
    assert_eq!((rows[0].first_seen, rows[0].last_seen), (early, late));
}

#[test]
fn ingested_records_are_recovered_from_the_journal_with_their_sensor_counts() {
    if common::sqlite_only("rebuilding the index from the spool journal") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(cfg(dir.path())).expect("open");
    let msgs: Vec<_> = (0..5).map(|n| message(6, n)).collect();
    for (n, raw) in msgs.iter().enumerate() {
        ingest(&store, raw, &from_sensor(raw, n as u128 + 1, "a"));
    }
    let record = session_record(None);
    assert!(
        store
            .ingest_session(record.clone())
            .wait()
            .expect("session")
    );
    store.close().expect("close");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("spamhattan.sqlite{suffix}")));
    }
    let store = Store::open(cfg(dir.path())).expect("rebuilt from the journal");
    let stats = store.stats().expect("stats");
    assert_eq!(
        (stats.sightings, stats.sessions, stats.pending_jobs),
        (5, 1, 5)
    );
    assert_eq!(store.sensors().expect("sensors")[0].sightings, 5);
    // Redelivered after the rebuild: still replays.
    for (n, raw) in msgs.iter().enumerate() {
        assert!(ingest(&store, raw, &from_sensor(raw, n as u128 + 1, "a")).replayed);
    }
    assert!(!store.ingest_session(record).wait().expect("session"));
    assert_eq!(store.sensors().expect("sensors")[0].sightings, 5);
    assert!(store.verify().expect("verify").is_ok());
}

/// The environment switch that turns this test binary into the ingesting child.
const CHILD_ENV: &str = "SPAMHATTAN_STORE_INGEST_CHILD";
/// On PostgreSQL, the schema the child writes to (the parent's, so it reads what was stored).
const CHILD_SCHEMA_ENV: &str = "SPAMHATTAN_STORE_INGEST_SCHEMA";

/// Child side: ingests sightings 1, 2, 3... (fixed ids) forever, printing `ACK <n>` after each
/// ticket resolves. Does nothing when run as a normal test.
#[test]
fn ingest_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let mut cfg = cfg(std::path::Path::new(&dir));
    if let (Some(pg), Ok(schema)) = (cfg.postgres.as_mut(), std::env::var(CHILD_SCHEMA_ENV)) {
        pg.schema = Some(schema);
    }
    let store = Store::open(cfg).expect("open");
    for n in 1.. {
        let raw = message(7, n);
        let done = ingest(&store, &raw, &from_sensor(&raw, n as u128, "a"));
        println!("ACK {n} {}", done.replayed);
    }
}

/// A collector killed mid-stream and fed the whole stream again (the bus redelivers what it
/// never acknowledged, and some of what it did) ends with each sighting once and one job each.
/// On PostgreSQL the kill lands between or inside batch transactions: what was acknowledged
/// had committed, what had not is redelivered.
#[test]
fn an_ingest_killed_and_redelivered_is_stored_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path());
    let schema = cfg
        .postgres
        .as_ref()
        .and_then(|pg| pg.schema.clone())
        .unwrap_or_default();
    let exe = std::env::current_exe().expect("current exe");
    let mut child = Command::new(&exe)
        .args(["--exact", "ingest_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, dir.path())
        .env(CHILD_SCHEMA_ENV, schema)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut line, mut acked) = (String::new(), 0usize);
    while out.read_line(&mut line).expect("read") > 0 {
        if line.starts_with("ACK ") && line.ends_with('\n') {
            acked += 1;
            if acked == 300 {
                child.kill().expect("SIGKILL");
            }
        }
        line.clear();
    }
    child.wait().expect("wait");
    assert!(acked >= 300, "child died early");
    let store = Store::open(cfg).expect("open");
    let total = acked + 50;
    let mut replayed = 0;
    for n in 1..=total {
        let raw = message(7, n);
        let done = ingest(&store, &raw, &from_sensor(&raw, n as u128, "a"));
        replayed += usize::from(done.replayed);
        assert_eq!(
            store.raw(&MessageId::of(&raw)).expect("raw"),
            RawLookup::Found(raw)
        );
    }
    assert!(replayed >= acked, "every acknowledged sighting is a replay");
    let stats = store.stats().expect("stats");
    assert_eq!(
        (stats.sightings, stats.pending_jobs),
        (total as u64, total as u64)
    );
    assert_eq!(store.sensors().expect("sensors")[0].sightings, total as u64);
    let report = store.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
}

#[test]
fn without_analysis_jobs_captures_create_no_jobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = cfg(dir.path());
    cfg.analysis_jobs = false;
    cfg.max_backlog = 0;
    let store = Store::open(cfg.clone()).expect("open");
    for n in 0..3 {
        common::capture(&store, &message(8, n));
    }
    assert_eq!(store.job_depth().expect("depth"), 0);
    assert_eq!(store.pressure(), store::Pressure::Normal);
    store.close().expect("close");
    if common::sqlite_only("rebuilding the index from the spool journal") {
        return;
    }
    // Nor does recovery when the index is rebuilt from the journal.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("spamhattan.sqlite{suffix}")));
    }
    let store = Store::open(cfg).expect("reopen");
    let stats = store.stats().expect("stats");
    assert_eq!((stats.sightings, stats.pending_jobs), (3, 0));
}
