//! Several collectors on one store: two handles (two collector processes on one data dir, or
//! two hosts on one PostgreSQL database) ingest the same redelivered stream at the same time.
//! Each sighting is stored once, gets one job, and is counted once for its sensor; an
//! attacker's NUL in the envelope does not fail the batch it lands in.

mod common;

use common::{message, sighting};
use model::{SensorTag, Sighting};
use store::{SightingQuery, Store};

fn from_sensor(raw: &[u8], id: u128) -> Sighting {
    let mut s = sighting(raw);
    s.id = uuid::Uuid::from_u128(id);
    s.sensor = Some(SensorTag {
        id: "bank-nl".into(),
        sector: "bank".into(),
        location: "NL".into(),
    });
    s
}

fn cfg(dir: &std::path::Path) -> store::StoreConfig {
    let mut cfg = common::config(dir);
    cfg.min_free_bytes = 0;
    cfg
}

#[test]
fn two_collectors_ingesting_one_stream_store_each_sighting_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = cfg(dir.path());
    let a = Store::open(cfg.clone()).expect("collector a");
    let b = Store::open(cfg).expect("collector b");
    // 300 sightings of 100 distinct messages (three arrivals each), all delivered to both.
    let stream: Vec<(Vec<u8>, Sighting)> = (0..300u128)
        .map(|i| {
            let raw = message(i as usize % 100, 7);
            let s = from_sensor(&raw, 1_000 + i);
            (raw, s)
        })
        .collect();
    let run = |store: Store, reversed: bool| {
        let mut items = stream.clone();
        if reversed {
            items.reverse();
        }
        std::thread::spawn(move || {
            let tickets: Vec<_> = items
                .into_iter()
                .map(|(raw, s)| store.ingest(raw, s))
                .collect();
            tickets
                .into_iter()
                .map(|t| t.wait().expect("ingest"))
                .filter(|c| !c.replayed)
                .count()
        })
    };
    let stored_a = run(a.clone(), false);
    let stored_b = run(b.clone(), true);
    let stored = stored_a.join().expect("a") + stored_b.join().expect("b");
    assert_eq!(stored, 300, "each sighting stored by exactly one collector");
    let all = a
        .sightings(&SightingQuery {
            limit: 10_000,
            ..Default::default()
        })
        .expect("sightings");
    let mut ids: Vec<_> = all.iter().map(|s| s.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((all.len(), ids.len()), (300, 300));
    assert_eq!(b.job_depth().expect("depth"), 300);
    let stats = b.stats().expect("stats");
    assert_eq!((stats.messages, stats.sightings), (100, 300));
    let sensors = a.sensors().expect("sensors");
    assert_eq!(sensors.len(), 1);
    assert_eq!(sensors[0].sightings, 300);
    for (raw, s) in stream.iter().step_by(37) {
        assert_eq!(
            b.raw(&s.message_id).expect("raw"),
            store::RawLookup::Found(raw.clone())
        );
    }
}

#[test]
fn a_nul_in_the_envelope_is_stored_and_does_not_fail_its_batch() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(cfg(dir.path())).expect("open");
    let hostile = message(1, 1);
    let mut s = from_sensor(&hostile, 1);
    s.envelope.mail_from.address = "evil\0@spam.example".into();
    s.peer = "192.0.2.1:25\0".into();
    let neighbour = message(2, 1);
    let tickets = [
        store.ingest(hostile.clone(), s.clone()),
        store.ingest(neighbour.clone(), from_sensor(&neighbour, 2)),
    ];
    for t in tickets {
        let c = t.wait().expect("both stored");
        assert!(!c.replayed);
    }
    let back = store.sighting(s.id).expect("read").expect("stored");
    // The record keeps exactly what the sensor saw.
    assert_eq!(back.envelope.mail_from.address, "evil\0@spam.example");
    assert_eq!(back.peer, "192.0.2.1:25\0");
}
