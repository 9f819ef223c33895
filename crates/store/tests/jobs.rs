//! The analysis job queue: claim, complete, lease expiry, no double claims, backlog pressure.

mod common;

use common::{capture, message};
use std::collections::HashSet;
use std::time::Duration;
use store::{Pressure, Store};

const LEASE: Duration = Duration::from_secs(60);

#[test]
fn jobs_are_claimed_in_order_once_and_completed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::open(dir.path());
    let first = capture(&store, &message(0, 0));
    let second = capture(&store, &message(0, 1));
    let a = store
        .try_claim_job("w1", LEASE)
        .expect("claim")
        .expect("a job");
    assert_eq!(
        (a.sighting_id, a.message_id, a.attempts),
        (first.sighting_id, first.message_id, 1)
    );
    let b = store
        .try_claim_job("w2", LEASE)
        .expect("claim")
        .expect("a job");
    assert_eq!(b.sighting_id, second.sighting_id);
    assert_eq!(store.try_claim_job("w3", LEASE).expect("claim"), None);
    assert_eq!(store.job_depth().expect("depth"), 2);
    store.complete_job(a.id).expect("complete");
    store
        .complete_job(a.id)
        .expect("completing twice is harmless");
    assert_eq!(store.job_depth().expect("depth"), 1);
}

#[test]
fn a_job_whose_lease_expired_is_claimed_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::open(dir.path());
    capture(&store, &message(1, 0));
    let t0 = model::now();
    let job = store
        .try_claim_job_at("dies", LEASE, t0)
        .expect("claim")
        .expect("job");
    let soon = t0 + time::Duration::seconds(30);
    assert_eq!(
        store.try_claim_job_at("w2", LEASE, soon).expect("claim"),
        None
    );
    let late = t0 + time::Duration::seconds(61);
    let again = store
        .try_claim_job_at("w2", LEASE, late)
        .expect("claim")
        .expect("job");
    assert_eq!((again.id, again.attempts), (job.id, 2));
    store.complete_job(again.id).expect("complete");
    assert_eq!(
        store.try_claim_job_at("w3", LEASE, late).expect("claim"),
        None
    );
}

#[test]
fn concurrent_workers_never_claim_the_same_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::open(dir.path());
    let tickets: Vec<_> = (0..200)
        .map(|n| {
            let raw = message(2, n);
            store.capture(raw.clone(), common::sighting(&raw))
        })
        .collect();
    for t in tickets {
        t.wait().expect("capture");
    }
    let workers: Vec<_> = (0..4)
        .map(|w| {
            // Separate handles on one directory: separate connections, like separate workers.
            let store = Store::open(store.config().clone()).expect("open");
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(job) = store.try_claim_job(&format!("w{w}"), LEASE).expect("claim") {
                    got.push(job.id);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.join().expect("worker"));
    }
    let unique: HashSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), 200);
    assert_eq!(unique.len(), 200);
}

#[test]
fn a_backlog_above_the_limit_is_reported_as_pressure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = common::config(dir.path());
    cfg.max_backlog = 2;
    cfg.min_free_bytes = 0;
    let store = Store::open(cfg).expect("open");
    for n in 0..3 {
        capture(&store, &message(3, n));
    }
    assert_eq!(store.pressure(), Pressure::Backlog);
    let job = store
        .try_claim_job("w", LEASE)
        .expect("claim")
        .expect("job");
    store.complete_job(job.id).expect("complete");
    assert_eq!(store.pressure(), Pressure::Normal);
}

#[test]
fn too_little_free_disk_is_reported_as_pressure() {
    if common::sqlite_only("min_free_bytes: a PostgreSQL store's disk is the server's") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = common::config(dir.path());
    cfg.min_free_bytes = u64::MAX;
    let store = Store::open(cfg).expect("open");
    assert_eq!(store.pressure(), Pressure::Disk);
}

/// A late `complete_job` (a worker whose lease expired, after another worker finished the job)
/// must never delete a newer job: ids are not reused, not even once the queue is empty.
#[test]
fn job_ids_are_never_reused_even_after_the_queue_empties() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = common::config(dir.path());
    let store = Store::open(cfg.clone()).expect("open");
    capture(&store, &message(4, 0));
    capture(&store, &message(4, 1));
    let mut done = Vec::new();
    while let Some(job) = store.try_claim_job("w", LEASE).expect("claim") {
        store.complete_job(job.id).expect("complete");
        done.push(job.id);
    }
    assert_eq!(store.job_depth().expect("depth"), 0);
    store.close().expect("close");
    let store = Store::open(cfg).expect("reopen");
    capture(&store, &message(4, 2));
    let next = store
        .try_claim_job("w", LEASE)
        .expect("claim")
        .expect("job");
    assert!(
        done.iter().all(|&old| next.id > old),
        "{next:?} reuses one of {done:?}"
    );
    // The stale completion of an old id leaves the new job alone.
    store.complete_job(done[1]).expect("stale complete");
    assert_eq!(store.job_depth().expect("depth"), 1);
}

/// `pressure()` reads an in-memory count; jobs completed by another process (here: another
/// handle with its own writer and connections) reach it by the writer's periodic recount.
#[test]
fn jobs_completed_elsewhere_lift_the_backlog_after_a_recount() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = common::config(dir.path());
    cfg.max_backlog = 2;
    cfg.min_free_bytes = 0;
    let serve = Store::open(cfg.clone()).expect("open");
    let worker = Store::open(cfg).expect("open");
    for n in 0..3 {
        capture(&serve, &message(5, n));
    }
    assert_eq!(serve.pressure(), Pressure::Backlog);
    while let Some(job) = worker.try_claim_job("w", LEASE).expect("claim") {
        worker.complete_job(job.id).expect("complete");
    }
    assert_eq!(
        serve.job_depth().expect("depth"),
        0,
        "counted: exact at once"
    );
    assert_eq!(worker.pressure(), Pressure::Normal);
    std::thread::sleep(store::DISK_PROBE_INTERVAL + Duration::from_millis(100));
    // Any batch wakes the writer, which recounts after answering it: the second flush is
    // answered after that recount.
    serve.flush().expect("flush");
    serve.flush().expect("flush");
    assert_eq!(serve.pressure(), Pressure::Normal);
}

/// Batch claims by several handles at once (on PostgreSQL: `SKIP LOCKED`, each takes other
/// rows) split the queue: every job exactly once, each batch in id order.
#[test]
fn concurrent_batch_claims_split_the_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::open(dir.path());
    let tickets: Vec<_> = (0..150)
        .map(|n| {
            let raw = message(6, n);
            store.capture(raw.clone(), common::sighting(&raw))
        })
        .collect();
    for t in tickets {
        t.wait().expect("capture");
    }
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let store = Store::open(store.config().clone()).expect("open");
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let batch = store
                        .try_claim_jobs(&format!("w{w}"), LEASE, 7)
                        .expect("claim");
                    if batch.is_empty() {
                        return got;
                    }
                    assert!(batch.len() <= 7);
                    assert!(batch.windows(2).all(|p| p[0].id < p[1].id));
                    assert!(batch.iter().all(|j| j.attempts == 1));
                    got.extend(batch.into_iter().map(|j| j.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.join().expect("worker"));
    }
    let unique: HashSet<_> = all.iter().copied().collect();
    assert_eq!((all.len(), unique.len()), (150, 150));
    assert_eq!(
        store.job_depth().expect("depth"),
        150,
        "claimed, not completed"
    );
}

#[test]
fn claimed_messages_come_with_their_sightings_and_raw_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::open(dir.path());
    let raws: Vec<Vec<u8>> = (0..5).map(|n| message(2, n)).collect();
    let captured: Vec<_> = raws.iter().map(|r| capture(&store, r)).collect();
    let first = store.claim_messages("w1", LEASE, 3).expect("claim");
    let rest = store.claim_messages("w2", LEASE, 10).expect("claim");
    assert_eq!((first.len(), rest.len()), (3, 2), "each job claimed once");
    assert!(
        store
            .claim_messages("w3", LEASE, 10)
            .expect("claim")
            .is_empty()
    );
    for (c, (want, raw)) in first.iter().chain(&rest).zip(captured.iter().zip(&raws)) {
        assert_eq!(c.job.sighting_id, want.sighting_id, "oldest first, by job");
        assert_eq!(c.job.attempts, 1);
        let s = c.sighting.as_ref().expect("the sighting");
        assert_eq!((s.id, s.message_id), (want.sighting_id, want.message_id));
        assert_eq!(c.raw, store::RawLookup::Found(raw.clone()));
    }
}

/// On PostgreSQL the writer hands the jobs of what it commits to this process, leased, while
/// there is room; the rest are claimed as usual, and closing gives back what was not taken.
#[test]
fn handed_jobs_skip_the_claim_and_come_back_when_the_handoff_closes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::open(dir.path());
    let on = store.enable_handoff("c0-handoff", LEASE, 2, 1 << 20);
    assert_eq!(on, store.is_postgres(), "PostgreSQL only");
    let raws: Vec<Vec<u8>> = (0..3).map(|n| message(3, n)).collect();
    let captured: Vec<_> = raws.iter().map(|r| capture(&store, r)).collect();
    let handed = store.take_handed_off(10).expect("take");
    let claimed = store.claim_messages("w", LEASE, 10).expect("claim");
    if !on {
        assert!(handed.is_empty());
        assert_eq!(claimed.len(), 3);
        return;
    }
    assert_eq!((handed.len(), claimed.len()), (2, 1), "room for two");
    for (h, (want, raw)) in handed.iter().zip(captured.iter().zip(&raws)) {
        assert_eq!(h.job.sighting_id, want.sighting_id);
        assert_eq!(h.job.attempts, 1);
        assert_eq!(h.sighting.as_ref().map(|s| s.id), Some(want.sighting_id));
        assert_eq!(h.raw, store::RawLookup::Found(raw.clone()));
    }
    assert_eq!(claimed[0].job.sighting_id, captured[2].sighting_id);
    for h in &handed {
        store.complete_job(h.job.id).expect("complete");
    }
    // Two more are handed and not taken: closing gives them back, this attempt undone.
    capture(&store, &message(3, 3));
    capture(&store, &message(3, 4));
    assert_eq!(store.close_handoff().expect("close"), 2);
    capture(&store, &message(3, 5));
    assert!(
        store.take_handed_off(10).expect("take").is_empty(),
        "closed"
    );
    let again = store.claim_messages("w", LEASE, 10).expect("claim");
    assert_eq!(
        again.len(),
        3,
        "the two given back and the one after the close"
    );
    assert!(again.iter().all(|c| c.job.attempts == 1));
    assert_eq!(store.job_depth().expect("depth"), 4);
}
