//! Reports and the indicator index: saved with their job, counts exact across re-analysis.

mod common;

use common::{capture, message, open};
use model::VerdictClass;
use model::report::{IndicatorKind, Report};
use store::{IndicatorQuery, ReportSave};

fn report(message_id: model::MessageId, indicators: &[(IndicatorKind, &str)]) -> Report {
    common::report(message_id, VerdictClass::Phishing, indicators)
}

#[test]
fn saving_a_report_completes_its_job_and_indexes_its_indicators() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let raw = message(1, 1);
    let c = capture(&store, &raw);
    let job = store
        .try_claim_job("w", std::time::Duration::from_secs(60))
        .expect("claim")
        .expect("a job");
    let sighting = store
        .sighting(c.sighting_id)
        .expect("read")
        .expect("sighting");
    let r = report(c.message_id, &[(IndicatorKind::Domain, "evil.example")]);
    store
        .save_reports(&[ReportSave {
            job: Some(job.id),
            sighting: &sighting,
            report: &r,
        }])
        .expect("save");
    assert_eq!(store.job_depth().expect("depth"), 0);
    assert_eq!(store.report(c.sighting_id).expect("read"), Some(r.clone()));
    assert_eq!(
        store.report_for_message(&c.message_id).expect("read"),
        Some(r)
    );
    let ind = store
        .indicator(IndicatorKind::Domain, "evil.example", 10)
        .expect("read")
        .expect("indexed");
    assert_eq!(ind.count, 1);
    assert_eq!(ind.sightings, vec![c.sighting_id]);
    assert_eq!(ind.first_seen, sighting.received_at);
    // Trap addresses stay in the report, never in the index.
    assert!(
        store
            .indicator(IndicatorKind::Email, "trap@trap.example", 1)
            .expect("read")
            .is_none()
    );
    assert_eq!(
        store.verdict_counts().expect("counts"),
        vec![("phishing".to_string(), 1)]
    );
}

#[test]
fn reanalysis_replaces_links_and_keeps_counts_exact() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let a = capture(&store, &message(1, 1));
    let b = capture(&store, &message(1, 2));
    let sa = store.sighting(a.sighting_id).expect("r").expect("s");
    let sb = store.sighting(b.sighting_id).expect("r").expect("s");
    let both = [
        (IndicatorKind::Domain, "x.example"),
        (IndicatorKind::Url, "http://x.example/"),
    ];
    let ra = report(a.message_id, &both);
    let rb = report(b.message_id, &both[..1]);
    let save = |s, r| {
        store
            .save_reports(&[ReportSave {
                job: None,
                sighting: s,
                report: r,
            }])
            .expect("save")
    };
    save(&sa, &ra);
    save(&sb, &rb);
    save(&sa, &ra); // the same report again: no double counting
    let count = |k, v| {
        store
            .indicator(k, v, 10)
            .expect("read")
            .map(|i| i.count)
            .unwrap_or(0)
    };
    assert_eq!(count(IndicatorKind::Domain, "x.example"), 2);
    assert_eq!(count(IndicatorKind::Url, "http://x.example/"), 1);
    // Re-analysis of `a` no longer finds the URL: its link and count go.
    save(&sa, &report(a.message_id, &both[..1]));
    assert_eq!(count(IndicatorKind::Url, "http://x.example/"), 0);
    assert_eq!(count(IndicatorKind::Domain, "x.example"), 2);
    let listed = store
        .indicators(&IndicatorQuery {
            kind: Some(IndicatorKind::Domain),
            limit: 10,
            sightings_per_indicator: 1,
            ..IndicatorQuery::default()
        })
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sightings.len(), 1);
}

#[test]
fn requeue_creates_one_job_per_stored_sighting_without_a_pending_one() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    for i in 0..3 {
        capture(&store, &message(2, i));
    }
    // Three jobs pending from capture: requeue adds none.
    assert_eq!(store.requeue(None).expect("requeue"), 0);
    let jobs = store
        .try_claim_jobs("w", std::time::Duration::from_secs(60), 10)
        .expect("claim");
    assert_eq!(jobs.len(), 3);
    for j in &jobs {
        store.complete_job(j.id).expect("complete");
    }
    assert_eq!(store.requeue(None).expect("requeue"), 3);
    let again = store
        .try_claim_jobs("w", std::time::Duration::from_secs(60), 10)
        .expect("claim");
    assert_eq!(again.len(), 3);
    assert!(
        again.iter().all(|j| jobs.iter().all(|old| old.id < j.id)),
        "ids never reused"
    );
    let future = model::now() + time::Duration::hours(1);
    assert_eq!(store.requeue(Some(future)).expect("requeue"), 0);
}

#[test]
fn indicator_seen_times_span_the_sightings_and_a_repeated_value_counts_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let t0 = model::now() - time::Duration::hours(5);
    let later = message(3, 1);
    let earlier = message(3, 2);
    let at = |raw: &[u8], h: i64| {
        let s = common::sighting_at(raw, t0 + time::Duration::hours(h));
        store
            .capture(raw.to_vec(), s.clone())
            .wait()
            .expect("capture");
        s
    };
    let s_late = at(&later, 4);
    let s_early = at(&earlier, 1);
    // The same domain twice in one report: one row, one link, one count.
    let twice = [
        (IndicatorKind::Domain, "twice.example"),
        (IndicatorKind::Domain, "twice.example"),
    ];
    for (s, raw) in [(&s_late, &later), (&s_early, &earlier)] {
        let r = report(model::MessageId::of(raw), &twice);
        store
            .save_reports(&[ReportSave {
                job: None,
                sighting: s,
                report: &r,
            }])
            .expect("save");
    }
    let ind = store
        .indicator(IndicatorKind::Domain, "twice.example", 10)
        .expect("read")
        .expect("indexed");
    assert_eq!(ind.count, 2);
    assert_eq!(
        ind.first_seen, s_early.received_at,
        "saved second, seen first"
    );
    assert_eq!(ind.last_seen, s_late.received_at);
    assert_eq!(ind.sightings, vec![s_late.id, s_early.id], "newest first");
}

/// A file name decoded from a hostile header may hold a NUL. SQLite indexes it; PostgreSQL
/// text cannot hold it, so there it is left out of the index: the save (and its job) must
/// still succeed, with the report and the other indicators stored.
#[test]
fn an_indicator_value_with_a_nul_never_fails_the_save() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let c = capture(&store, &message(4, 1));
    let job = store
        .try_claim_job("w", std::time::Duration::from_secs(60))
        .expect("claim")
        .expect("a job");
    let s = store.sighting(c.sighting_id).expect("read").expect("s");
    let r = report(
        c.message_id,
        &[
            (IndicatorKind::Filename, "invoice\0.pdf.exe"),
            (IndicatorKind::Domain, "nul.example"),
        ],
    );
    store
        .save_reports(&[ReportSave {
            job: Some(job.id),
            sighting: &s,
            report: &r,
        }])
        .expect("save");
    assert_eq!(store.job_depth().expect("depth"), 0);
    assert_eq!(store.report(c.sighting_id).expect("read"), Some(r));
    let domain = store.indicator(IndicatorKind::Domain, "nul.example", 1);
    assert_eq!(domain.expect("read").map(|i| i.count), Some(1));
    let nul = store
        .indicator(IndicatorKind::Filename, "invoice\0.pdf.exe", 1)
        .expect("read");
    assert_eq!(nul.is_some(), !store.is_postgres());
}
