//! Retention: size and age budgets purge raw bytes oldest first; sightings stay. On SQLite by
//! whole segments (copying recently seen blobs forward), on PostgreSQL blob by blob in order of
//! last sighting (nothing is copied, no segment is deleted).

mod common;

use common::{capture, message, sighting};
use std::time::Duration;
use store::{RawLookup, Retention, Store};

fn small_store(dir: &std::path::Path, retention: Retention) -> Store {
    let mut cfg = common::config(dir);
    cfg.segment_bytes = 10 * 1024; // three 4 KiB messages per segment
    cfg.retention = retention;
    Store::open(cfg).expect("open")
}

#[test]
fn the_size_budget_purges_the_oldest_blobs_and_keeps_sightings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let budget = 30 * 1024;
    let store = small_store(
        dir.path(),
        Retention {
            max_blob_bytes: Some(budget),
            max_blob_age: None,
        },
    );
    let ids: Vec<_> = (0..20)
        .map(|n| capture(&store, &message(0, n)).message_id)
        .collect();
    let before = store.stats().expect("stats");
    assert!(before.segment_bytes > budget);

    let report = store.enforce_retention().expect("retention");
    assert_eq!(report.deleted_segments > 0, !store.is_postgres());
    assert!(report.purged_blobs > 0);
    assert_eq!(report.copied_blobs, 0);
    let after = store.stats().expect("stats");
    assert!(
        after.segment_bytes <= budget,
        "{} > {budget}",
        after.segment_bytes
    );
    assert_eq!(after.sightings, 20, "sightings outlive the raw bytes");
    assert_eq!(after.purged_blobs, report.purged_blobs);
    assert_eq!(after.blobs + after.purged_blobs, 20);
    assert_eq!(
        before.segment_bytes - after.segment_bytes,
        report.freed_bytes
    );
    assert_eq!(store.raw(&ids[0]).expect("raw"), RawLookup::Purged);
    assert_eq!(
        store.raw(&ids[19]).expect("raw"),
        RawLookup::Found(message(0, 19))
    );
    // Oldest first: every purged blob is older than every kept one.
    let purged: Vec<bool> = ids
        .iter()
        .map(|id| store.raw(id).expect("raw") == RawLookup::Purged)
        .collect();
    assert!(purged.windows(2).all(|w| w[0] >= w[1]), "{purged:?}");
    assert!(store.verify().expect("verify").is_ok());
    // A purged message arriving again is stored again.
    assert!(!capture(&store, &message(0, 0)).duplicate);
    assert_eq!(
        store.raw(&ids[0]).expect("raw"),
        RawLookup::Found(message(0, 0))
    );
}

#[test]
fn a_blob_seen_again_recently_is_copied_forward() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = small_store(
        dir.path(),
        Retention {
            max_blob_bytes: Some(20 * 1024),
            max_blob_age: None,
        },
    );
    let campaign = capture(&store, &message(1, 0)).message_id;
    for n in 1..12 {
        capture(&store, &message(1, n));
    }
    assert!(capture(&store, &message(1, 0)).duplicate); // the campaign is still running
    let report = store.enforce_retention().expect("retention");
    // PostgreSQL keeps it in place: purging goes by last sighting, and it was seen last.
    let copied = if store.is_postgres() { 0 } else { 1 };
    assert_eq!(report.copied_blobs, copied);
    assert!(report.purged_blobs > 0);
    assert_eq!(
        store.raw(&campaign).expect("raw"),
        RawLookup::Found(message(1, 0))
    );
    assert_eq!(store.raw(&common_id(1, 1)).expect("raw"), RawLookup::Purged);
    assert!(store.verify().expect("verify").is_ok());
}

fn common_id(a: usize, b: usize) -> model::MessageId {
    model::MessageId::of(&message(a, b))
}

#[test]
fn the_age_budget_purges_segments_older_than_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let day = Duration::from_secs(86_400);
    let store = small_store(
        dir.path(),
        Retention {
            max_blob_bytes: None,
            max_blob_age: Some(day),
        },
    );
    let ids: Vec<_> = (0..7)
        .map(|n| capture(&store, &message(2, n)).message_id)
        .collect();

    let nothing = store.enforce_retention().expect("retention");
    assert_eq!(nothing.purged_blobs, 0);

    let later = model::now() + time::Duration::days(2);
    let report = store.enforce_retention_at(later).expect("retention");
    assert_eq!(report.purged_blobs, 7);
    for id in &ids {
        assert_eq!(store.raw(id).expect("raw"), RawLookup::Purged);
    }
    let stats = store.stats().expect("stats");
    assert_eq!((stats.segment_bytes, stats.sightings), (0, 7));
    if !store.is_postgres() {
        assert_eq!(stats.segments, 0);
    }
    assert!(store.verify().expect("verify").is_ok());
    // The store keeps working after its current segment was retired.
    let raw = message(2, 100);
    store
        .capture(raw.clone(), sighting(&raw))
        .wait()
        .expect("capture");
    assert!(matches!(
        store.raw(&model::MessageId::of(&raw)),
        Ok(RawLookup::Found(_))
    ));
}

#[test]
fn a_segment_held_by_another_live_writer_is_left_alone() {
    if common::sqlite_only("segment files and their writers' locks") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let retention = Retention {
        max_blob_bytes: None,
        max_blob_age: Some(Duration::from_secs(1)),
    };
    let other = small_store(dir.path(), Retention::default());
    let theirs = capture(&other, &message(3, 0)).message_id;
    let ours = small_store(dir.path(), retention);
    let later = model::now() + time::Duration::days(1);
    let report = ours.enforce_retention_at(later).expect("retention");
    assert_eq!(report.deleted_segments, 0);
    assert_eq!(
        ours.raw(&theirs).expect("raw"),
        RawLookup::Found(message(3, 0))
    );
    other.close().expect("close"); // its lock goes with it
    assert_eq!(
        ours.enforce_retention_at(later)
            .expect("retention")
            .purged_blobs,
        1
    );
}
