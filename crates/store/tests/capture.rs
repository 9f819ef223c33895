//! Capture, dedup, group commit, reads and multi-process style sharing of one data directory.

mod common;

use common::{capture, message, open, session_record, sighting, sighting_at};
use model::MessageId;
use store::{RawLookup, SightingQuery, Store, StoreError};

#[test]
fn captured_bytes_come_back_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let raw = b"Subject: hi\r\n\r\n\x00\xff binary \r\n.\r\n".to_vec();
    let done = capture(&store, &raw);
    assert_eq!(done.message_id, MessageId::of(&raw));
    assert!(!done.duplicate);
    assert_eq!(
        store.raw(&done.message_id).expect("raw"),
        RawLookup::Found(raw)
    );
    assert_eq!(
        store.raw(&MessageId::of(b"never")).expect("raw"),
        RawLookup::Unknown
    );
    assert!(store.verify().expect("verify").is_ok());
}

#[test]
fn a_duplicate_shares_the_blob_and_gets_its_own_sighting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let raw = message(1, 1);
    let first = capture(&store, &raw);
    let second = capture(&store, &raw);
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_ne!(first.sighting_id, second.sighting_id);
    let q = SightingQuery {
        message: Some(first.message_id),
        ..SightingQuery::default()
    };
    let seen = store.sightings(&q).expect("sightings");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].id, second.sighting_id, "newest first");
    let stats = store.stats().expect("stats");
    assert_eq!((stats.messages, stats.sightings, stats.blobs), (1, 2, 1));
    assert_eq!(stats.duplicate_sightings, 1);
    assert_eq!(stats.blob_bytes, raw.len() as u64);
    assert_eq!(stats.pending_jobs, 2);
    if common::sqlite_only("the journal's segment files") {
        return;
    }
    assert_eq!(stats.segments, 1);
    // The journal holds the blob once and both sighting records.
    let seg = std::fs::read_dir(dir.path().join("spool"))
        .expect("spool")
        .next()
        .expect("a segment")
        .expect("entry")
        .path();
    let scan = store::scan_segment(&seg).expect("scan");
    let kinds: Vec<_> = scan.records.iter().map(|r| r.kind).collect();
    use store::RecordKind::{Blob, Sighting};
    assert_eq!(kinds, vec![Blob, Sighting, Sighting]);
    assert_eq!(scan.valid_end, stats.segment_bytes);
}

#[test]
fn a_wrong_message_id_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let s = sighting(b"other bytes");
    let err = store.capture(b"these bytes".to_vec(), s).wait();
    assert!(matches!(err, Err(StoreError::IdMismatch { .. })));
    assert_eq!(store.stats().expect("stats").sightings, 0);
}

#[test]
fn concurrent_captures_share_commits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let threads: Vec<_> = (0..50)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                // Queue all of this thread's captures first, then wait: like 20 sessions each.
                let tickets: Vec<_> = (0..20)
                    .map(|n| {
                        let raw = message(t, n);
                        store.capture(raw.clone(), sighting(&raw))
                    })
                    .collect();
                tickets
                    .into_iter()
                    .map(|t| t.wait().expect("capture"))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for t in threads {
        ids.extend(t.join().expect("thread").into_iter().map(|c| c.message_id));
    }
    assert_eq!(ids.len(), 1000);
    let stats = store.stats().expect("stats");
    assert_eq!(stats.sightings, 1000);
    assert_eq!(stats.blobs, 1000);
    assert!(
        stats.commits < 1000,
        "no amortisation: {} commits",
        stats.commits
    );
    assert!(
        stats.commits < 500,
        "weak amortisation: {} commits",
        stats.commits
    );
    for id in ids.iter().step_by(97) {
        assert!(matches!(store.raw(id).expect("raw"), RawLookup::Found(_)));
    }
    assert!(store.verify().expect("verify").is_ok());
}

/// The store's calls block (on PostgreSQL, the client runs a runtime of its own), so an async
/// caller opens it off the async threads; the ticket itself is awaited.
#[tokio::test]
async fn tickets_can_be_awaited() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let store = tokio::task::spawn_blocking(move || open(&path))
        .await
        .expect("open");
    let raw = message(7, 7);
    let done = store
        .capture(raw.clone(), sighting(&raw))
        .await
        .expect("capture");
    assert_eq!(done.message_id, MessageId::of(&raw));
    tokio::task::spawn_blocking(move || store.close())
        .await
        .expect("join")
        .expect("close");
}

#[test]
fn sightings_filter_by_time_newest_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let t0 = model::now() - time::Duration::hours(10);
    for h in 0..10 {
        let raw = message(h, 0);
        let at = t0 + time::Duration::hours(h as i64);
        store
            .capture(raw.clone(), sighting_at(&raw, at))
            .wait()
            .expect("capture");
    }
    let all = store.sightings(&SightingQuery::default()).expect("all");
    assert_eq!(all.len(), 10);
    assert!(all.windows(2).all(|w| w[0].received_at >= w[1].received_at));
    let q = SightingQuery {
        limit: 3,
        since: Some(t0 + time::Duration::hours(2)),
        before: Some(t0 + time::Duration::hours(8)),
        message: None,
    };
    let page = store.sightings(&q).expect("page");
    let hours: Vec<_> = page
        .iter()
        .map(|s| (s.received_at - t0).whole_hours())
        .collect();
    assert_eq!(hours, vec![7, 6, 5]);
}

#[test]
fn session_records_are_stored_by_the_next_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let record = session_record(Some("x"));
    store.record_session(record.clone());
    store.flush().expect("flush");
    assert_eq!(store.session(record.id).expect("session"), Some(record));
    assert_eq!(store.session(uuid::Uuid::nil()).expect("session"), None);
    assert_eq!(store.stats().expect("stats").sessions, 1);
}

#[test]
fn two_stores_on_one_directory_both_write_and_see_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::config(dir.path());
    let serve = Store::open(cfg.clone()).expect("open");
    let import = Store::open(cfg).expect("open");
    let shared = message(0, 0);
    let handles: Vec<_> = [serve.clone(), import.clone()]
        .into_iter()
        .enumerate()
        .map(|(k, s)| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                let mut tickets = vec![s.capture(shared.clone(), sighting(&shared))];
                for n in 1..100 {
                    let raw = message(k + 1, n);
                    tickets.push(s.capture(raw.clone(), sighting(&raw)));
                }
                tickets
                    .into_iter()
                    .map(|t| t.wait().expect("capture"))
                    .collect::<Vec<_>>()
                    .len()
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(total, 200);
    for s in [&serve, &import] {
        let stats = s.stats().expect("stats");
        assert_eq!(stats.sightings, 200);
        assert_eq!(stats.messages, 199, "the shared message is stored once");
        if !s.is_postgres() {
            assert_eq!(stats.segments, 2, "each writer has its own segment");
        }
        assert!(s.verify().expect("verify").is_ok());
    }
    assert!(matches!(
        import.raw(&MessageId::of(&message(1, 5))),
        Ok(RawLookup::Found(_))
    ));
    assert!(matches!(
        serve.raw(&MessageId::of(&message(2, 5))),
        Ok(RawLookup::Found(_))
    ));
}

#[test]
fn a_reopened_store_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::config(dir.path());
    let store = Store::open(cfg.clone()).expect("open");
    let ids: Vec<_> = (0..5)
        .map(|n| capture(&store, &message(3, n)).message_id)
        .collect();
    store.close().expect("close");
    let store = Store::open(cfg).expect("reopen");
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(store.raw(id).expect("raw"), RawLookup::Found(message(3, n)));
    }
    // The new writer (on SQLite: with its own segment) still deduplicates against the old one.
    assert!(capture(&store, &message(3, 0)).duplicate);
    assert!(store.verify().expect("verify").is_ok());
}

/// PostgreSQL keeps the raw bytes in `blobs.raw`: bytes that no longer hash to their id are
/// refused by `raw` and reported by `verify`, as is a sighting whose blob row is gone. (The
/// SQLite store's counterparts, damaged segments, are in `faults.rs` and `crash.rs`.)
#[test]
fn damaged_rows_are_reported_by_verify_and_never_served() {
    if common::postgres_url().is_none() {
        eprintln!("PostgreSQL only: the rows are edited with SQL");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let damaged = capture(&store, &message(8, 1));
    let orphan = capture(&store, &message(8, 2));
    let fine = capture(&store, &message(8, 3));
    assert!(store.verify().expect("verify").is_ok());
    let mut sql = common::pg_client(store.config());
    sql.execute(
        "UPDATE blobs SET raw = 'not the message'::bytea WHERE sha256 = $1",
        &[&damaged.message_id.as_bytes().as_slice()],
    )
    .expect("damage");
    sql.execute(
        "DELETE FROM blobs WHERE sha256 = $1",
        &[&orphan.message_id.as_bytes().as_slice()],
    )
    .expect("orphan");
    assert!(matches!(
        store.raw(&damaged.message_id),
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(
        store.raw(&fine.message_id).expect("raw"),
        RawLookup::Found(message(8, 3))
    );
    let report = store.verify().expect("verify");
    assert_eq!((report.checked_blobs, report.checked_sightings), (2, 3));
    let hash = damaged.message_id.to_string();
    let label = hex::encode(orphan.sighting_id.as_bytes());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&hash) && p.contains("hash")),
        "{report:?}"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&hash) && p.contains("bytes stored")),
        "the length disagrees too: {report:?}"
    );
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains(&label) && p.contains("no blob row")),
        "{report:?}"
    );
    assert_eq!(report.problems.len(), 3, "{report:?}");
}

/// Schema version 2: raw messages (and the JSON records) are compressed with lz4 where the
/// server has it, and still come back byte for byte. Whether the server has lz4 is asked of
/// the server itself (`default_toast_compression` refuses a method it was built without).
#[test]
fn raw_messages_are_compressed_with_lz4_where_the_server_has_it() {
    if common::postgres_url().is_none() {
        eprintln!("PostgreSQL only: column compression");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    // Compressible, and past the size at which PostgreSQL compresses a value (about 2 KB).
    let raw: Vec<u8> = message(64, 7).repeat(100);
    let captured = capture(&store, &raw);
    let mut sql = common::pg_client(store.config());
    let version: i64 = sql
        .query_one("SELECT max(version) FROM migrations", &[])
        .expect("migrations")
        .get(0);
    assert_eq!(version, store::PG_SCHEMA_VERSION);
    let has_lz4 = sql
        .batch_execute("SET default_toast_compression = lz4")
        .is_ok();
    let method: Option<String> = sql
        .query_one(
            "SELECT pg_column_compression(raw) FROM blobs WHERE sha256 = $1",
            &[&captured.message_id.as_bytes().as_slice()],
        )
        .expect("blob row")
        .get(0);
    let expected = if has_lz4 { "lz4" } else { "pglz" };
    assert_eq!(method.as_deref(), Some(expected));
    assert_eq!(
        store.raw(&captured.message_id).expect("raw"),
        RawLookup::Found(raw)
    );
}
