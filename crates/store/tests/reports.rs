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

/// A batch of reports indexes what the same reports saved one at a time index. On PostgreSQL
/// the batch takes the batched path for first reports (`pg/first_reports.rs`) and the
/// per-report path for the rest: here a sighting saved twice in the batch and one analysed
/// before. Indicators, search rows and dashboard rollups must come out the same, and exact.
#[test]
fn a_batch_of_reports_indexes_what_one_report_at_a_time_does() {
    let (d1, d2) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let (batched, single) = (open(d1.path()), open(d2.path()));
    let t0 = model::now() - time::Duration::hours(3);
    let raws: Vec<Vec<u8>> = (0..5).map(|i| message(7, i)).collect();
    let sightings: Vec<model::Sighting> = raws
        .iter()
        .enumerate()
        .map(|(i, raw)| common::sighting_at(raw, t0 + time::Duration::minutes(10 * i as i64)))
        .collect();
    for store in [&batched, &single] {
        for (raw, s) in raws.iter().zip(&sightings) {
            store
                .capture(raw.clone(), s.clone())
                .wait()
                .expect("capture");
        }
    }
    let id = |i: usize| model::MessageId::of(&raws[i]);
    let shared = (IndicatorKind::Domain, "shared.example");
    let earlier = common::report(
        id(3),
        VerdictClass::Phishing,
        &[(IndicatorKind::Domain, "old.example"), shared],
    );
    let reports = [
        common::report(
            id(0),
            VerdictClass::Phishing,
            &[shared, (IndicatorKind::Domain, "own0.example"), shared],
        ),
        common::report(
            id(1),
            VerdictClass::Malware,
            &[shared, (IndicatorKind::Url, "http://own1.example/x")],
        ),
        common::report(
            id(2),
            VerdictClass::Spam,
            &[(IndicatorKind::Domain, "own2.example")],
        ),
        common::report(id(3), VerdictClass::Spam, &[shared]),
        common::report(id(4), VerdictClass::Phishing, &[shared]),
    ];
    fn save<'a>(s: &'a model::Sighting, r: &'a Report) -> ReportSave<'a> {
        ReportSave {
            job: None,
            sighting: s,
            report: r,
        }
    }
    for store in [&batched, &single] {
        store
            .save_reports(&[save(&sightings[3], &earlier)])
            .expect("earlier analysis");
    }
    // Sighting 2 twice: the second save of it is a re-analysis with the same report.
    let batch = [
        save(&sightings[0], &reports[0]),
        save(&sightings[1], &reports[1]),
        save(&sightings[2], &reports[2]),
        save(&sightings[3], &reports[3]),
        save(&sightings[4], &reports[4]),
        save(&sightings[2], &reports[2]),
    ];
    batched.save_reports(&batch).expect("batch");
    for item in &batch {
        single
            .save_reports(std::slice::from_ref(item))
            .expect("one");
    }
    let values = [
        (IndicatorKind::Domain, "shared.example"),
        (IndicatorKind::Domain, "own0.example"),
        (IndicatorKind::Url, "http://own1.example/x"),
        (IndicatorKind::Domain, "own2.example"),
        (IndicatorKind::Domain, "old.example"),
    ];
    for (kind, value) in values {
        let b = batched.indicator(kind, value, 10).expect("read");
        let s = single.indicator(kind, value, 10).expect("read");
        assert_eq!(b, s, "{value}");
    }
    let shared = batched
        .indicator(IndicatorKind::Domain, "shared.example", 10)
        .expect("read")
        .expect("indexed");
    assert_eq!(shared.count, 4, "sightings 0, 1, 3 and 4, each once");
    assert_eq!(shared.first_seen, sightings[0].received_at);
    assert_eq!(shared.last_seen, sightings[4].received_at);
    let old = batched
        .indicator(IndicatorKind::Domain, "old.example", 10)
        .expect("read")
        .expect("still a row");
    assert_eq!(old.count, 0, "the re-analysis took its link back");
    assert_eq!(
        batched.verdict_counts().expect("counts"),
        single.verdict_counts().expect("counts")
    );
    let (b_rows, _) = batched
        .search_messages(&store::MessageFilter::default(), 50, None)
        .expect("search");
    let (s_rows, _) = single
        .search_messages(&store::MessageFilter::default(), 50, None)
        .expect("search");
    assert_eq!(b_rows, s_rows);
    assert_eq!(b_rows.len(), 5);
    let now = model::now();
    let (b, s) = (
        batched.dashboard(now, 24).expect("dashboard"),
        single.dashboard(now, 24).expect("dashboard"),
    );
    assert_eq!(b.by_verdict, s.by_verdict);
    assert_eq!(b.by_trap_domain, s.by_trap_domain);
    assert_eq!(b.top_networks, s.top_networks);
    let total = |d: &store::Dashboard| d.volume.iter().map(|h| h.total).sum::<u64>();
    assert_eq!(total(&b), 5, "five messages analysed, each counted once");
    assert_eq!(total(&b), total(&s));
}
