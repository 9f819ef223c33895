//! Intel reads for the feeds: change order, campaign links through clustering and merges,
//! stable UUIDs, file facts, and the installation secret and serial.

mod common;

use common::{capture, message, open};
use model::VerdictClass;
use model::campaign::CampaignProfile;
use model::report::IndicatorKind;
use store::{IntelCursor, ReportSave, Store, StoreError};

const ALL: [IndicatorKind; 5] = [
    IndicatorKind::Url,
    IndicatorKind::Domain,
    IndicatorKind::Ip,
    IndicatorKind::Email,
    IndicatorKind::Sha256,
];

fn save(store: &Store, i: usize, indicators: &[(IndicatorKind, &str)]) {
    let raw = message(i, 100);
    let c = capture(store, &raw);
    let s = store
        .sighting(c.sighting_id)
        .expect("read")
        .expect("sighting");
    let r = common::report(c.message_id, VerdictClass::Malware, indicators);
    store
        .save_reports(&[ReportSave {
            job: None,
            sighting: &s,
            report: &r,
        }])
        .expect("save");
}

fn cursor(row: &model::intel::IndicatorRow) -> IntelCursor {
    IntelCursor {
        at: row.changed_at.unix_timestamp_nanos() as i64,
        id: row.id,
    }
}

/// Clusters every pending report into one new campaign; returns its id.
fn cluster_all(store: &Store) -> i64 {
    store
        .cluster(|tx| -> Result<i64, StoreError> {
            let pending = tx.pending(100)?;
            let id = tx.create(pending[0].sighting.received_at, &CampaignProfile::default())?;
            for u in &pending {
                tx.assign(
                    u.seq,
                    id,
                    u.sighting.received_at,
                    VerdictClass::Malware,
                    &[("family", "locky".to_string())],
                )?;
            }
            Ok(id)
        })
        .expect("cluster")
}

#[test]
fn indicators_page_in_change_order_with_a_strict_cursor() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    save(
        &store,
        1,
        &[
            (IndicatorKind::Domain, "a.example"),
            (IndicatorKind::Url, "http://a.example/x"),
        ],
    );
    save(
        &store,
        2,
        &[
            (IndicatorKind::Domain, "b.example"),
            (IndicatorKind::Md5, "00"),
        ],
    );
    let all = store.intel_indicators(None, &ALL, 100).expect("page");
    let values: Vec<_> = all.iter().map(|r| r.value.as_str()).collect();
    assert_eq!(values.len(), 3, "md5 is not asked for: {values:?}");
    assert!(
        all.windows(2).all(|w| cursor(&w[0]) < cursor(&w[1])),
        "strictly increasing"
    );
    let rest = store
        .intel_indicators(Some(cursor(&all[0])), &ALL, 100)
        .expect("page");
    assert_eq!(rest, all[1..].to_vec());
    let none = store
        .intel_indicators(Some(cursor(&all[2])), &ALL, 100)
        .expect("page");
    assert!(none.is_empty());
    // UUIDs: v4, last nibble free, and found again.
    for r in &all {
        assert_eq!(r.uuid.get_version_num(), 4);
        assert_eq!(r.uuid.as_bytes()[15] & 0x0f, 0);
        assert_eq!(
            store
                .intel_indicator_by_uuid(r.uuid)
                .expect("read")
                .as_ref(),
            Some(r)
        );
    }
}

#[test]
fn a_new_sighting_moves_an_indicator_to_the_end_and_keeps_its_uuid() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    save(&store, 1, &[(IndicatorKind::Domain, "a.example")]);
    save(&store, 2, &[(IndicatorKind::Domain, "b.example")]);
    let before = store.intel_indicators(None, &ALL, 10).expect("page");
    save(&store, 3, &[(IndicatorKind::Domain, "a.example")]);
    let after = store.intel_indicators(None, &ALL, 10).expect("page");
    assert_eq!(after.len(), 2);
    assert_eq!(after[1].value, "a.example", "changed last");
    assert_eq!(after[1].uuid, before[0].uuid, "same indicator, same id");
    assert_eq!(after[1].count, 2);
    assert!(after[1].changed_at > before[1].changed_at);
}

#[test]
fn clustering_links_indicators_and_merges_move_them() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    save(&store, 1, &[(IndicatorKind::Domain, "a.example")]);
    let a = cluster_all(&store);
    save(&store, 2, &[(IndicatorKind::Domain, "b.example")]);
    let b = cluster_all(&store);
    let mut seen = Vec::new();
    store
        .for_each_campaign_indicator(Some(a), None, &ALL, &mut |r| {
            seen.push(r.value);
            Ok(())
        })
        .expect("scan");
    assert_eq!(seen, vec!["a.example"]);
    let brief = store.intel_campaign(a).expect("read").expect("campaign");
    assert_eq!(brief.families, vec!["locky"]);
    assert_eq!(brief.verdict, VerdictClass::Malware);
    assert_eq!(
        store
            .intel_campaign_by_uuid(brief.uuid)
            .expect("read")
            .map(|b| b.id),
        Some(a)
    );
    let live = store.intel_campaigns(None, 10).expect("list");
    assert_eq!(live.iter().map(|c| c.id).collect::<Vec<_>>(), vec![a, b]);

    let since = store.intel_indicators(None, &ALL, 10).expect("page");
    store
        .cluster(|tx| -> Result<(), StoreError> {
            tx.merge(
                b,
                a,
                &CampaignProfile::default(),
                "analyst",
                "test",
                model::now(),
            )
        })
        .expect("merge");
    let moved = store
        .intel_indicators(Some(cursor(since.last().expect("rows"))), &ALL, 10)
        .expect("page");
    assert_eq!(moved.len(), 1, "the merged campaign's indicator changed");
    assert_eq!(moved[0].campaign, Some(a));
    let live = store.intel_campaigns(None, 10).expect("list");
    assert_eq!(
        live.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![a],
        "merged ones are not live"
    );
    let mut none = 0;
    store
        .for_each_campaign_indicator(None, None, &ALL, &mut |_| {
            none += 1;
            Ok(())
        })
        .expect("scan");
    assert_eq!(none, 0, "every indicator has a campaign");
}

/// Within one step, an indicator two reports share goes to the campaign of the first report
/// placed (the PostgreSQL step writes a step's assigns together at commit: `pg/step.rs`), and
/// the reports are members of their own campaigns.
#[test]
fn an_indicator_shared_within_a_step_goes_to_the_first_campaign() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    save(&store, 1, &[(IndicatorKind::Domain, "shared.example")]);
    save(
        &store,
        2,
        &[
            (IndicatorKind::Domain, "shared.example"),
            (IndicatorKind::Domain, "own.example"),
        ],
    );
    let (x, y) = store
        .cluster(|tx| -> Result<(i64, i64), StoreError> {
            let pending = tx.pending(10)?;
            assert_eq!(pending.len(), 2);
            let at = pending[0].sighting.received_at;
            let x = tx.create(at, &CampaignProfile::default())?;
            let y = tx.create(at, &CampaignProfile::default())?;
            tx.assign(pending[0].seq, x, at, VerdictClass::Malware, &[])?;
            tx.assign(pending[1].seq, y, at, VerdictClass::Malware, &[])?;
            Ok((x, y))
        })
        .expect("step");
    let campaign_of = |value: &str| {
        let all = store.intel_indicators(None, &ALL, 10).expect("page");
        all.into_iter()
            .find(|r| r.value == value)
            .and_then(|r| r.campaign)
    };
    assert_eq!(campaign_of("shared.example"), Some(x), "the first report's");
    assert_eq!(campaign_of("own.example"), Some(y));
    assert_eq!(store.campaign_members(x, 10).expect("members").len(), 1);
    assert_eq!(store.campaign_members(y, 10).expect("members").len(), 1);
    assert_eq!(store.campaign(y).expect("read").expect("y").messages, 1);
}

#[test]
fn the_secret_is_made_once_and_serials_always_grow() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let s = store.feed_secret().expect("secret");
    assert_eq!(store.feed_secret().expect("secret"), s);
    assert_ne!(s, [0; 32]);
    assert_eq!(store.feed_state("submit:x").expect("read"), None);
    store.set_feed_state("submit:x", b"abc").expect("set");
    assert_eq!(
        store.feed_state("submit:x").expect("read"),
        Some(b"abc".to_vec())
    );
    assert!(store.set_feed_state("secret", b"mine").is_err(), "reserved");
    let a = store.next_feed_serial().expect("serial");
    let b = store.next_feed_serial().expect("serial");
    assert!(b > a && a >= 2_026_000_000, "{a} {b}");
}

/// Two stores on one database (two collectors, or `serve` and a CLI on one directory) make the
/// secret once between them and never hand out the same serial, even when asked at once.
#[test]
fn two_stores_share_the_secret_and_never_repeat_a_serial() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = common::config(dir.path());
    let stores = [
        Store::open(cfg.clone()).expect("open"),
        Store::open(cfg).expect("open"),
    ];
    let (secrets, mut serials) = std::thread::scope(|scope| {
        let secrets: Vec<_> = stores
            .iter()
            .map(|s| scope.spawn(|| s.feed_secret().expect("secret")))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        let serials: Vec<u32> = (0..4)
            .map(|i| {
                let s = &stores[i % 2];
                scope.spawn(move || {
                    (0..25)
                        .map(|_| s.next_feed_serial().expect("serial"))
                        .collect::<Vec<_>>()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect();
        (secrets, serials)
    });
    assert_eq!(secrets[0], secrets[1], "one secret for both");
    assert_eq!(stores[1].feed_secret().expect("secret"), secrets[0]);
    serials.sort_unstable();
    serials.dedup();
    assert_eq!(serials.len(), 100, "no serial handed out twice");
}
