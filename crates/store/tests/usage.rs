//! `Store::usage` and `Store::ping`: what `/metrics` and `/readyz` read on every request.

mod common;

use common::{capture, message};

#[test]
fn usage_counts_the_job_and_the_spool_bytes_of_a_capture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = common::open(dir.path());
    let before = store.usage().expect("usage");
    assert_eq!(before.pending_jobs, 0);
    let raw = message(1, 2);
    capture(&store, &raw);
    let after = store.usage().expect("usage");
    assert_eq!(after.pending_jobs, 1, "a capture queues one analysis job");
    if store.is_postgres() {
        // No segment files: the spool figure is the size of the table holding the raw bytes,
        // part of the whole schema's; the disk is the server's.
        assert_eq!(after.segments, 0);
        assert!(after.segment_bytes > 0, "{after:?}");
        assert!(after.sqlite_bytes > after.segment_bytes, "{after:?}");
        assert_eq!(after.disk_free_bytes, None);
    } else {
        assert_eq!(after.segments, 1);
        assert!(after.segment_bytes >= raw.len() as u64, "{after:?}");
        assert!(after.sqlite_bytes > 0);
        assert!(after.disk_free_bytes.is_some_and(|b| b > 0));
    }
    store.ping().expect("the database answers");
}
