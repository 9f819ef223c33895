//! The message index: listing with and without reports, every filter, keyset paging, hostile
//! search text, the dashboard rollups and the v9 backfill.

mod common;

use common::{message, open, sighting_at};
use model::report::{Artifact, BodyPart, IndicatorKind, Mailbox};
use model::{RcptVerdict, Recipient, VerdictClass};
use store::{MessageFilter, ReportSave, Store, StoreError};

struct Mail {
    sighting: model::Sighting,
}

fn recipient(addr: &str) -> Recipient {
    Recipient {
        raw: format!("RCPT TO:<{addr}>"),
        address: addr.into(),
        verdict: RcptVerdict::Accepted,
        reply: "250 ok".into(),
        quiet: false,
    }
}

fn capture(store: &Store, n: usize, rcpt: &str, at: model::Timestamp) -> Mail {
    let raw = message(n, 0);
    let mut s = sighting_at(&raw, at);
    s.envelope.recipients = vec![recipient(rcpt)];
    s.peer = format!("203.0.113.{}:5000", n % 3);
    store.capture(raw, s.clone()).wait().expect("capture");
    Mail { sighting: s }
}

fn report(
    m: &Mail,
    class: VerdictClass,
    subject: &str,
    file: Option<&str>,
    iocs: &[(IndicatorKind, &str)],
) -> model::Report {
    let mut r = common::report(m.sighting.message_id, class, iocs);
    r.headers.subject = Some(subject.into());
    r.headers.from = Some(Mailbox {
        name: Some("Billing Dept".into()),
        address: Some("billing@sender.example".into()),
    });
    r.bodies = vec![BodyPart {
        excerpt: "please open the attached remittance advice".into(),
        ..serde_json::from_str(r#"{"part":"1","content_type":"text/plain","chars":1}"#)
            .expect("body")
    }];
    if let Some(name) = file {
        let mut a: Artifact = serde_json::from_value(serde_json::json!({
            "index": 0, "depth": 0, "path": "inv.zip", "kind": "zip", "size": 10,
            "hashes": {"md5": "", "sha1": "", "sha256": "", "sha512": "", "ssdeep": ""}
        }))
        .expect("artifact");
        a.name = Some(name.into());
        r.artifacts = vec![a];
    }
    r
}

fn save(store: &Store, m: &Mail, r: &model::Report) {
    store
        .save_reports(&[ReportSave {
            job: None,
            sighting: &m.sighting,
            report: r,
        }])
        .expect("save");
}

fn ids(store: &Store, f: &MessageFilter) -> Vec<uuid::Uuid> {
    let (rows, next) = store.search_messages(f, 100, None).expect("search");
    assert!(next.is_none());
    rows.iter().map(|r| r.sighting).collect()
}

fn text(t: &str) -> MessageFilter {
    MessageFilter {
        text: vec![t.into()],
        ..Default::default()
    }
}

#[test]
fn unanalysed_messages_are_listed_and_reports_fill_the_row() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let now = model::now();
    let a = capture(&store, 1, "alice@trap.example", now);
    let b = capture(&store, 2, "bob@other.example", now);
    let (rows, _) = store
        .search_messages(&MessageFilter::default(), 10, None)
        .expect("list");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].sighting, b.sighting.id, "newest first");
    assert_eq!(rows[0].verdict, None);
    assert_eq!(rows[0].recipients, vec!["bob@other.example".to_string()]);
    save(
        &store,
        &a,
        &report(
            &a,
            VerdictClass::Malware,
            "Invoice 42",
            Some("inv.zip"),
            &[],
        ),
    );
    let (rows, _) = store
        .search_messages(&MessageFilter::default(), 10, None)
        .expect("list");
    let row = &rows[1];
    assert_eq!(row.sighting, a.sighting.id);
    assert_eq!(row.verdict, Some(VerdictClass::Malware));
    assert_eq!(row.subject.as_deref(), Some("Invoice 42"));
    assert_eq!(
        row.from.as_deref(),
        Some("Billing Dept <billing@sender.example>")
    );
    assert_eq!((row.attachments, row.score), (1, Some(40)));
}

#[test]
fn every_filter_selects_what_it_names() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let t0 = time::macros::datetime!(2026-11-01 10:00 UTC);
    let a = capture(&store, 1, "alice@trap.example", t0);
    let b = capture(&store, 2, "bob@other.example", t0 + time::Duration::days(2));
    let c = capture(
        &store,
        3,
        "carol@trap.example",
        t0 + time::Duration::days(4),
    );
    let ioc = [(IndicatorKind::Domain, "evil.example")];
    save(
        &store,
        &a,
        &report(
            &a,
            VerdictClass::Malware,
            "Your invoice",
            Some("inv.zip"),
            &ioc,
        ),
    );
    save(
        &store,
        &b,
        &report(&b, VerdictClass::Phishing, "Password expiry", None, &[]),
    );
    let (aid, bid, cid) = (a.sighting.id, b.sighting.id, c.sighting.id);
    assert_eq!(ids(&store, &text("invoice")), vec![aid]);
    assert_eq!(ids(&store, &text("remittance")), vec![bid, aid], "body");
    let f = |f: fn(&mut MessageFilter)| {
        let mut m = MessageFilter::default();
        f(&mut m);
        ids(&store, &m)
    };
    assert_eq!(f(|m| m.subject = vec!["your invoice".into()]), vec![aid]);
    assert_eq!(
        f(|m| m.subject = vec!["invoice your".into()]),
        Vec::<uuid::Uuid>::new(),
        "phrase"
    );
    assert_eq!(f(|m| m.to = vec!["bob@other.example".into()]), vec![bid]);
    assert_eq!(f(|m| m.from = vec!["billing dept".into()]), vec![bid, aid]);
    assert_eq!(f(|m| m.filename = vec!["inv.zip".into()]), vec![aid]);
    assert_eq!(f(|m| m.verdict = vec![VerdictClass::Phishing]), vec![bid]);
    assert_eq!(
        f(|m| m.verdict = vec![VerdictClass::Malware, VerdictClass::Phishing]),
        vec![bid, aid]
    );
    assert_eq!(f(|m| m.ioc = Some("evil.example".into())), vec![aid]);
    assert_eq!(f(|m| m.has_attachment = Some(true)), vec![aid]);
    assert_eq!(f(|m| m.has_attachment = Some(false)), vec![cid, bid]);
    let day3 = t0 + time::Duration::days(3);
    let day1 = t0 + time::Duration::days(1);
    let mut m = MessageFilter {
        after: Some(day1),
        before: Some(day3),
        ..Default::default()
    };
    assert_eq!(ids(&store, &m), vec![bid]);
    let before = MessageFilter {
        before: Some(day3),
        ..Default::default()
    };
    assert_eq!(ids(&store, &before), vec![bid, aid]);
    m.subject = vec!["password".into()];
    m.verdict = vec![VerdictClass::Malware];
    assert_eq!(
        ids(&store, &m),
        Vec::<uuid::Uuid>::new(),
        "filters combine with AND"
    );
}

#[test]
fn campaign_filter_lists_the_members() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let a = capture(&store, 1, "alice@trap.example", model::now());
    save(
        &store,
        &a,
        &report(&a, VerdictClass::Spam, "hello", None, &[]),
    );
    let f = MessageFilter {
        campaign: Some(12345),
        ..Default::default()
    };
    assert_eq!(ids(&store, &f), Vec::<uuid::Uuid>::new());
    let f = MessageFilter {
        campaign: Some(1),
        text: vec!["hello".into()],
        ..Default::default()
    };
    assert_eq!(
        ids(&store, &f),
        Vec::<uuid::Uuid>::new(),
        "not clustered yet"
    );
}

#[test]
fn paging_with_cursors_visits_every_message_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let (mut all, mut analysed) = (Vec::new(), Vec::new());
    for n in 0..23 {
        let m = capture(&store, n, "x@trap.example", model::now());
        if n % 2 == 0 {
            save(
                &store,
                &m,
                &report(&m, VerdictClass::Spam, "offer", None, &[]),
            );
            analysed.push(m.sighting.id);
        }
        all.push(m.sighting.id);
    }
    all.reverse();
    analysed.reverse();
    for (filter, expected) in [
        (MessageFilter::default(), all),
        (text("remittance"), analysed),
    ] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let (rows, next) = store
                .search_messages(&filter, 5, cursor.as_deref())
                .expect("page");
            assert!(rows.len() <= 5);
            seen.extend(rows.iter().map(|r| r.sighting));
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, expected);
    }
}

#[test]
fn hostile_search_text_is_never_fts_syntax_and_bad_cursors_are_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let a = capture(&store, 1, "alice@trap.example", model::now());
    save(
        &store,
        &a,
        &report(
            &a,
            VerdictClass::Spam,
            "a \"quoted\" OR NOT (x*)",
            None,
            &[],
        ),
    );
    for t in [
        "\"",
        "\"\"",
        "*",
        "OR",
        "NOT x",
        "a AND",
        "(",
        ")",
        "^x",
        "subject:x",
        "NEAR(a b)",
        "x\"y",
        "'",
        "-",
        "",
        " ",
        "\u{0}",
        "{sender}: x",
        "a:b:c",
        "🎉",
    ] {
        store
            .search_messages(&text(t), 10, None)
            .unwrap_or_else(|e| panic!("{t:?}: {e}"));
    }
    assert_eq!(ids(&store, &text("\"quoted\" OR")), vec![a.sighting.id]);
    for bad in ["", "x", "s", "s-1", "s0", "s9999999999999999999999"] {
        let err = store
            .search_messages(&MessageFilter::default(), 10, Some(bad))
            .expect_err(bad);
        assert!(matches!(err, StoreError::Invalid { .. }), "{bad}: {err}");
    }
    let many = MessageFilter {
        text: vec!["x".into(); store::MAX_TERMS + 1],
        ..Default::default()
    };
    assert!(matches!(
        store.search_messages(&many, 10, None),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn dashboard_counts_by_hour_verdict_domain_and_network() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let now = model::now();
    let a = capture(&store, 1, "alice@trap.example", now);
    let b = capture(
        &store,
        2,
        "bob@other.example",
        now - time::Duration::hours(2),
    );
    let c = capture(
        &store,
        3,
        "carol@trap.example",
        now - time::Duration::hours(30),
    );
    save(&store, &a, &report(&a, VerdictClass::Spam, "s", None, &[]));
    save(
        &store,
        &b,
        &report(&b, VerdictClass::Malware, "m", None, &[]),
    );
    save(
        &store,
        &c,
        &report(&c, VerdictClass::Malware, "old", None, &[]),
    );
    // Re-analysis moves the message to its new class; it is not counted twice.
    save(
        &store,
        &a,
        &report(&a, VerdictClass::Phishing, "s", None, &[]),
    );
    let d = store.dashboard(now, 24).expect("dashboard");
    assert_eq!(d.volume.len(), 24);
    assert_eq!(d.volume.iter().map(|v| v.total).sum::<u64>(), 2);
    assert_eq!(d.volume[23].total, 1);
    assert_eq!(d.volume[23].by_verdict[0].key, "phishing");
    let by: Vec<_> = d
        .by_verdict
        .iter()
        .map(|c| (c.key.as_str(), c.count))
        .collect();
    assert_eq!(by, vec![("malware", 1), ("phishing", 1)]);
    let dom: Vec<_> = d
        .by_trap_domain
        .iter()
        .map(|c| (c.key.as_str(), c.count))
        .collect();
    assert_eq!(dom, vec![("other.example", 1), ("trap.example", 1)]);
    let nets: Vec<_> = d.top_networks.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(nets, vec!["203.0.113.0/24"]);
    assert_eq!(d.top_networks[0].count, 2);
    let threats: Vec<_> = d.latest_threats.iter().map(|r| r.sighting).collect();
    // Newest capture first (c was captured after b, though it says it arrived earlier).
    assert_eq!(threats, vec![c.sighting.id, b.sighting.id]);
    let week = store.dashboard(now, 24 * 7).expect("dashboard");
    assert_eq!(week.volume.iter().map(|v| v.total).sum::<u64>(), 3);
}

#[test]
fn migration_9_backfills_reports_saved_before_it() {
    if common::sqlite_only("the PostgreSQL schema has no v9 migration to backfill") {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let id = {
        let store = open(dir.path());
        let a = capture(&store, 1, "alice@trap.example", model::now());
        save(
            &store,
            &a,
            &report(&a, VerdictClass::Scam, "lottery win", None, &[]),
        );
        store.close().expect("close");
        a.sighting.id
    };
    // Back to a v8 database holding that report: the index tables (and v10's) do not exist.
    let db = rusqlite::Connection::open(dir.path().join("spamhattan.sqlite")).expect("db");
    db.execute_batch(
        "DROP TABLE message_facts; DROP TABLE message_text; DROP TABLE message_hours;
         DROP TABLE message_networks; DROP TABLE bait_visits; DROP TABLE seeds;
         DROP TABLE seed_hits; DROP TABLE harvesters; DROP TABLE message_domains;
         DELETE FROM migrations WHERE version >= 9;",
    )
    .expect("downgrade");
    drop(db);
    let store = open(dir.path());
    assert_eq!(ids(&store, &text("lottery")), vec![id]);
    let d = store.dashboard(model::now(), 1).expect("dashboard");
    assert_eq!(d.by_verdict[0].key, "scam");
}

#[test]
fn words_are_cut_alike_on_both_stores() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let a = capture(&store, 1, "alice@trap.example", model::now());
    save(
        &store,
        &a,
        &report(&a, VerdictClass::Spam, "Ünïcödé Straße offer", None, &[]),
    );
    let only_a = vec![a.sighting.id];
    let none = Vec::<uuid::Uuid>::new();
    // Diacritics and case fold away; addresses split into their words.
    assert_eq!(ids(&store, &text("unicode")), only_a);
    assert_eq!(ids(&store, &text("UNÎCODE straße")), only_a);
    assert_eq!(
        ids(
            &store,
            &MessageFilter {
                to: vec!["trap".into()],
                ..Default::default()
            }
        ),
        only_a
    );
    assert_eq!(ids(&store, &text("sender.example")), only_a);
    // A word is whole: no prefix matching, no stemming.
    assert_eq!(ids(&store, &text("unic")), none);
    assert_eq!(ids(&store, &text("offers")), none);
    // A phrase stays inside one column: the subject ends with "offer", the senders start
    // with "bulk", and the two do not make a phrase.
    assert_eq!(ids(&store, &text("offer bulk")), none);
    assert_eq!(ids(&store, &text("straße offer")), only_a);
    assert_eq!(
        ids(
            &store,
            &MessageFilter {
                subject: vec!["billing".into()],
                ..Default::default()
            }
        ),
        none,
        "a column term searches that column only"
    );
}

#[test]
fn indicator_pages_walk_newest_first_and_filter_by_kind_and_text() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let t0 = time::macros::datetime!(2026-11-01 10:00 UTC);
    let iocs: [&[(IndicatorKind, &str)]; 3] = [
        &[
            (IndicatorKind::Domain, "evil.example"),
            (IndicatorKind::Url, "http://Evil.example/x"),
        ],
        &[(IndicatorKind::Domain, "good.example")],
        &[(IndicatorKind::Ip, "192.0.2.1")],
    ];
    for (n, list) in iocs.iter().enumerate() {
        let at = t0 + time::Duration::hours(n as i64);
        let m = capture(&store, n, "x@trap.example", at);
        save(&store, &m, &report(&m, VerdictClass::Spam, "s", None, list));
    }
    let values = |kind, contains, limit, after: Option<&str>| {
        let (rows, next) = store
            .indicator_page(kind, contains, limit, after)
            .expect("page");
        let v: Vec<String> = rows.into_iter().map(|r| r.value).collect();
        (v, next)
    };
    let (first, next) = values(None, None, 2, None);
    assert_eq!(first[0], "192.0.2.1");
    assert_eq!(first[1], "good.example");
    let (rest, end) = values(None, None, 2, next.as_deref());
    assert_eq!(rest.len(), 2, "the two of the oldest message");
    assert!(end.is_none());
    let (domains, _) = values(Some(IndicatorKind::Domain), None, 10, None);
    assert_eq!(domains, vec!["good.example", "evil.example"]);
    let (mut evil, _) = values(None, Some("EVIL"), 10, None);
    evil.sort();
    assert_eq!(evil, vec!["evil.example", "http://Evil.example/x"]);
    for bad in ["x", "i1", "i1.x"] {
        assert!(matches!(
            store.indicator_page(None, None, 10, Some(bad)),
            Err(StoreError::Invalid { .. })
        ));
    }
}

#[test]
fn a_nul_in_a_header_is_kept_and_a_nul_in_a_filter_finds_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let a = capture(&store, 1, "alice@trap.example", model::now());
    let mut r = report(&a, VerdictClass::Spam, "pay\0now", None, &[]);
    r.headers.from = Some(Mailbox {
        name: Some("Nul\0Name".into()),
        address: Some("x@sender.example".into()),
    });
    save(&store, &a, &r);
    let (rows, _) = store
        .search_messages(&MessageFilter::default(), 10, None)
        .expect("list");
    assert_eq!(rows[0].subject.as_deref(), Some("pay\0now"));
    assert_eq!(
        rows[0].from.as_deref(),
        Some("Nul\0Name <x@sender.example>")
    );
    assert_eq!(ids(&store, &text("pay now")), vec![a.sighting.id]);
    let f = MessageFilter {
        ioc: Some("evil\0.example".into()),
        ..Default::default()
    };
    assert_eq!(ids(&store, &f), Vec::<uuid::Uuid>::new());
    let (page, next) = store
        .indicator_page(None, Some("\0"), 10, None)
        .expect("page");
    assert!(page.is_empty() && next.is_none());
}
