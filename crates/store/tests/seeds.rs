//! Seeds, bait visits, harvesters and per-domain statistics: what is stored, what a saved
//! report attributes (and what it must not), idempotence under re-analysis, the v10 backfill
//! and hostile visitor values.

mod common;

use common::{message, open, sighting_at};
use model::campaign::CampaignProfile;
use model::seed::{MAX_VISIT_FIELD, local_part, new_token};
use model::{BaitForm, BaitVisit, NewSeed, RcptVerdict, Recipient, SeedOrigin, VerdictClass};
use store::{ReportSave, SeedFilter, Store, StoreError};
use time::Duration;

const TRAP: &str = "trap.example";

fn recipient(addr: &str, verdict: RcptVerdict) -> Recipient {
    Recipient {
        raw: format!("RCPT TO:<{addr}>"),
        address: addr.into(),
        verdict,
        reply: "250 ok".into(),
        quiet: false,
    }
}

fn visit(ip: &str, at: model::Timestamp, agent: &str) -> BaitVisit {
    BaitVisit {
        id: uuid::Uuid::now_v7(),
        at,
        ip: ip.into(),
        user_agent: agent.into(),
        referer: "https://search.example/?q=contact".into(),
        path: "/team".into(),
    }
}

/// One visit seed per form, as the bait page mints them.
fn page_seeds() -> Vec<NewSeed> {
    BaitForm::ALL
        .into_iter()
        .map(|f| NewSeed::mint(TRAP, SeedOrigin::Visit, Some(f), "team page"))
        .collect()
}

/// Captures message `n` from `peer` to `rcpts` at `at` through `listener`.
fn capture(
    store: &Store,
    n: usize,
    rcpts: &[(&str, RcptVerdict)],
    at: model::Timestamp,
    peer: &str,
    listener: &str,
) -> model::Sighting {
    let raw = message(n, 7);
    let mut s = sighting_at(&raw, at);
    s.envelope.recipients = rcpts.iter().map(|(a, v)| recipient(a, *v)).collect();
    s.peer = peer.into();
    s.listener = listener.into();
    store.capture(raw, s.clone()).wait().expect("capture");
    s
}

fn save(store: &Store, s: &model::Sighting, class: VerdictClass) {
    let r = common::report(s.message_id, class, &[]);
    store
        .save_reports(&[ReportSave {
            job: None,
            sighting: s,
            report: &r,
        }])
        .expect("save");
}

/// Puts every report not yet clustered into one new campaign; returns its id.
fn cluster_all(store: &Store) -> i64 {
    store
        .cluster(|tx| -> Result<i64, StoreError> {
            let pending = tx.pending(100)?;
            let id = tx.create(pending[0].sighting.received_at, &CampaignProfile::default())?;
            for u in &pending {
                tx.assign(u.seq, id, u.sighting.received_at, VerdictClass::Spam, &[])?;
            }
            Ok(id)
        })
        .expect("cluster")
}

#[test]
fn a_visit_and_its_seeds_are_stored_and_read_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let t0 = model::now() - Duration::hours(2);
    let v = visit("198.51.100.23", t0, "EmailCollector/1.0");
    let stored = store.record_bait_visit(&v, &page_seeds()).expect("visit");
    assert_eq!(stored.len(), 4);
    assert!(
        stored
            .iter()
            .all(|s| s.visit == Some(v.id) && s.issued_at == t0)
    );

    let listed = store
        .seeds(&SeedFilter {
            visitor: Some("198.51.100.23".into()),
            ..Default::default()
        })
        .expect("seeds");
    let newest_first: Vec<i64> = stored.iter().rev().map(|s| s.id).collect();
    assert_eq!(
        listed.iter().map(|s| s.id).collect::<Vec<_>>(),
        newest_first
    );
    assert_eq!(listed[3], stored[0]);

    let mailto = &stored[0];
    let detail = store.seed(mailto.id).expect("seed").expect("found");
    assert_eq!(detail.seed.form, Some(BaitForm::Mailto));
    assert_eq!(detail.visit.as_ref(), Some(&v));
    assert!(detail.hits.is_empty());
    assert_eq!(detail.first_spam_after_secs, None);
    for key in [
        mailto.address.to_uppercase(),
        mailto.token.clone(),
        mailto.token.to_uppercase(),
    ] {
        let found = store.seed_by_address(&key).expect("by address");
        assert_eq!(found.map(|d| d.seed.id), Some(mailto.id), "{key}");
    }
    let elsewhere = format!("{}@other.example", local_part(&mailto.token));
    assert_eq!(store.seed_by_address(&elsewhere).expect("lookup"), None);
    assert_eq!(store.seed_by_address("info@trap.example").expect("x"), None);

    let again = visit(
        "198.51.100.23",
        t0 + Duration::minutes(5),
        "EmailCollector/2.0",
    );
    store.record_bait_visit(&again, &[]).expect("second visit");
    let rows = store.harvesters(10, None).expect("harvesters");
    assert_eq!(rows.len(), 1);
    let h = &rows[0];
    assert_eq!((h.visits, h.seeds, h.seeds_hit, h.messages), (2, 4, 0, 0));
    assert_eq!((h.first_visit, h.last_visit), (t0, again.at));
    assert_eq!(h.last_user_agent, "EmailCollector/2.0");
    assert_eq!(store.bait_visits_since(t0).expect("since"), 2);
    assert_eq!(store.bait_visits_since(again.at).expect("since"), 1);
    assert!(matches!(
        store.record_bait_visit(&again, &[]),
        Err(StoreError::Invalid { .. })
    ));
}

#[test]
fn mail_to_seeds_is_attributed_once_and_only_to_the_right_seed() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let t0 = model::now() - Duration::days(2);
    let v = visit("203.0.113.50", t0, "Harvester/3");
    let seeds = store.record_bait_visit(&v, &page_seeds()).expect("visit");
    let (mailto, text, obfuscated, entities) = (&seeds[0], &seeds[1], &seeds[2], &seeds[3]);
    let shaped = format!("{}@{TRAP}", local_part(&new_token()));
    let foreign = format!("{}@other.example", local_part(&entities.token));
    use RcptVerdict::{Accepted, RelayDenied};
    let first = capture(
        &store,
        1,
        &[
            (&mailto.address.to_uppercase(), Accepted),
            (&text.address, Accepted),
            (&obfuscated.address, RelayDenied),
            (&shaped, Accepted),
            (&foreign, Accepted),
        ],
        t0 + Duration::hours(1),
        "192.0.2.10:4000",
        "mx",
    );
    save(&store, &first, VerdictClass::Spam);

    let attributed = store.seeds_of_sighting(first.id).expect("of sighting");
    let ids: Vec<i64> = attributed.iter().map(|a| a.seed.id).collect();
    assert_eq!(
        ids,
        vec![mailto.id, text.id],
        "no relay, no stranger, no foreign"
    );
    assert!(attributed.iter().all(|a| a.after_secs == 3600));
    assert_eq!(attributed[0].visit.as_ref(), Some(&v));
    for unhit in [obfuscated, entities] {
        assert_eq!(store.seed(unhit.id).expect("seed").expect("x").seed.hits, 0);
    }

    // Re-analysis saves the same report again: nothing moves.
    for _ in 0..2 {
        save(&store, &first, VerdictClass::Malware);
    }
    let h = &store.harvesters(10, None).expect("rows")[0];
    assert_eq!((h.messages, h.seeds_hit), (1, 2), "one message, two seeds");

    let second = capture(
        &store,
        2,
        &[(&mailto.address, Accepted)],
        t0 + Duration::hours(5),
        "192.0.2.99:4000",
        "mx",
    );
    save(&store, &second, VerdictClass::Phishing);
    let campaign = cluster_all(&store);
    store
        .annotate_campaign(campaign, Some("pharma wave"), None)
        .expect("label");

    let detail = store.seed(mailto.id).expect("seed").expect("found");
    assert_eq!(detail.seed.hits, 2);
    assert_eq!(detail.seed.first_hit, Some(first.received_at));
    assert_eq!(detail.seed.last_hit, Some(second.received_at));
    assert_eq!(detail.first_spam_after_secs, Some(3600));
    let hit_ids: Vec<uuid::Uuid> = detail.hits.iter().map(|h| h.sighting).collect();
    assert_eq!(hit_ids, vec![second.id, first.id], "latest first");
    let latest = &detail.hits[0];
    assert_eq!(latest.class, "phishing");
    assert_eq!(latest.network, "192.0.2.0/24");
    assert_eq!(latest.helo.as_deref(), Some("spam.example"));
    assert_eq!(latest.sender, "bulk@spam.example");
    let uuid = store.campaign(campaign).expect("read").expect("c").uuid;
    assert_eq!(latest.campaign, Some(uuid));
    assert_eq!(detail.hits[1].class, "malware", "the re-analysed verdict");

    let h = store
        .harvester("203.0.113.50")
        .expect("harvester")
        .expect("found");
    assert_eq!(
        (
            h.harvester.messages,
            h.harvester.seeds_hit,
            h.harvester.seeds
        ),
        (2, 2, 4)
    );
    assert_eq!(h.first_spam_min_secs, Some(3600));
    assert_eq!(h.first_spam_median_secs, Some(3600));
    assert_eq!(h.campaigns.len(), 1);
    assert_eq!(h.campaigns[0].campaign, uuid);
    assert_eq!(h.campaigns[0].label.as_deref(), Some("pharma wave"));
    assert_eq!(h.campaigns[0].messages, 2);
    let forms: Vec<(&str, u64)> = h
        .forms_hit
        .iter()
        .map(|c| (c.key.as_str(), c.count))
        .collect();
    assert_eq!(forms, vec![("mailto", 1), ("text", 1)]);
    let nets: Vec<&str> = h.networks.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(nets, vec!["192.0.2.0/24"]);
    assert_eq!(h.networks[0].count, 2);
    assert_eq!(h.visits, vec![v.clone()]);
    assert_eq!(h.seeds.len(), 4);
    assert_eq!(h.user_agents[0].key, "Harvester/3");
    assert_eq!(h.pages[0].key, "/team");

    let hit = store
        .seeds(&SeedFilter {
            hit_only: true,
            ..Default::default()
        })
        .expect("hit");
    assert_eq!(
        hit.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![text.id, mailto.id]
    );
    assert_eq!(store.harvester("203.0.113.51").expect("none"), None);
}

#[test]
fn manual_seeds_are_minted_listed_and_refused_when_malformed() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let forum: Vec<NewSeed> = (0..3)
        .map(|_| NewSeed::mint(TRAP, SeedOrigin::Manual, None, "forum"))
        .collect();
    let minted = store.mint_seeds(&forum).expect("mint");
    store
        .mint_seeds(&[NewSeed::mint(TRAP, SeedOrigin::Manual, None, "whois")])
        .expect("mint");
    let by_label = |label: &str, before_id, limit| {
        store
            .seeds(&SeedFilter {
                label: Some(label.into()),
                before_id,
                limit,
                ..Default::default()
            })
            .expect("list")
            .into_iter()
            .map(|s| s.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        by_label("forum", None, 0),
        vec![minted[2].id, minted[1].id, minted[0].id]
    );
    assert_eq!(by_label("forum", Some(minted[2].id), 1), vec![minted[1].id]);
    assert_eq!(store.seeds(&SeedFilter::default()).expect("all").len(), 4);

    let too_many: Vec<NewSeed> = (0..=store::MAX_MINT)
        .map(|_| NewSeed::mint(TRAP, SeedOrigin::Manual, None, "bulk"))
        .collect();
    assert!(matches!(
        store.mint_seeds(&too_many),
        Err(StoreError::Invalid { .. })
    ));
    // A duplicate token fails the whole call: the fresh seed before it is not kept either.
    let fresh = NewSeed::mint(TRAP, SeedOrigin::Manual, None, "dup");
    assert!(matches!(
        store.mint_seeds(&[fresh.clone(), forum[0].clone()]),
        Err(StoreError::Invalid { .. })
    ));
    assert_eq!(store.seed_by_address(&fresh.token).expect("lookup"), None);
    let mut wrong = NewSeed::mint(TRAP, SeedOrigin::Manual, None, "bad");
    wrong.domain = "other.example".into();
    let mut no_token = NewSeed::mint(TRAP, SeedOrigin::Manual, None, "bad");
    no_token.address = format!("info@{TRAP}");
    for bad in [wrong, no_token] {
        assert!(matches!(
            store.mint_seeds(&[bad]),
            Err(StoreError::Invalid { .. })
        ));
    }
    assert_eq!(store.seeds(&SeedFilter::default()).expect("all").len(), 4);
}

#[test]
fn domain_statistics_count_a_window_by_class_and_sensor() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let now = model::now();
    let since = now - Duration::days(1);
    use RcptVerdict::{Accepted, RelayDenied};
    let peer = "192.0.2.1:25";
    let old = capture(
        &store,
        1,
        &[("a@a.example", Accepted)],
        since - Duration::hours(1),
        peer,
        "mx",
    );
    let a1 = capture(
        &store,
        2,
        &[
            ("a@A.example", Accepted),
            ("b@b.example", Accepted),
            ("x@relay.example", RelayDenied),
        ],
        since + Duration::hours(1),
        peer,
        "mx",
    );
    let a2 = capture(
        &store,
        3,
        &[("c@a.example", Accepted)],
        since + Duration::hours(2),
        peer,
        "",
    );
    for (s, class) in [
        (&old, VerdictClass::Spam),
        (&a1, VerdictClass::Malware),
        (&a2, VerdictClass::Spam),
    ] {
        save(&store, s, class);
        save(&store, s, class);
    }
    let campaign_of_all = cluster_all(&store);
    assert!(campaign_of_all > 0);

    let stats = store.domain_stats(since, now).expect("stats");
    let names: Vec<&str> = stats.iter().map(|d| d.domain.as_str()).collect();
    assert_eq!(names, vec!["a.example", "b.example"], "no relay domain");
    let a = &stats[0];
    assert_eq!(a.messages, 2, "the old message is outside the window");
    assert_eq!(a.first_seen, Some(a1.received_at));
    assert_eq!(a.last_seen, Some(a2.received_at));
    let pairs = |v: &[store::Count]| {
        v.iter()
            .map(|c| (c.key.clone(), c.count))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        pairs(&a.by_class),
        vec![("malware".to_string(), 1), ("spam".to_string(), 1)]
    );
    assert_eq!(
        pairs(&a.by_sensor),
        vec![("import".to_string(), 1), ("mx".to_string(), 1)]
    );
    assert_eq!(a.campaigns, 1);
    assert_eq!(stats[1].messages, 1);
    assert_eq!(stats[1].by_sensor[0].key, "mx");

    // The dashboard's rollup counts accepted recipients' domains only, like the statistics.
    let dashboard = store.dashboard(now, 48).expect("dashboard");
    assert_eq!(
        pairs(&dashboard.by_trap_domain),
        vec![("a.example".to_string(), 3), ("b.example".to_string(), 1)]
    );

    let all = store
        .domain_stats(since - Duration::days(1), now)
        .expect("all");
    assert_eq!(all[0].messages, 3);
    assert!(store.domain_stats(now, now).expect("empty").is_empty());

    assert_eq!(
        store
            .domain_first_since("a.example", since - Duration::days(9))
            .expect("first"),
        Some(old.received_at)
    );
    assert_eq!(
        store.domain_first_since("A.example", since).expect("first"),
        Some(a1.received_at)
    );
    assert_eq!(
        store.domain_first_since("b.example", now).expect("none"),
        None
    );
    assert_eq!(
        store.domain_first_since("relay.example", since).expect("x"),
        None
    );
}

/// A store written before v10 (its reports saved, the v10 tables not there yet) is built the
/// way the v9 test does it: the v10 tables are dropped and the migration row deleted, then the
/// store is opened again and the migration backfills `message_domains`.
#[test]
fn migration_10_backfills_message_domains_from_saved_reports() {
    if common::sqlite_only("the PostgreSQL schema has no v10 migration to backfill") {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let now = model::now();
    {
        let store = open(dir.path());
        for n in 0..3 {
            let rcpt = if n == 2 { "z@b.example" } else { "z@a.example" };
            let s = capture(
                &store,
                n,
                &[(rcpt, RcptVerdict::Accepted)],
                now - Duration::minutes(10),
                "192.0.2.1:25",
                "mx",
            );
            save(&store, &s, VerdictClass::Spam);
        }
        store.close().expect("close");
    }
    let db = rusqlite::Connection::open(dir.path().join("spamhattan.sqlite")).expect("db");
    db.execute_batch(
        "DROP TABLE bait_visits; DROP TABLE seeds; DROP TABLE seed_hits; DROP TABLE harvesters;
         DROP TABLE message_domains; DELETE FROM migrations WHERE version = 10;",
    )
    .expect("downgrade to v9");
    drop(db);
    let store = open(dir.path());
    let stats = store
        .domain_stats(now - Duration::hours(1), now)
        .expect("stats");
    let got: Vec<(&str, u64)> = stats
        .iter()
        .map(|d| (d.domain.as_str(), d.messages))
        .collect();
    assert_eq!(got, vec![("a.example", 2), ("b.example", 1)]);
    assert!(
        store
            .seeds(&SeedFilter::default())
            .expect("seeds")
            .is_empty()
    );
}

#[test]
fn hostile_visitor_values_are_stored_truncated() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = common::config(dir.path());
    let store = Store::open(cfg.clone()).expect("open");
    let mut v = visit("not an ip\0; DROP TABLE seeds", model::now(), "");
    v.user_agent = "Mozilla/5.0 ".repeat(1000);
    v.referer = "é".repeat(MAX_VISIT_FIELD);
    v.path = format!("/\0{}", "a/".repeat(5000));
    let seeds = store.record_bait_visit(&v, &page_seeds()).expect("stored");
    let detail = store.seed(seeds[0].id).expect("seed").expect("found");
    let stored = detail.visit.expect("visit");
    assert_eq!(stored.ip, v.ip);
    assert_eq!(stored.user_agent.len(), MAX_VISIT_FIELD);
    assert!(v.user_agent.starts_with(&stored.user_agent));
    assert_eq!(stored.referer, "é".repeat(MAX_VISIT_FIELD / 2));
    assert!(stored.path.len() <= MAX_VISIT_FIELD && stored.path.starts_with("/\0a/"));
    let h = store.harvester(&v.ip).expect("harvester").expect("found");
    assert_eq!(h.harvester.last_user_agent, stored.user_agent);
    assert_eq!(h.user_agents[0].key, stored.user_agent);
    assert_eq!(store.harvester("").expect("empty ip"), None);
    assert_eq!(store.seed_by_address("\0@\0").expect("nul"), None);

    // A damaged row is an error to report, not a panic.
    damage(
        &cfg,
        &format!(
            "UPDATE seeds SET form = 'carrier pigeon' WHERE id = {}",
            seeds[1].id
        ),
    );
    assert!(matches!(
        store.seed(seeds[1].id),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        store.seeds(&SeedFilter::default()),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(store.seed(seeds[0].id).expect("intact row").is_some());
}

/// Runs `sql` on the store's database behind its back: the SQLite file, or the test's
/// PostgreSQL schema.
fn damage(cfg: &store::StoreConfig, sql: &str) {
    match &cfg.postgres {
        Some(_) => common::pg_client(cfg).batch_execute(sql).expect("damage"),
        None => {
            let db =
                rusqlite::Connection::open(cfg.data_dir.join("spamhattan.sqlite")).expect("db");
            db.execute_batch(sql).expect("damage");
        }
    }
}

#[test]
fn harvesters_with_the_same_latest_visit_still_page_apart() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let at = model::now();
    for ip in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        store
            .record_bait_visit(&visit(ip, at, "crawler"), &page_seeds())
            .expect("visit");
    }
    let mut seen = Vec::new();
    let mut before = None;
    for _ in 0..5 {
        let page = store.harvesters(1, before.clone()).expect("page");
        let Some(row) = page.first() else { break };
        seen.push(row.ip.clone());
        before = Some((row.last_visit, row.ip.clone()));
    }
    assert_eq!(seen, ["192.0.2.3", "192.0.2.2", "192.0.2.1"]);
}

#[test]
fn domain_report_sums_exact_domains_and_finds_the_first_mail_after_activation() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let now = model::now();
    let active = (now - Duration::days(3)).date();
    use RcptVerdict::Accepted;
    let peer = "192.0.2.1:25";
    let before = capture(
        &store,
        1,
        &[("a@x.trap.example", Accepted)],
        now - Duration::days(5),
        peer,
        "mx",
    );
    let first = capture(
        &store,
        2,
        &[("b@trap.example", Accepted)],
        now - Duration::days(2),
        peer,
        "mx",
    );
    let later = capture(
        &store,
        3,
        &[
            ("c@y.trap.example", Accepted),
            ("d@loose.example", Accepted),
        ],
        now - Duration::hours(1),
        peer,
        "mx",
    );
    for s in [&before, &first, &later] {
        save(&store, s, VerdictClass::Spam);
    }
    let configured = vec![model::TrapDomain {
        active_from: Some(active),
        ..model::TrapDomain::active("*.trap.example")
    }];
    let report = store.domain_report(&configured, 7, now).expect("report");
    assert_eq!(report.domains.len(), 2);
    let trap = &report.domains[0];
    assert_eq!(trap.pattern, "*.trap.example");
    assert_eq!(trap.messages, 3);
    let mut exact = trap.exact_domains.clone();
    exact.sort();
    assert_eq!(exact, ["trap.example", "x.trap.example", "y.trap.example"]);
    assert_eq!(trap.first_after_activation, Some(first.received_at));
    let start = active.midnight().assume_utc();
    assert_eq!(
        trap.first_after_activation_secs,
        Some((first.received_at - start).whole_seconds())
    );
    assert_eq!(report.domains[1].pattern, "loose.example");
    assert_eq!(report.domains[1].state, None);
    let short = store.domain_report(&configured, 1, now).expect("report");
    assert_eq!(short.domains[0].messages, 1, "the last day only");
}

#[test]
fn concurrent_visits_of_one_ip_are_all_counted() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let t0 = model::now() - Duration::hours(1);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                for i in 0..10 {
                    let at = t0 + Duration::seconds(t * 10 + i);
                    let agent = format!("crawler/{t}.{i}");
                    store
                        .record_bait_visit(&visit("198.51.100.7", at, &agent), &page_seeds())
                        .expect("visit");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let h = store
        .harvester("198.51.100.7")
        .expect("read")
        .expect("found");
    assert_eq!((h.harvester.visits, h.harvester.seeds), (40, 160));
    assert_eq!(h.harvester.first_visit, t0);
    assert_eq!(h.harvester.last_visit, t0 + Duration::seconds(39));
    assert_eq!(
        h.harvester.last_user_agent, "crawler/3.9",
        "the latest visit's"
    );
    assert_eq!(store.bait_visits_since(t0).expect("count"), 40);
}

#[test]
fn one_message_to_the_seeds_of_two_harvesters_counts_for_each() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let t0 = model::now() - Duration::hours(3);
    let first = store
        .record_bait_visit(&visit("192.0.2.1", t0, "a"), &page_seeds())
        .expect("visit");
    let second = store
        .record_bait_visit(&visit("192.0.2.2", t0, "b"), &page_seeds())
        .expect("visit");
    use RcptVerdict::Accepted;
    let rcpts = [
        (first[0].address.as_str(), Accepted),
        (first[1].address.as_str(), Accepted),
        (second[2].address.as_str(), Accepted),
    ];
    let s = capture(
        &store,
        1,
        &rcpts,
        t0 + Duration::hours(1),
        "192.0.2.9:25",
        "mx",
    );
    save(&store, &s, VerdictClass::Spam);
    save(&store, &s, VerdictClass::Spam);
    let counters = |ip: &str| {
        let h = store.harvester(ip).expect("read").expect("found").harvester;
        (h.messages, h.seeds_hit)
    };
    assert_eq!(counters("192.0.2.1"), (1, 2));
    assert_eq!(counters("192.0.2.2"), (1, 1));
    let other = capture(
        &store,
        2,
        &[(first[0].address.as_str(), Accepted)],
        t0 + Duration::hours(2),
        "192.0.2.9:25",
        "mx",
    );
    save(&store, &other, VerdictClass::Spam);
    assert_eq!(counters("192.0.2.1"), (2, 2), "a seed's second message");
    assert_eq!(store.seeds_of_sighting(s.id).expect("of").len(), 3);
}
