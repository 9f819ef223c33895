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
