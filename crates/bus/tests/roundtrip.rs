//! Sensors publish, collectors sharing one durable consumer receive: each message once, de-dup
//! by sighting id, redelivery after `ack_wait` or a nak.
#![allow(clippy::unwrap_used)]

mod common;

use bus::{BusMessage, Consumer, Publisher};
use common::{NatsServer, capture, ids, session, stored};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const BATCH: usize = 256;

/// 400 captures and 100 sessions from `sensor`.
fn traffic(sensor: &str) -> Vec<BusMessage> {
    (0..500)
        .map(|i| {
            if i % 5 == 4 {
                session()
            } else {
                capture(sensor, i, 512)
            }
        })
        .collect()
}

async fn publish_all(publisher: &Publisher, msgs: &[BusMessage]) {
    for chunk in msgs.chunks(BATCH) {
        for (i, r) in publisher.publish_batch(chunk).await.into_iter().enumerate() {
            let ack = r.unwrap_or_else(|e| panic!("message {i}: {e}"));
            assert!(!ack.duplicate);
        }
    }
}

/// Fetches and acks until `expected` messages were received by all collectors together.
async fn drain(consumer: Consumer, seen: Arc<AtomicUsize>, expected: usize) -> Vec<String> {
    let mut got = Vec::new();
    while seen.load(Ordering::SeqCst) < expected {
        for d in consumer
            .fetch(32, Duration::from_millis(200))
            .await
            .unwrap()
        {
            let msg = d.payload.as_ref().unwrap();
            got.push(bus::msg_id(msg));
            d.ack().await.unwrap();
            seen.fetch_add(1, Ordering::SeqCst);
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_share_one_durable_and_get_each_message_once() {
    let server = NatsServer::start();
    let cfg = server.config();
    let c1 = Consumer::new(
        bus::connect(&cfg, "collector-1").await.unwrap(),
        &cfg,
        "collectors",
    )
    .await
    .unwrap();
    let c2 = Consumer::new(
        bus::connect(&cfg, "collector-2").await.unwrap(),
        &cfg,
        "collectors",
    )
    .await
    .unwrap();
    let mut sent = Vec::new();
    for sensor in ["sensor-a", "sensor-b"] {
        let client = bus::connect(&cfg, sensor).await.unwrap();
        let publisher = Publisher::new(client, &cfg, sensor).unwrap();
        let msgs = traffic(sensor);
        publish_all(&publisher, &msgs).await;
        sent.extend(ids(&msgs));
    }
    assert_eq!(sent.len(), 1000);

    let seen = Arc::new(AtomicUsize::new(0));
    let work = async {
        let t1 = tokio::spawn(drain(c1.clone(), seen.clone(), sent.len()));
        let t2 = tokio::spawn(drain(c2.clone(), seen.clone(), sent.len()));
        (t1.await.unwrap(), t2.await.unwrap())
    };
    let (got1, got2) = tokio::time::timeout(Duration::from_secs(60), work)
        .await
        .expect("all messages within 60 s");
    assert!(
        !got1.is_empty() && !got2.is_empty(),
        "both collectors worked"
    );
    let mut all: Vec<String> = got1.into_iter().chain(got2).collect();
    assert_eq!(all.len(), sent.len(), "no message delivered twice");
    all.sort();
    sent.sort();
    assert_eq!(all, sent);

    // Work-queue retention: acked means gone, and nothing is left to deliver.
    let client = bus::connect(&cfg, "check").await.unwrap();
    assert_eq!(stored(&client, &cfg.stream).await, 0);
    assert!(
        c1.fetch(10, Duration::from_millis(300))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_republished_message_is_stored_once() {
    let server = NatsServer::start();
    let cfg = server.config();
    let client = bus::connect(&cfg, "collector").await.unwrap();
    let consumer = Consumer::new(client.clone(), &cfg, "collectors")
        .await
        .unwrap();
    let publisher = Publisher::new(client.clone(), &cfg, "sensor-a").unwrap();
    let msg = capture("sensor-a", 1, 4096);
    let same_content = capture("sensor-a", 1, 4096);

    let first = publisher.publish_batch(std::slice::from_ref(&msg)).await;
    let again = publisher.publish_batch(&[msg.clone(), same_content]).await;
    let first = first[0].as_ref().unwrap();
    let (dup, other) = (again[0].as_ref().unwrap(), again[1].as_ref().unwrap());
    assert!(!first.duplicate);
    assert!(dup.duplicate && dup.sequence == first.sequence, "{dup:?}");
    // Same raw bytes, another arrival: a new sighting, stored.
    assert!(!other.duplicate);
    assert_eq!(stored(&client, &cfg.stream).await, 2);

    let got = consumer
        .fetch(10, Duration::from_millis(500))
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    for d in &got {
        d.ack().await.unwrap();
    }
}

#[tokio::test]
async fn an_unacked_delivery_comes_back_after_ack_wait() {
    let server = NatsServer::start();
    let cfg = bus::BusConfig {
        ack_wait_secs: 1,
        ..server.config()
    };
    let client = bus::connect(&cfg, "collector").await.unwrap();
    let consumer = Consumer::new(client.clone(), &cfg, "collectors")
        .await
        .unwrap();
    let publisher = Publisher::new(client, &cfg, "sensor-a").unwrap();
    let msg = capture("sensor-a", 7, 100);
    publisher.publish_batch(std::slice::from_ref(&msg)).await[0]
        .as_ref()
        .unwrap();

    let first = consumer.fetch(1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].delivered, 1);
    // Not acked: the server's ack_wait timer hands it out again; the fetch waits for it.
    let again = consumer.fetch(1, Duration::from_secs(10)).await.unwrap();
    assert_eq!(again.len(), 1, "redelivered within the fetch's wait");
    assert_eq!(again[0].delivered, 2);
    assert_eq!(again[0].stream_sequence, first[0].stream_sequence);
    assert_eq!(again[0].payload.as_ref().unwrap(), &msg);
    // A nak without delay hands it out at once.
    again[0].nak(Duration::ZERO).await.unwrap();
    let third = consumer.fetch(1, Duration::from_secs(10)).await.unwrap();
    assert_eq!(third[0].delivered, 3);
    third[0].ack().await.unwrap();
    assert!(
        consumer
            .fetch(1, Duration::from_millis(1500))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn fetch_returns_what_is_there_without_waiting_for_a_full_batch() {
    let server = NatsServer::start();
    let cfg = server.config();
    let client = bus::connect(&cfg, "collector").await.unwrap();
    let consumer = Consumer::new(client.clone(), &cfg, "collectors")
        .await
        .unwrap();
    let publisher = Publisher::new(client, &cfg, "sensor-a").unwrap();
    let msgs: Vec<_> = (0..3).map(|i| capture("sensor-a", i, 100)).collect();
    assert!(
        publisher
            .publish_batch(&msgs)
            .await
            .iter()
            .all(Result::is_ok)
    );
    let started = std::time::Instant::now();
    let got = consumer.fetch(100, Duration::from_secs(20)).await.unwrap();
    assert_eq!(got.len(), 3);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let got: HashSet<_> = got.iter().map(|d| d.sensor.clone().unwrap()).collect();
    assert_eq!(got, HashSet::from(["sensor-a".to_string()]));
}

#[tokio::test]
async fn streams_are_declared_idempotently_and_foreign_ones_refused() {
    let server = NatsServer::start();
    let cfg = server.config();
    let client = bus::connect(&cfg, "collector").await.unwrap();
    let js = bus::jetstream(client.clone(), &cfg);
    bus::ensure_streams(&js, &cfg).await.unwrap();
    bus::ensure_streams(&js, &cfg).await.unwrap();
    // A limit change is applied to the existing stream.
    let bigger = bus::BusConfig {
        max_bytes: 1 << 30,
        ..cfg.clone()
    };
    bus::ensure_streams(&js, &bigger).await.unwrap();
    let mut s = js.get_stream(&cfg.stream).await.unwrap();
    assert_eq!(s.info().await.unwrap().config.max_bytes, 1 << 30);

    // Another stream under our name with other subjects: a clear error, nothing changed.
    let other = bus::BusConfig {
        stream: "OTHER".into(),
        ..cfg.clone()
    };
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "OTHER".into(),
        subjects: vec!["unrelated.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let err = bus::ensure_streams(&js, &other).await.unwrap_err();
    assert!(matches!(err, bus::BusError::StreamConflict { .. }), "{err}");
    assert!(err.to_string().contains("unrelated.>"), "{err}");
}

#[tokio::test]
async fn a_sensor_cannot_publish_before_the_collector_made_the_stream() {
    let server = NatsServer::start();
    let cfg = server.config();
    let publisher = Publisher::new(
        bus::connect(&cfg, "sensor").await.unwrap(),
        &cfg,
        "sensor-a",
    )
    .unwrap();
    let result = publisher.publish_batch(&[capture("sensor-a", 1, 10)]).await;
    let err = result[0].as_ref().unwrap_err();
    assert!(matches!(err, bus::BusError::NoStream { .. }), "{err}");
    assert!(err.to_string().contains("start a collector first"), "{err}");
}

#[tokio::test]
async fn a_sensor_refuses_to_publish_another_sensors_sighting() {
    let server = NatsServer::start();
    let cfg = server.config();
    let client = bus::connect(&cfg, "sensor").await.unwrap();
    Consumer::new(client.clone(), &cfg, "collectors")
        .await
        .unwrap();
    let publisher = Publisher::new(client.clone(), &cfg, "sensor-a").unwrap();
    let results = publisher
        .publish_batch(&[capture("sensor-b", 1, 10), capture("sensor-a", 2, 10)])
        .await;
    assert!(matches!(
        results[0],
        Err(bus::BusError::SensorMismatch { .. })
    ));
    assert!(results[1].is_ok(), "the rest of the batch goes on");
    assert_eq!(stored(&client, &cfg.stream).await, 1);
}

#[tokio::test]
async fn a_collector_restarted_with_new_settings_updates_the_shared_consumer() {
    let server = NatsServer::start();
    let cfg = server.config();
    let client = bus::connect(&cfg, "collector").await.unwrap();
    Consumer::new(client.clone(), &cfg, "collectors")
        .await
        .unwrap();
    let changed = bus::BusConfig {
        ack_wait_secs: 5,
        max_ack_pending: 10,
        ..cfg.clone()
    };
    Consumer::new(client.clone(), &changed, "collectors")
        .await
        .unwrap();
    let js = bus::jetstream(client, &cfg);
    let stream = js.get_stream(&cfg.stream).await.unwrap();
    let info = stream.consumer_info("collectors").await.unwrap();
    assert_eq!(info.config.ack_wait, Duration::from_secs(5));
    assert_eq!(info.config.max_ack_pending, 10);
}

#[tokio::test]
async fn a_second_consumer_name_on_the_work_queue_is_refused() {
    let server = NatsServer::start();
    let cfg = server.config();
    let client = bus::connect(&cfg, "collector").await.unwrap();
    Consumer::new(client.clone(), &cfg, "collectors")
        .await
        .unwrap();
    let err = Consumer::new(client, &cfg, "someone-else")
        .await
        .unwrap_err();
    assert!(matches!(err, bus::BusError::Setup { .. }), "{err}");
    assert!(err.to_string().contains("consumer someone-else"), "{err}");
}
