//! The lazy blob-hash index (`blob_keys`, keyed every `BLOB_KEY_BATCH` new blobs): every lookup
//! by hash sees every blob, keyed or in the unindexed tail, in this process or another.
//!
//! PostgreSQL has no lazy index (its blobs are keyed by hash at once), but the behaviour these
//! tests check is the same there: dedup and reads find every blob, in this store or another
//! one on the same database (two collectors), across reopens. The assertions on `blob_keys`
//! itself run on SQLite only.

mod common;

use common::{capture, sighting};
use model::MessageId;
use store::{BLOB_KEY_BATCH, RawLookup, SightingQuery, Store, StoreConfig};

/// Captures `n` distinct small messages tagged `tag` in group commits.
fn fill(store: &Store, tag: &str, n: usize) {
    let tickets: Vec<_> = (0..n)
        .map(|i| {
            let raw = format!("Subject: {tag} {i}\r\n\r\nfiller").into_bytes();
            store.capture(raw.clone(), sighting(&raw))
        })
        .collect();
    for t in tickets {
        assert!(!t.wait().expect("capture").duplicate);
    }
}

/// SQLite's lazy key index: (keyed blobs, the keyed-up-to mark, blobs). `None` on PostgreSQL.
fn keyed(cfg: &StoreConfig) -> Option<(i64, i64, i64)> {
    if cfg.postgres.is_some() {
        return None;
    }
    let conn = rusqlite::Connection::open(cfg.data_dir.join("spamhattan.sqlite")).expect("sqlite");
    let counts = conn.query_row(
        "SELECT (SELECT count(*) FROM blob_keys),
                (SELECT value FROM counters WHERE name = 'sha_indexed_upto'),
                (SELECT count(*) FROM blobs)",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    );
    Some(counts.expect("counts"))
}

fn open(cfg: &StoreConfig) -> Store {
    Store::open(cfg.clone()).expect("open store")
}

#[test]
fn a_duplicate_is_found_across_the_lazy_key_boundary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::config(dir.path());
    let store = open(&cfg);
    let a = b"Subject: A\r\n\r\nthe message seen twice".to_vec();
    assert!(!capture(&store, &a).duplicate);
    // Still in the unindexed tail: found by the writer's in-memory tail.
    assert!(capture(&store, &a).duplicate);
    fill(&store, "other", BLOB_KEY_BATCH + 100);
    let blobs = BLOB_KEY_BATCH as i64 + 101;
    if let Some((keys, mark, stored)) = keyed(&cfg) {
        assert!(
            mark >= 1 && keys == mark,
            "a key pass ran: {keys} keys, mark {mark}"
        );
        assert_eq!(stored, blobs);
    }
    // Now keyed: found in blob_keys.
    assert!(capture(&store, &a).duplicate);
    let id = MessageId::of(&a);
    assert_eq!(store.raw(&id).expect("raw"), RawLookup::Found(a.clone()));
    let q = SightingQuery {
        message: Some(id),
        ..SightingQuery::default()
    };
    assert_eq!(store.sightings(&q).expect("sightings").len(), 3);
    let stats = store.stats().expect("stats");
    assert_eq!(
        (stats.messages, stats.sightings),
        (blobs as u64, blobs as u64 + 2)
    );
    assert!(store.verify().expect("verify").is_ok());

    // A blob of the tail (after the last pass) is found too, by readers and after a reopen.
    let last = b"Subject: last\r\n\r\nin the tail".to_vec();
    assert!(!capture(&store, &last).duplicate);
    let blobs = blobs + 1;
    if let Some((_, mark, stored)) = keyed(&cfg) {
        assert_eq!(stored, blobs);
        assert!(blobs > mark, "the last blob is still in the tail");
    }
    assert!(matches!(
        store.raw(&MessageId::of(&last)),
        Ok(RawLookup::Found(_))
    ));
    store.close().expect("close");
    let store = open(&cfg);
    assert!(capture(&store, &last).duplicate);
    assert!(capture(&store, &a).duplicate);
    assert_eq!(store.stats().expect("stats").messages, blobs as u64);
}

#[test]
fn a_second_store_reads_and_dedups_a_message_in_the_tail() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::config(dir.path());
    let serve = open(&cfg);
    let import = open(&cfg);
    let m = b"Subject: fresh\r\n\r\njust captured".to_vec();
    let id = capture(&serve, &m).message_id;
    // Right after its 250: in the tail (no key pass yet), visible to the other instance.
    if let Some((_, mark, _)) = keyed(&cfg) {
        assert_eq!(mark, 0);
    }
    assert_eq!(import.raw(&id).expect("raw"), RawLookup::Found(m.clone()));
    let q = SightingQuery {
        message: Some(id),
        ..SightingQuery::default()
    };
    assert_eq!(import.sightings(&q).expect("sightings").len(), 1);
    // The other writer's dedup sees it too (its in-memory tail loads the other's rows).
    assert!(capture(&import, &m).duplicate);
    assert!(capture(&serve, &m).duplicate);

    // Both capture the same new messages at once: one blob each.
    let handles: Vec<_> = [serve.clone(), import.clone()]
        .into_iter()
        .map(|s| {
            std::thread::spawn(move || {
                let tickets: Vec<_> = (0..200)
                    .map(|i| {
                        let raw = format!("Subject: race {i}\r\n\r\nboth").into_bytes();
                        s.capture(raw.clone(), sighting(&raw))
                    })
                    .collect();
                tickets
                    .into_iter()
                    .map(|t| t.wait().expect("capture").duplicate)
                    .filter(|d| !d)
                    .count()
            })
        })
        .collect();
    let new: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    assert_eq!(new, 200, "each raced message is new exactly once");
    for s in [&serve, &import] {
        let stats = s.stats().expect("stats");
        assert_eq!((stats.messages, stats.sightings), (201, 403));
        assert!(s.verify().expect("verify").is_ok());
    }
}

#[test]
fn verify_is_ok_after_many_key_passes_and_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::config(dir.path());
    let store = open(&cfg);
    for round in 0..3 {
        fill(&store, &format!("round {round}"), BLOB_KEY_BATCH + 7);
    }
    let report = store.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.checked_blobs, 3 * (BLOB_KEY_BATCH as u64 + 7));
    if let Some((keys, mark, blobs)) = keyed(&cfg) {
        assert_eq!(keys, mark);
        assert!(
            blobs - mark < BLOB_KEY_BATCH as i64,
            "{blobs} blobs, mark {mark}"
        );
    }
    store.close().expect("close");
    let store = open(&cfg);
    assert!(store.verify().expect("verify").is_ok());
    fill(&store, "after reopen", 10);
    assert!(store.verify().expect("verify").is_ok());
}

/// Recovery replays a whole journal again (as after losing `indexed_upto`): its blob inserts
/// find every blob, keyed or in the tail, so nothing is stored twice.
#[test]
fn a_replayed_journal_stores_no_blob_twice() {
    if common::sqlite_only("replaying the spool journal") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::config(dir.path());
    let store = open(&cfg);
    fill(&store, "replayed", BLOB_KEY_BATCH + 50);
    for i in 0..3 {
        capture(
            &store,
            format!("Subject: tail {i}\r\n\r\nfiller").as_bytes(),
        );
    }
    store.close().expect("close");
    let (_, mark, blobs) = keyed(&cfg).expect("SQLite");
    assert!(mark > 0 && blobs > mark, "blobs both keyed and in the tail");
    let conn = rusqlite::Connection::open(dir.path().join("spamhattan.sqlite")).expect("sqlite");
    conn.execute("UPDATE segments SET indexed_upto = 0", [])
        .expect("forget");
    drop(conn);
    let store = open(&cfg);
    let stats = store.stats().expect("stats");
    assert_eq!(
        (stats.messages, stats.sightings),
        (blobs as u64, blobs as u64)
    );
    assert!(capture(&store, b"Subject: replayed 7\r\n\r\nfiller").duplicate);
    let report = store.verify().expect("verify");
    assert!(report.is_ok(), "{:?}", report.problems);
}
