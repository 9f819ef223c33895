//! The campaign index and the alert outbox: what the clustering step writes, in one
//! transaction, and what readers and the delivery runner see afterwards.

mod common;

use common::{capture, message, open};
use model::campaign::CampaignProfile;
use model::{Alert, CampaignStatus, Severity, VerdictClass};
use store::{Attempt, ReportSave, Store, StoreError};

/// Captures and saves `n` analysed messages; returns their sightings' arrival times.
fn analysed(store: &Store, n: usize, class: VerdictClass) -> Vec<model::Timestamp> {
    let mut times = Vec::new();
    for i in 0..n {
        let raw = message(i, n);
        let c = capture(store, &raw);
        let s = store
            .sighting(c.sighting_id)
            .expect("read")
            .expect("sighting");
        let r = common::report(c.message_id, class, &[]);
        store
            .save_reports(&[ReportSave {
                job: None,
                sighting: &s,
                report: &r,
            }])
            .expect("save");
        times.push(s.received_at);
    }
    times
}

fn alert(key: &str, campaign: i64) -> Alert {
    Alert {
        id: uuid::Uuid::now_v7(),
        rule: "new-campaign".into(),
        severity: Severity::High,
        campaign: Some(campaign),
        campaign_uuid: None,
        title: "t".into(),
        summary: "s".into(),
        evidence: vec![],
        indicators: vec![],
        triggered_at: model::now(),
        created_at: model::now(),
        dedup_key: key.into(),
    }
}

#[test]
fn pending_reports_are_assigned_and_the_record_follows() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    analysed(&store, 3, VerdictClass::Spam);
    let id = store
        .cluster(|tx| -> Result<i64, StoreError> {
            let pending = tx.pending(10)?;
            assert_eq!(pending.len(), 3);
            let first = &pending[0];
            let id = tx.create(first.sighting.received_at, &CampaignProfile::default())?;
            tx.index_keys(id, &[11, 12])?;
            for (i, u) in pending.iter().enumerate() {
                let class = if i == 1 {
                    VerdictClass::Malware
                } else {
                    VerdictClass::Spam
                };
                tx.assign(
                    u.seq,
                    id,
                    u.sighting.received_at,
                    class,
                    &[("source_ip", format!("192.0.2.{}", i % 2))],
                )?;
            }
            assert_eq!(tx.candidates(&[12, 99], 16)?, vec![(id, 1)]);
            Ok(id)
        })
        .expect("step");
    let c = store.campaign(id).expect("read").expect("campaign");
    assert_eq!(c.messages, 3);
    assert_eq!(
        c.verdict,
        VerdictClass::Malware,
        "the most severe class wins"
    );
    assert_eq!(c.status, CampaignStatus::New);
    assert_eq!(c.distinct.get("source_ip"), Some(&2));
    assert_eq!(c.facets["source_ip"][0].count, 2);
    assert_eq!(c.rate.iter().map(|p| p.messages).sum::<u64>(), 3);
    assert_eq!(store.campaign_counts().expect("counts"), (1, 0, 0));
    let nothing = store
        .cluster(|tx| -> Result<usize, StoreError> { Ok(tx.pending(10)?.len()) })
        .expect("step");
    assert_eq!(nothing, 0, "clustered reports are not pending again");
}

#[test]
fn a_failed_step_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    analysed(&store, 1, VerdictClass::Spam);
    let r: Result<(), StoreError> = store.cluster(|tx| {
        let u = tx.pending(1)?.remove(0);
        let id = tx.create(u.sighting.received_at, &CampaignProfile::default())?;
        tx.assign(u.seq, id, u.sighting.received_at, VerdictClass::Spam, &[])?;
        Err(StoreError::Full {
            detail: "injected".into(),
        })
    });
    assert!(r.is_err());
    assert_eq!(store.campaign_counts().expect("counts"), (0, 0, 1));
}

#[test]
fn a_merge_moves_messages_keys_and_counts_and_keeps_history() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    analysed(&store, 4, VerdictClass::Phishing);
    let (a, b) = store
        .cluster(|tx| -> Result<(i64, i64), StoreError> {
            let p = tx.pending(10)?;
            let a = tx.create(p[0].sighting.received_at, &CampaignProfile::default())?;
            let b = tx.create(p[2].sighting.received_at, &CampaignProfile::default())?;
            tx.index_keys(a, &[1])?;
            tx.index_keys(b, &[1, 2])?;
            for (i, u) in p.iter().enumerate() {
                let id = if i < 2 { a } else { b };
                let ip = format!("198.51.100.{i}");
                tx.assign(
                    u.seq,
                    id,
                    u.sighting.received_at,
                    VerdictClass::Phishing,
                    &[("source_ip", ip)],
                )?;
            }
            let merged = CampaignProfile {
                messages: 4,
                ..CampaignProfile::default()
            };
            tx.merge(b, a, &merged, "cluster", "test", model::now())?;
            assert_eq!(tx.candidates(&[2], 16)?, vec![(a, 1)], "b's keys lead to a");
            assert_eq!(tx.profile(b)?, None, "a merged campaign is no candidate");
            assert_eq!(tx.profile(a)?.map(|p| p.messages), Some(4));
            Ok((a, b))
        })
        .expect("step");
    let ca = store.campaign(a).expect("read").expect("a");
    assert_eq!(ca.messages, 4);
    assert_eq!(ca.distinct.get("source_ip"), Some(&4));
    assert_eq!(store.campaign_members(a, 100).expect("members").len(), 4);
    let cb = store.campaign(b).expect("read").expect("b");
    assert_eq!(
        (cb.status, cb.merged_into),
        (CampaignStatus::Merged, Some(a))
    );
    let history = store.campaign_merges(a).expect("merges");
    assert_eq!((history[0].from, history[0].into), (b, a));
    assert_eq!(store.campaign_counts().expect("counts"), (1, 1, 0));
}

#[test]
fn keys_shared_by_too_many_campaigns_are_not_used() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    store
        .cluster(|tx| -> Result<(), StoreError> {
            for _ in 0..=store::MAX_POSTING + 5 {
                let id = tx.create(model::now(), &CampaignProfile::default())?;
                tx.index_keys(id, &[7])?;
            }
            let only = tx.create(model::now(), &CampaignProfile::default())?;
            tx.index_keys(only, &[8])?;
            let found = tx.candidates(&[7, 8], 16)?;
            assert_eq!(found, vec![(only, 1)], "the generic key 7 is skipped");
            Ok(())
        })
        .expect("step");
}

#[test]
fn alerts_are_raised_once_and_their_deliveries_tracked() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let receivers = vec!["hook".to_string(), "syslog".to_string()];
    let raised = store
        .cluster(|tx| -> Result<(bool, bool), StoreError> {
            let first = tx.raise(&alert("new-campaign/1", 1), &receivers)?;
            let again = tx.raise(&alert("new-campaign/1", 1), &receivers)?;
            Ok((first, again))
        })
        .expect("step");
    assert_eq!(raised, (true, false), "the dedup key suppresses the second");
    let due = store.due_deliveries(model::now(), 10).expect("due");
    assert_eq!(due.len(), 2);
    let later = model::now() + time::Duration::minutes(5);
    store
        .record_delivery(
            &due[0],
            &Attempt::Retry {
                at: later,
                error: "503".into(),
            },
        )
        .expect("record");
    store
        .record_delivery(&due[1], &Attempt::Delivered)
        .expect("record");
    assert!(
        store
            .due_deliveries(model::now(), 10)
            .expect("due")
            .is_empty()
    );
    assert_eq!(store.next_delivery().expect("next"), Some(later));
    let again = store
        .due_deliveries(later, 10)
        .expect("due at the retry time");
    assert_eq!((again.len(), again[0].attempts), (1, 1));
    let list = store.alerts(None, 10).expect("list");
    assert_eq!(list.len(), 1);
    let states: Vec<&str> = list[0]
        .deliveries
        .iter()
        .map(|d| d.state.as_str())
        .collect();
    assert_eq!(states.len(), 2);
    assert!(states.contains(&"delivered") && states.contains(&"pending"));
}

#[test]
fn a_delivery_is_claimed_by_one_of_two_outboxes_and_comes_back_after_its_lease() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = common::config(dir.path());
    let (a, b) = (
        store::Store::open(cfg.clone()).expect("a"),
        store::Store::open(cfg).expect("b"),
    );
    let receivers = vec!["hook".to_string()];
    a.cluster(|tx| -> Result<bool, StoreError> { tx.raise(&alert("k", 1), &receivers) })
        .expect("step");
    // Both outboxes read the same due delivery; only one may send it.
    let (seen_a, seen_b) = (
        a.due_deliveries(model::now(), 10).expect("due"),
        b.due_deliveries(model::now(), 10).expect("due"),
    );
    assert_eq!((seen_a.len(), seen_b.len()), (1, 1));
    let lease = std::time::Duration::from_secs(300);
    assert!(a.claim_delivery(&seen_a[0], lease).expect("claim"));
    assert!(!b.claim_delivery(&seen_b[0], lease).expect("claim"));
    assert!(
        b.due_deliveries(model::now(), 10).expect("due").is_empty(),
        "a claimed delivery is not due while its lease runs"
    );
    let after_lease = model::now() + time::Duration::seconds(301);
    assert_eq!(b.due_deliveries(after_lease, 10).expect("due").len(), 1);
    // A recorded outcome ends the lease; a stale read of the delivery cannot claim it again.
    a.record_delivery(
        &seen_a[0],
        &Attempt::Retry {
            at: model::now(),
            error: "503".into(),
        },
    )
    .expect("record");
    assert!(!b.claim_delivery(&seen_b[0], lease).expect("stale claim"));
    let fresh = b.due_deliveries(model::now(), 10).expect("due");
    assert_eq!((fresh.len(), fresh[0].attempts), (1, 1));
    assert!(b.claim_delivery(&fresh[0], lease).expect("claim"));
}

#[test]
fn failed_deliveries_can_be_queued_again() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let receivers = vec!["hook".to_string(), "siem".to_string()];
    store
        .cluster(|tx| -> Result<bool, StoreError> { tx.raise(&alert("k", 1), &receivers) })
        .expect("step");
    for d in store.due_deliveries(model::now(), 10).expect("due") {
        let failed = Attempt::Failed {
            error: "401 unauthorized".into(),
        };
        store.record_delivery(&d, &failed).expect("record");
    }
    assert!(
        store
            .due_deliveries(model::now(), 10)
            .expect("due")
            .is_empty()
    );
    assert_eq!(store.redeliver_failed(Some("siem")).expect("redeliver"), 1);
    let due = store.due_deliveries(model::now(), 10).expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].receiver.as_str(), due[0].attempts), ("siem", 1));
    assert_eq!(
        store.redeliver_failed(None).expect("redeliver"),
        1,
        "the hook's"
    );
}

#[test]
fn novelty_is_true_once_per_value() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let seen = store
        .cluster(|tx| -> Result<Vec<bool>, StoreError> {
            Ok(vec![
                tx.novel("attachment_kind", "iso", model::now())?,
                tx.novel("attachment_kind", "iso", model::now())?,
                tx.novel("lure", "iso", model::now())?,
            ])
        })
        .expect("step");
    assert_eq!(seen, vec![true, false, true]);
}

#[test]
fn facet_values_beyond_the_bound_are_counted_and_carried_by_a_merge() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let bound = store::MAX_FACET_VALUES;
    let (a, b) = store
        .cluster(|tx| -> Result<(i64, i64), StoreError> {
            let now = model::now();
            let a = tx.create(now, &CampaignProfile::default())?;
            let b = tx.create(now, &CampaignProfile::default())?;
            // No report row has seq -1: only the campaign side of `assign` is exercised.
            for i in 0..bound + 4 {
                let v = format!("v{i}");
                tx.assign(-1, a, now, VerdictClass::Spam, &[("helo", v)])?;
            }
            tx.assign(-1, a, now, VerdictClass::Spam, &[("helo", "v0".into())])?;
            tx.assign(-1, b, now, VerdictClass::Scam, &[("helo", "v0".into())])?;
            tx.assign(-1, b, now, VerdictClass::Scam, &[("helo", "x".into())])?;
            let inside = tx.campaign(a, now)?.expect("a inside the step");
            assert_eq!(inside.distinct.get("helo"), Some(&(bound as u64 + 4)));
            tx.merge(
                b,
                a,
                &CampaignProfile::default(),
                "analyst",
                "same kit",
                now,
            )?;
            let trap: u64 = tx.trap_rate(now, 1)?.iter().map(|p| p.messages).sum();
            assert_eq!(
                trap,
                bound as u64 + 7,
                "the trap's rate counts every message"
            );
            Ok((a, b))
        })
        .expect("step");
    let c = store.campaign(a).expect("read").expect("a");
    assert_eq!(c.messages, bound as u64 + 7);
    assert_eq!(
        c.verdict,
        VerdictClass::Scam,
        "the merge keeps the more severe verdict"
    );
    assert_eq!(
        c.distinct.get("helo"),
        Some(&(bound as u64 + 5)),
        "v0 was known, x is new (counted, not stored: the facet is full)"
    );
    let helo = &c.facets["helo"];
    assert_eq!(helo.len(), store::FACET_VALUES_SHOWN);
    assert_eq!((helo[0].value.as_str(), helo[0].count), ("v0", 3));
    assert_eq!(
        c.rate.iter().map(|p| p.messages).sum::<u64>(),
        bound as u64 + 7
    );
    let gone = store.campaign(b).expect("read").expect("b");
    assert!(gone.facets.is_empty() && gone.distinct.is_empty() && gone.rate.is_empty());
    let history = store.campaign_merges(b).expect("merges");
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].by.as_str(), history[0].detail.as_str()),
        ("analyst", "same kit")
    );
}

#[test]
fn merging_a_campaign_redirects_earlier_merges_into_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let (a, b, c) = store
        .cluster(|tx| -> Result<(i64, i64, i64), StoreError> {
            let now = model::now();
            let p = CampaignProfile::default();
            let (a, b, c) = (
                tx.create(now, &p)?,
                tx.create(now, &p)?,
                tx.create(now, &p)?,
            );
            tx.merge(c, b, &p, "cluster", "", now)?;
            tx.merge(b, a, &p, "cluster", "", now)?;
            assert!(tx.merge(a, a, &p, "cluster", "", now).is_err());
            Ok((a, b, c))
        })
        .expect("step");
    let merged = store.campaign(c).expect("read").expect("c");
    assert_eq!(
        merged.merged_into,
        Some(a),
        "c's earlier merge now leads to a"
    );
    assert_eq!(
        store.campaign(b).expect("read").expect("b").merged_into,
        Some(a)
    );
    let history: Vec<(i64, i64)> = store
        .campaign_merges(b)
        .expect("merges")
        .iter()
        .map(|m| (m.from, m.into))
        .collect();
    assert_eq!(history, vec![(c, b), (b, a)], "oldest first");
    assert_eq!(store.campaign_counts().expect("counts"), (1, 2, 0));
}

#[test]
fn campaigns_are_listed_paged_and_annotated() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let now = model::now();
    let hour = time::Duration::hours(1);
    let ids = store
        .cluster(|tx| -> Result<Vec<i64>, StoreError> {
            let mut ids = Vec::new();
            for (i, messages) in [1usize, 3, 2].into_iter().enumerate() {
                let at = now - hour * (3 - i as i32);
                let id = tx.create(at, &CampaignProfile::default())?;
                for _ in 0..messages {
                    tx.assign(-1, id, at, VerdictClass::Spam, &[])?;
                }
                ids.push(id);
            }
            let p = CampaignProfile::default();
            tx.set_profile(ids[0], &CampaignProfile { messages: 9, ..p })?;
            assert_eq!(tx.profile(ids[0])?.map(|p| p.messages), Some(9));
            Ok(ids)
        })
        .expect("step");
    let listed = |q: store::CampaignQuery| -> Vec<i64> {
        store
            .campaigns(&q)
            .expect("list")
            .iter()
            .map(|c| c.id)
            .collect()
    };
    let all = store::CampaignQuery::default();
    assert_eq!(
        listed(all.clone()),
        vec![ids[2], ids[1], ids[0]],
        "most recent first"
    );
    let busy = store::CampaignQuery {
        min_messages: 2,
        ..all.clone()
    };
    assert_eq!(listed(busy), vec![ids[2], ids[1]]);
    let recent = store::CampaignQuery {
        since: Some(now - hour * 2 + time::Duration::minutes(1)),
        ..all.clone()
    };
    assert_eq!(listed(recent), vec![ids[2]]);
    let page = store.campaigns_by_id(Some(ids[2]), 1, false).expect("page");
    assert_eq!(page.iter().map(|c| c.id).collect::<Vec<_>>(), vec![ids[1]]);
    assert!(
        store
            .annotate_campaign(ids[1], Some("kit A"), None)
            .expect("label")
    );
    assert!(
        store
            .annotate_campaign(ids[1], None, Some("seen in May"))
            .expect("notes")
    );
    assert!(
        !store
            .annotate_campaign(ids[2] + 1000, Some("x"), None)
            .expect("none")
    );
    let c = store.campaign(ids[1]).expect("read").expect("campaign");
    assert_eq!(
        (c.label.as_str(), c.notes.as_str()),
        ("kit A", "seen in May")
    );
    assert_eq!(
        c.first_seen,
        store.campaigns_by_id(None, 10, false).expect("all")[1].first_seen
    );
}

#[test]
fn alert_lists_filter_by_time_and_cut_long_errors() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let old = Alert {
        created_at: model::now() - time::Duration::days(2),
        ..alert("old", 1)
    };
    let receivers = vec!["Zed".to_string(), "alpha".to_string()];
    store
        .cluster(|tx| -> Result<(), StoreError> {
            assert!(tx.raise(&old, &receivers)?);
            assert!(tx.raise(&alert("new", 2), &[])?);
            Ok(())
        })
        .expect("step");
    let keys = |since| -> Vec<String> {
        store
            .alerts(since, 10)
            .expect("list")
            .into_iter()
            .map(|a| a.alert.dedup_key)
            .collect()
    };
    assert_eq!(keys(None), vec!["new", "old"], "newest first");
    assert_eq!(
        keys(Some(model::now() - time::Duration::days(1))),
        vec!["new"]
    );
    let due = store.due_deliveries(model::now(), 10).expect("due");
    assert_eq!(due.len(), 2, "the alert without receivers has no delivery");
    let long = "e".repeat(store::MAX_ERROR_CHARS + 50);
    store
        .record_delivery(&due[0], &Attempt::Failed { error: long })
        .expect("record");
    let list = store.alerts(None, 10).expect("list");
    let states = &list[1].deliveries;
    let receivers: Vec<&str> = states.iter().map(|d| d.receiver.as_str()).collect();
    assert_eq!(
        receivers,
        vec!["Zed", "alpha"],
        "byte order, as SQLite sorts"
    );
    let failed = states.iter().find(|d| d.state == "failed").expect("failed");
    assert_eq!(failed.last_error.chars().count(), store::MAX_ERROR_CHARS);
    assert!(list[0].deliveries.is_empty());
}

/// Two stores on one database (two collectors) cluster at once: each step must see what the
/// other committed, so every report lands in exactly one campaign.
#[test]
fn concurrent_steps_of_two_stores_do_not_cluster_a_report_twice() {
    let dir = tempfile::tempdir().expect("tmp");
    let cfg = common::config(dir.path());
    let first = Store::open(cfg.clone()).expect("open");
    analysed(&first, 6, VerdictClass::Spam);
    let second = Store::open(cfg).expect("open again");
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        for store in [&first, &second] {
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                store
                    .cluster(|tx| -> Result<(), StoreError> {
                        for u in tx.pending(100)? {
                            let at = u.sighting.received_at;
                            let id = tx.create(at, &CampaignProfile::default())?;
                            tx.assign(u.seq, id, at, VerdictClass::Spam, &[])?;
                        }
                        Ok(())
                    })
                    .expect("step");
            });
        }
    });
    assert_eq!(second.campaign_counts().expect("counts"), (6, 0, 0));
}

/// An analyst annotating a campaign while a step updates it: both finish (on PostgreSQL both
/// take the change clock before the campaign's row, so neither waits for the other in a cycle)
/// and neither write is lost.
#[test]
fn annotations_during_clustering_steps_neither_deadlock_nor_get_lost() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let id = store
        .cluster(|tx| -> Result<i64, StoreError> {
            tx.create(model::now(), &CampaignProfile::default())
        })
        .expect("step");
    const ROUNDS: usize = 40;
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            barrier.wait();
            for i in 0..ROUNDS {
                store
                    .cluster(|tx| -> Result<(), StoreError> {
                        let p = CampaignProfile {
                            messages: i as u64,
                            ..CampaignProfile::default()
                        };
                        tx.set_profile(id, &p)?;
                        tx.assign(-1, id, model::now(), VerdictClass::Spam, &[])
                    })
                    .expect("step");
            }
        });
        s.spawn(|| {
            barrier.wait();
            for i in 0..ROUNDS {
                let label = format!("label {i}");
                assert!(
                    store
                        .annotate_campaign(id, Some(&label), None)
                        .expect("annotate")
                );
            }
        });
    });
    let c = store.campaign(id).expect("read").expect("campaign");
    assert_eq!(c.messages, ROUNDS as u64);
    assert_eq!(c.label, format!("label {}", ROUNDS - 1));
}

/// One message with several values of a facet (several URLs, a repeated one) counts each like
/// a message of its own, and the bound holds within the message too.
#[test]
fn several_values_of_a_facet_in_one_message_are_counted_in_order() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let bound = store::MAX_FACET_VALUES;
    let id = store
        .cluster(|tx| -> Result<i64, StoreError> {
            let now = model::now();
            let id = tx.create(now, &CampaignProfile::default())?;
            for i in 0..bound - 1 {
                tx.assign(-1, id, now, VerdictClass::Spam, &[("url", format!("u{i}"))])?;
            }
            let facets = [
                ("url", "new-1".to_string()),
                ("helo", "h".to_string()),
                ("url", "new-2".to_string()),
                ("url", "new-1".to_string()),
                ("url", "u0".to_string()),
            ];
            tx.assign(-1, id, now, VerdictClass::Spam, &facets)?;
            Ok(id)
        })
        .expect("step");
    let all_values = store::CampaignQuery {
        facet_values: bound * 2,
        ..store::CampaignQuery::default()
    };
    let c = store.campaigns(&all_values).expect("list").remove(0);
    assert_eq!(c.id, id);
    assert_eq!(
        c.distinct.get("url"),
        Some(&(bound as u64 + 1)),
        "new-1 and new-2"
    );
    assert_eq!(c.distinct.get("helo"), Some(&1));
    let url = &c.facets["url"];
    assert_eq!(url.len(), bound, "stored values stop at the bound");
    let count = |v: &str| url.iter().find(|f| f.value == v).map(|f| f.count);
    assert_eq!(
        count("new-1"),
        Some(2),
        "stored first, in the last free place"
    );
    assert_eq!(count("u0"), Some(2));
    assert_eq!(
        count("new-2"),
        None,
        "beyond the bound: counted, not stored"
    );
}

/// A step sees its own writes (the PostgreSQL step keeps profiles, postings and the trap's
/// rate in memory and writes profiles at commit), and what it commits is the last of them.
#[test]
fn a_step_reads_its_own_writes_and_commits_the_last_profile() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    analysed(&store, 3, VerdictClass::Spam);
    let profile = |messages| CampaignProfile {
        messages,
        ..CampaignProfile::default()
    };
    let (a, b) = store
        .cluster(|tx| -> Result<(i64, i64), StoreError> {
            let pending = tx.pending(10)?;
            let at = pending[0].sighting.received_at;
            let before: u64 = tx.trap_rate(at, 1)?.iter().map(|p| p.messages).sum();
            let a = tx.create(at, &profile(1))?;
            tx.index_keys(a, &[21, 22])?;
            assert_eq!(tx.candidates(&[21, 22, 23], 16)?, vec![(a, 2)]);
            tx.index_keys(a, &[22, 23])?;
            assert_eq!(tx.candidates(&[21, 22, 23], 16)?, vec![(a, 3)]);
            tx.set_profile(a, &profile(2))?;
            tx.set_profile(a, &profile(3))?;
            assert_eq!(tx.profile(a)?.map(|p| p.messages), Some(3));
            for u in &pending {
                tx.assign(u.seq, a, u.sighting.received_at, VerdictClass::Spam, &[])?;
            }
            let after: u64 = tx.trap_rate(at, 1)?.iter().map(|p| p.messages).sum();
            assert_eq!(
                after,
                before + 3,
                "the step's assigns count in the trap's rate"
            );
            let seen = [
                ("lure", "invoice".to_string()),
                ("lure", "invoice".to_string()),
                ("yara", "invoice".to_string()),
            ];
            assert_eq!(tx.novel_all(&seen, at)?, vec![true, false, true]);
            assert_eq!(tx.novel_all(&seen, at)?, vec![false, false, false]);
            let b = tx.create(at, &profile(7))?;
            tx.index_keys(b, &[23])?;
            tx.merge(b, a, &profile(10), "cluster", "", at)?;
            assert_eq!(tx.profile(a)?.map(|p| p.messages), Some(10));
            assert_eq!(
                tx.profile(b)?,
                None,
                "a merged campaign has no live profile"
            );
            assert_eq!(tx.candidates(&[23], 16)?, vec![(a, 1)]);
            tx.set_profile(a, &profile(11))?;
            Ok((a, b))
        })
        .expect("step");
    let (pa, pb, cands) = store
        .cluster(|tx| -> Result<_, StoreError> {
            Ok((
                tx.profile(a)?,
                tx.profile(b)?,
                tx.candidates(&[21, 22, 23], 16)?,
            ))
        })
        .expect("next step");
    assert_eq!(
        pa.map(|p| p.messages),
        Some(11),
        "the last profile set is stored"
    );
    assert_eq!(pb, None);
    assert_eq!(cands, vec![(a, 3)]);
    assert_eq!(store.campaign(a).expect("read").expect("a").messages, 3);
}

/// A step's assigns show at once in the campaign record it reads back (count, first and last
/// seen, the most severe verdict, the hourly rate) and in the trap's rate; once committed they
/// add to what was stored, and a merge inside a later step carries them over. The PostgreSQL
/// step keeps these counts in memory and writes them once at commit (`pg/step.rs`).
#[test]
fn a_step_counts_its_assigns_and_commits_them_once() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    analysed(&store, 4, VerdictClass::Spam);
    let hour = time::Duration::hours(1);
    let (a, at, late) = store
        .cluster(|tx| -> Result<_, StoreError> {
            let pending = tx.pending(10)?;
            assert_eq!(pending.len(), 4);
            let at = pending[0].sighting.received_at;
            let late = at + hour;
            let before: u64 = tx.trap_rate(late, 2)?.iter().map(|p| p.messages).sum();
            let a = tx.create(at, &CampaignProfile::default())?;
            let placed = [
                (at, VerdictClass::Spam),
                (late, VerdictClass::Malware),
                (at, VerdictClass::Phishing),
            ];
            for (u, (when, class)) in pending.iter().zip(placed) {
                tx.assign(u.seq, a, when, class, &[])?;
            }
            let c = tx.campaign(a, late)?.expect("live");
            assert_eq!(c.messages, 3);
            assert_eq!((c.first_seen, c.last_seen), (at, late));
            assert_eq!(c.verdict, VerdictClass::Malware, "the most severe class");
            let rate: Vec<u64> = c.rate.iter().map(|p| p.messages).collect();
            assert_eq!(rate, vec![2, 1], "two in the first hour, one in the next");
            let after: u64 = tx.trap_rate(late, 2)?.iter().map(|p| p.messages).sum();
            assert_eq!(after, before + 3);
            Ok((a, at, late))
        })
        .expect("first step");
    let stored = store.campaign(a).expect("read").expect("a");
    assert_eq!(stored.messages, 3, "committed");
    assert_eq!((stored.first_seen, stored.last_seen), (at, late));
    assert_eq!(stored.verdict, VerdictClass::Malware);
    assert_eq!(stored.rate.iter().map(|p| p.messages).sum::<u64>(), 3);
    let later = late + hour;
    store
        .cluster(|tx| -> Result<_, StoreError> {
            let pending = tx.pending(10)?;
            assert_eq!(pending.len(), 1);
            let b = tx.create(later, &CampaignProfile::default())?;
            tx.assign(pending[0].seq, b, later, VerdictClass::Spam, &[])?;
            tx.merge(b, a, &CampaignProfile::default(), "cluster", "", later)?;
            let c = tx.campaign(a, later)?.expect("live");
            assert_eq!(c.messages, 4, "the merge carried b's uncommitted message");
            assert_eq!(c.last_seen, later);
            let trap: u64 = tx.trap_rate(later, 3)?.iter().map(|p| p.messages).sum();
            assert!(trap >= 4, "the trap counts every assign: {trap}");
            Ok(())
        })
        .expect("second step");
    let merged = store.campaign(a).expect("read").expect("a");
    assert_eq!(merged.messages, 4);
    assert_eq!((merged.first_seen, merged.last_seen), (at, later));
    assert_eq!(merged.verdict, VerdictClass::Malware);
    let rate: Vec<u64> = merged.rate.iter().map(|p| p.messages).collect();
    assert_eq!(rate, vec![2, 1, 1]);
}

/// Inside a step, postings the step posted count at once, a posting that fills up is dropped
/// at once, and the next step reads the same from the index.
#[test]
fn a_step_sees_the_postings_it_adds_and_the_next_step_reads_the_same() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let (a, during) = store
        .cluster(|tx| -> Result<_, StoreError> {
            assert!(tx.candidates(&[1, 2], 16)?.is_empty(), "a new index");
            let a = tx.create(model::now(), &CampaignProfile::default())?;
            tx.index_keys(a, &[1, 2])?;
            assert_eq!(tx.candidates(&[1, 2, 3], 16)?, vec![(a, 2)]);
            let b = tx.create(model::now(), &CampaignProfile::default())?;
            tx.index_keys(b, &[2, 3])?;
            assert_eq!(tx.candidates(&[1, 2, 3], 16)?, vec![(a, 2), (b, 2)]);
            for _ in 0..store::MAX_POSTING {
                let other = tx.create(model::now(), &CampaignProfile::default())?;
                tx.index_keys(other, &[2])?;
            }
            let during = tx.candidates(&[1, 2, 3], 16)?;
            assert_eq!(during, vec![(a, 1), (b, 1)], "key 2 is full now");
            Ok((a, during))
        })
        .expect("step");
    let after = store
        .cluster(|tx| tx.candidates(&[1, 2, 3], 16))
        .expect("next step");
    assert_eq!(after, during, "the index holds what the step saw");
    assert_eq!(after[0].0, a);
}

/// The record a step reads after each message (for the alert rules) is the one a fresh read
/// gives: the PostgreSQL step reads it once and keeps it current with its facet writes,
/// including values that climb into the shown ones and values past the stored bound.
#[test]
fn a_step_record_follows_its_facet_writes_as_a_fresh_read_would() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let shown = store::FACET_VALUES_SHOWN;
    let bound = store::MAX_FACET_VALUES;
    let now = model::now();
    let later = now + time::Duration::seconds(1);
    let (a, in_step) = store
        .cluster(|tx| -> Result<_, StoreError> {
            let a = tx.create(now, &CampaignProfile::default())?;
            let many: Vec<(&str, String)> = (0..shown + 10)
                .map(|i| ("url", format!("u{i:03}")))
                .collect();
            tx.assign(-1, a, now, VerdictClass::Spam, &many)?;
            let first = tx.campaign(a, now)?.expect("live");
            assert_eq!(first.facets["url"].len(), shown);
            assert_eq!(first.facets["url"][0].value, "u000", "ties by value");
            let last = format!("u{:03}", shown + 5);
            let climbers = [
                ("url", last.clone()),
                ("url", "u059".to_string()),
                ("helo", "h".to_string()),
            ];
            tx.assign(-1, a, later, VerdictClass::Malware, &climbers)?;
            let past_bound: Vec<(&str, String)> = (0..bound + 3)
                .map(|i| ("domain", format!("d{i}")))
                .collect();
            tx.assign(-1, a, later, VerdictClass::Spam, &past_bound)?;
            let c = tx.campaign(a, later)?.expect("live");
            let url: Vec<&str> = c.facets["url"].iter().map(|v| v.value.as_str()).collect();
            assert_eq!(&url[..2], &[last.as_str(), "u059"], "seen twice, so first");
            assert_eq!(url.len(), shown);
            assert_eq!(c.distinct.get("domain"), Some(&(bound as u64 + 3)));
            assert_eq!(c.facets["domain"].len(), shown);
            assert_eq!(c.messages, 3);
            Ok((a, c))
        })
        .expect("step");
    let fresh = store.campaign(a).expect("read").expect("a");
    assert_eq!(in_step.facets, fresh.facets);
    assert_eq!(in_step.distinct, fresh.distinct);
    assert_eq!(
        (in_step.messages, in_step.first_seen, in_step.last_seen),
        (fresh.messages, fresh.first_seen, fresh.last_seen)
    );
    assert_eq!(in_step.verdict, fresh.verdict);
    assert_eq!(in_step.rate, fresh.rate);
}

/// A value a campaign already holds is counted in the step's memory on PostgreSQL; a merge in
/// the same step, and the commit, must still carry every count.
#[test]
fn repeated_facet_values_are_counted_through_a_merge_and_the_commit() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = open(dir.path());
    let now = model::now();
    let later = now + time::Duration::seconds(5);
    let url = |v: &str| [("url", v.to_string())];
    let into = store
        .cluster(|tx| -> Result<_, StoreError> {
            let a = tx.create(now, &CampaignProfile::default())?;
            let b = tx.create(now, &CampaignProfile::default())?;
            for _ in 0..3 {
                tx.assign(-1, a, now, VerdictClass::Spam, &url("x"))?;
            }
            tx.assign(-1, b, later, VerdictClass::Spam, &url("x"))?;
            tx.assign(-1, b, later, VerdictClass::Spam, &url("y"))?;
            tx.assign(-1, b, later, VerdictClass::Spam, &url("y"))?;
            tx.merge(a, b, &CampaignProfile::default(), "cluster", "", later)?;
            tx.assign(-1, b, later, VerdictClass::Spam, &url("x"))?;
            let c = tx.campaign(b, later)?.expect("live");
            let x = c.facets["url"].iter().find(|v| v.value == "x").expect("x");
            assert_eq!(x.count, 5, "3 from a, 2 in b");
            assert_eq!((x.first_seen, x.last_seen), (now, later));
            Ok(b)
        })
        .expect("step");
    let c = store.campaign(into).expect("read").expect("b");
    let count = |v: &str| {
        c.facets["url"]
            .iter()
            .find(|f| f.value == v)
            .map(|f| f.count)
    };
    assert_eq!((count("x"), count("y")), (Some(5), Some(2)));
    assert_eq!(c.distinct.get("url"), Some(&2));
    assert_eq!(c.messages, 7);
}
