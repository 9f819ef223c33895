//! A sensor's forwarding spool: the outbox in `seq` order with raw bytes, durable marks, the
//! unforwarded count and spool budget, and releasing what was forwarded.
//!
//! SQLite only: a sensor's store is always its local journal; PostgreSQL is a collector's.

mod common;

use common::{capture, message, session_record};
use store::{ForwardMarks, Pressure, Store, StoreConfig};

/// A sensor's store: no analysis jobs, every batch in a segment of its own (so release has
/// several segments to weigh), no free-space floor.
fn sensor_cfg(dir: &std::path::Path) -> StoreConfig {
    let mut cfg = StoreConfig::new(dir);
    cfg.analysis_jobs = false;
    cfg.min_free_bytes = 0;
    cfg.segment_bytes = 1;
    cfg
}

fn marks(sightings: u64, sessions: u64) -> ForwardMarks {
    ForwardMarks {
        sightings,
        sessions,
    }
}

fn segment_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("spool")).expect("spool").count()
}

#[test]
fn the_outbox_hands_out_sightings_in_order_with_raw_bytes_and_marks_survive_reopen() {
    if common::sqlite_only("a sensor's forwarding spool (segments and forward marks)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(sensor_cfg(dir.path())).expect("open");
    let msgs: Vec<_> = (0..5).map(|n| message(1, n)).collect();
    let ids: Vec<_> = msgs
        .iter()
        .map(|m| capture(&store, m).sighting_id)
        .collect();
    let out = store.outbox(0, 10, usize::MAX).expect("outbox");
    let seqs: Vec<u64> = out.iter().map(|o| o.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(out.iter().map(|o| o.sighting.id).collect::<Vec<_>>(), ids);
    for (o, raw) in out.iter().zip(&msgs) {
        assert_eq!(&o.raw, raw);
    }
    // Paging by count and by bytes (the first always comes, however large).
    assert_eq!(store.outbox(seqs[1], 2, usize::MAX).expect("page").len(), 2);
    let two = msgs[0].len() + msgs[1].len();
    assert_eq!(store.outbox(0, 10, two).expect("bytes").len(), 2);
    assert_eq!(store.outbox(0, 10, two - 1).expect("bytes").len(), 1);
    assert_eq!(store.outbox(0, 10, 1).expect("one").len(), 1);

    assert_eq!(store.unforwarded().messages, 5);
    store.mark_forwarded(marks(seqs[2], 0)).expect("mark");
    assert_eq!(store.unforwarded().messages, 2);
    store.close().expect("close");
    let store = Store::open(sensor_cfg(dir.path())).expect("reopen");
    assert_eq!(store.forward_marks().expect("marks"), marks(seqs[2], 0));
    assert_eq!(store.unforwarded().messages, 2, "counted at open");
    let rest = store.outbox(seqs[2], 10, usize::MAX).expect("rest");
    assert_eq!(rest.iter().map(|o| o.seq).collect::<Vec<_>>(), &seqs[3..]);
}

#[test]
fn marks_never_move_backwards_nor_past_what_is_stored() {
    if common::sqlite_only("a sensor's forwarding spool (segments and forward marks)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(sensor_cfg(dir.path())).expect("open");
    let seq = {
        capture(&store, &message(2, 0));
        store.outbox(0, 1, usize::MAX).expect("outbox")[0].seq
    };
    store.mark_forwarded(marks(seq, 0)).expect("mark");
    store.mark_forwarded(marks(0, 0)).expect("older mark");
    assert_eq!(store.forward_marks().expect("marks"), marks(seq, 0));
    store
        .mark_forwarded(marks(seq + 1000, 1000))
        .expect("future mark");
    assert_eq!(store.forward_marks().expect("marks"), marks(seq, 0));
    // So a sighting stored later is still handed out.
    capture(&store, &message(2, 1));
    assert_eq!(store.outbox(seq, 10, usize::MAX).expect("outbox").len(), 1);
}

#[test]
fn session_records_have_their_own_outbox_and_mark() {
    if common::sqlite_only("a sensor's forwarding spool (segments and forward marks)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(sensor_cfg(dir.path())).expect("open");
    let records: Vec<_> = (0..3).map(|_| session_record(None)).collect();
    for r in &records {
        store.record_session(r.clone());
    }
    store.flush().expect("flush");
    let out = store.session_outbox(0, 10).expect("outbox");
    assert_eq!(
        out.iter().map(|(_, r)| r.id).collect::<Vec<_>>(),
        records.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    assert_eq!(store.unforwarded().messages, 3);
    store.mark_forwarded(marks(0, out[1].0)).expect("mark");
    assert_eq!(store.unforwarded().messages, 1);
    let rest = store.session_outbox(out[1].0, 10).expect("rest");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].1, records[2]);
}

#[test]
fn the_spool_budget_turns_pressure_to_disk_and_back() {
    if common::sqlite_only("a sensor's forwarding spool (segments and forward marks)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = sensor_cfg(dir.path());
    cfg.max_spool_bytes = Some(10_000);
    let store = Store::open(cfg.clone()).expect("open");
    for n in 0..2 {
        capture(&store, &message(3, n));
    }
    assert_eq!(store.pressure(), Pressure::Normal, "8 KiB is within budget");
    capture(&store, &message(3, 2));
    let bytes: usize = (0..3).map(|n| message(3, n).len()).sum();
    assert_eq!(store.unforwarded().bytes, bytes as u64);
    assert_eq!(store.pressure(), Pressure::Disk);
    store.close().expect("close");
    let store = Store::open(cfg).expect("reopen");
    assert_eq!(store.pressure(), Pressure::Disk, "counted again at open");
    let last = store.outbox(0, 10, usize::MAX).expect("outbox")[2].seq;
    store.mark_forwarded(marks(last, 0)).expect("mark");
    assert_eq!(store.unforwarded().bytes, 0);
    assert_eq!(store.pressure(), Pressure::Normal);
}

#[test]
fn release_frees_forwarded_segments_and_the_outbox_keeps_working() {
    if common::sqlite_only("a sensor's forwarding spool (segments and forward marks)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(sensor_cfg(dir.path())).expect("open");
    for n in 0..6 {
        capture(&store, &message(4, n));
    }
    store.record_session(session_record(None));
    store.flush().expect("flush");
    let out = store.outbox(0, 10, usize::MAX).expect("outbox");
    let session = store.session_outbox(0, 10).expect("sessions")[0].0;
    assert_eq!(segment_files(dir.path()), 7);
    // The first four sightings forwarded, the session record not yet: only the segments of
    // those four can go.
    store.mark_forwarded(marks(out[3].seq, 0)).expect("mark");
    let report = store.release_forwarded().expect("release");
    assert_eq!((report.deleted_segments, report.purged_blobs), (4, 4));
    assert_eq!(segment_files(dir.path()), 3);
    assert!(report.freed_bytes >= 4 * 4096);
    let rest = store.outbox(out[3].seq, 10, usize::MAX).expect("rest");
    assert_eq!(rest.len(), 2);
    assert_eq!(rest[0].raw, message(4, 4));
    // Everything forwarded: every segment goes, the rows too (a sensor keeps no history)
    // except the newest of each table, whose seq must never be handed out again.
    store
        .mark_forwarded(marks(out[5].seq, session))
        .expect("mark all");
    let report = store.release_forwarded().expect("release");
    assert_eq!(report.deleted_segments, 3);
    assert_eq!(segment_files(dir.path()), 0);
    let stats = store.stats().expect("stats");
    assert_eq!((stats.sightings, stats.sessions), (1, 1));
    assert!(
        stats.messages <= 2,
        "purged blob rows are deleted: {stats:?}"
    );
    assert!(store.verify().expect("verify").is_ok());
    // New captures after the release get new seqs and are forwarded with their bytes.
    let fresh = capture(&store, &message(4, 9));
    let next = store.outbox(out[5].seq, 10, usize::MAX).expect("next");
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].sighting.id, fresh.sighting_id);
    assert!(next[0].seq > out[5].seq);
    assert_eq!(store.unforwarded().messages, 1);
    store.close().expect("close");
    let store = Store::open(sensor_cfg(dir.path())).expect("reopen");
    assert!(store.verify().expect("verify").is_ok());
    assert_eq!(store.unforwarded().messages, 1);
}

#[test]
fn a_message_arriving_again_after_release_is_forwarded_with_its_raw_bytes() {
    if common::sqlite_only("a sensor's forwarding spool (segments and forward marks)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(sensor_cfg(dir.path())).expect("open");
    // Two messages, both released: the older one's blob row is deleted, the newer one's
    // (the largest blob id) is kept, purged.
    let (old, new) = (message(5, 0), message(5, 1));
    capture(&store, &old);
    capture(&store, &new);
    let last = store.outbox(0, 10, usize::MAX).expect("outbox")[1].seq;
    store.mark_forwarded(marks(last, 0)).expect("mark");
    let report = store.release_forwarded().expect("release");
    assert_eq!(report.purged_blobs, 2);
    for raw in [&old, &new] {
        capture(&store, raw);
    }
    let again = store.outbox(last, 10, usize::MAX).expect("outbox");
    assert_eq!(again.len(), 2);
    assert_eq!(again[0].raw, old);
    assert_eq!(again[1].raw, new);
    assert!(store.verify().expect("verify").is_ok());
}

#[test]
fn a_blob_an_unforwarded_sighting_needs_is_copied_forward() {
    if common::sqlite_only("a sensor's forwarding spool (segments and forward marks)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(sensor_cfg(dir.path())).expect("open");
    let raw = message(6, 0);
    capture(&store, &raw);
    let first = store.outbox(0, 1, usize::MAX).expect("outbox")[0].seq;
    // The same message again: its sighting (in a later segment) names the first segment's blob.
    assert!(capture(&store, &raw).duplicate);
    store.mark_forwarded(marks(first, 0)).expect("mark");
    let report = store.release_forwarded().expect("release");
    assert_eq!((report.deleted_segments, report.copied_blobs), (1, 1));
    assert_eq!(report.purged_blobs, 0);
    let rest = store.outbox(first, 10, usize::MAX).expect("rest");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].raw, raw);
    // The copy is not copied again by the next pass while it is still needed.
    let again = store.release_forwarded().expect("release again");
    assert_eq!((again.deleted_segments, again.copied_blobs), (0, 0));
    assert!(store.verify().expect("verify").is_ok());
}

#[test]
fn a_store_that_analyses_keeps_its_rows_on_release() {
    if common::sqlite_only("a sensor's forwarding spool (segments and forward marks)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = sensor_cfg(dir.path());
    cfg.analysis_jobs = true;
    let store = Store::open(cfg).expect("open");
    for n in 0..3 {
        capture(&store, &message(7, n));
    }
    // Job ids run ahead of sighting seqs from here on (each segment must still record the
    // seqs of its sightings, not the ids of their jobs).
    while let Some(job) = store
        .try_claim_job("w", std::time::Duration::from_secs(60))
        .expect("claim")
    {
        store.complete_job(job.id).expect("complete");
    }
    assert_eq!(store.requeue(None).expect("requeue"), 3);
    for n in 3..6 {
        capture(&store, &message(7, n));
    }
    let last = store.outbox(0, 10, usize::MAX).expect("outbox")[5].seq;
    store.mark_forwarded(marks(last, 0)).expect("mark");
    let report = store.release_forwarded().expect("release");
    assert_eq!(report.deleted_segments, 6);
    assert_eq!(report.deleted_sightings, 0);
    let stats = store.stats().expect("stats");
    assert_eq!((stats.sightings, stats.purged_blobs), (6, 6));
    assert!(store.verify().expect("verify").is_ok());
}

/// Segments written before schema v11 have no `seq` ranges: they count as holding every row
/// stored at the upgrade, so nothing is released before all of those were forwarded.
#[test]
fn segments_from_before_v11_are_released_only_when_everything_then_stored_was_forwarded() {
    if common::sqlite_only("a sensor's forwarding spool (segments and forward marks)") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(sensor_cfg(dir.path())).expect("open");
    for n in 0..3 {
        capture(&store, &message(8, n));
    }
    let seqs: Vec<u64> = store
        .outbox(0, 10, usize::MAX)
        .expect("outbox")
        .iter()
        .map(|o| o.seq)
        .collect();
    store.close().expect("close");
    let db = rusqlite::Connection::open(dir.path().join("spamhattan.sqlite")).expect("db");
    db.execute_batch(
        "ALTER TABLE segments DROP COLUMN sightings_from;
         ALTER TABLE segments DROP COLUMN sightings_upto;
         ALTER TABLE segments DROP COLUMN sessions_from;
         ALTER TABLE segments DROP COLUMN sessions_upto;
         DROP TABLE sensors;
         DELETE FROM migrations WHERE version = 11;",
    )
    .expect("back to v10");
    drop(db);
    let store = Store::open(sensor_cfg(dir.path())).expect("migrates");
    store.mark_forwarded(marks(seqs[1], 0)).expect("mark");
    assert_eq!(
        store.release_forwarded().expect("release").deleted_segments,
        0
    );
    store.mark_forwarded(marks(seqs[2], 0)).expect("mark");
    assert_eq!(
        store.release_forwarded().expect("release").deleted_segments,
        3
    );
    assert!(store.verify().expect("verify").is_ok());
}
