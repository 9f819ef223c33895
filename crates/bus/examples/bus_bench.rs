//! Throughput of the bus on a real server: `publish_batch` of 4 KiB captures, then fetch + ack.
//!
//! ```sh
//! cargo run -p spamhattan-bus --example bus_bench -- [nats://127.0.0.1:4222] [messages] [batch]
//! ```
//!
//! Uses a stream of its own (`BUSBENCH_<pid>`, prefix `busbench<pid>`) on the given server and
//! deletes it (and its dead-letter stream) at the end. Prints one line per phase.
#![allow(clippy::unwrap_used)]

use bus::{BusConfig, BusMessage, Consumer, Publisher};
use model::{Envelope, MessageId, SensorTag, Sighting, SightingSource};
use std::time::{Duration, Instant};

const RAW_BYTES: usize = 4096;

fn capture(n: usize) -> BusMessage {
    let mut raw = format!("From: x@spam.example\r\nSubject: offer {n}\r\n\r\n").into_bytes();
    raw.resize(RAW_BYTES, b'x');
    let sighting = Sighting {
        id: uuid_like(n),
        message_id: MessageId::of(&raw),
        received_at: model::now(),
        source: SightingSource::Smtp,
        size: raw.len() as u64,
        session_id: uuid_like(n + 1_000_000_000),
        listener: "smtp".into(),
        peer: "192.0.2.7:40000".into(),
        local: "198.51.100.1:25".into(),
        helo: Some("spam.example".into()),
        tls: None,
        envelope: Envelope::default(),
        anomalies: vec![],
        timings: Default::default(),
        queue_id: "4XyZ1".into(),
        sensor: Some(SensorTag {
            id: "bench".into(),
            sector: String::new(),
            location: String::new(),
        }),
    };
    BusMessage::Capture { sighting, raw }
}

/// A distinct, time-ordered-looking UUID per `n`.
fn uuid_like(n: usize) -> uuid::Uuid {
    uuid::Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0000 | n as u128)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| bus::config::DEFAULT_URL.into());
    let total: usize = args.next().map_or(20_000, |a| a.parse().unwrap());
    let batch: usize = args.next().map_or(256, |a| a.parse().unwrap());
    let pid = std::process::id();
    let cfg = BusConfig {
        url,
        stream: format!("BUSBENCH_{pid}"),
        subject_prefix: format!("busbench{pid}"),
        ..BusConfig::default()
    };
    let client = bus::connect(&cfg, "bus-bench").await.unwrap();
    let consumer = Consumer::new(client.clone(), &cfg, "bench").await.unwrap();
    let publisher = Publisher::new(client.clone(), &cfg, "bench").unwrap();
    let msgs: Vec<BusMessage> = (0..total).map(capture).collect();
    let frame_bytes = bus::encode(&msgs[0]).len();

    let started = Instant::now();
    for chunk in msgs.chunks(batch) {
        for r in publisher.publish_batch(chunk).await {
            r.unwrap();
        }
    }
    report(
        "publish_batch",
        total,
        frame_bytes,
        started.elapsed(),
        batch,
    );

    // One batch, one message at a time: what pipelining saves.
    let single: Vec<BusMessage> = (total..total + 500).map(capture).collect();
    let started = Instant::now();
    for m in &single {
        publisher.publish_batch(std::slice::from_ref(m)).await[0]
            .as_ref()
            .unwrap();
    }
    report(
        "publish one by one",
        single.len(),
        frame_bytes,
        started.elapsed(),
        1,
    );

    let expected = total + single.len();
    let started = Instant::now();
    let mut got = 0;
    while got < expected {
        let deliveries = consumer.fetch(batch, Duration::from_secs(2)).await.unwrap();
        assert!(!deliveries.is_empty(), "stream ran dry at {got}");
        for d in &deliveries {
            d.payload.as_ref().unwrap();
        }
        // The acks of a batch concurrently, as a collector does after storing the batch.
        let acks = futures_util::future::join_all(deliveries.iter().map(|d| d.ack())).await;
        for a in acks {
            a.unwrap();
        }
        got += deliveries.len();
    }
    report(
        "fetch+decode+ack",
        got,
        frame_bytes,
        started.elapsed(),
        batch,
    );

    let js = bus::jetstream(client, &cfg);
    js.delete_stream(&cfg.stream).await.unwrap();
    js.delete_stream(cfg.dead_stream()).await.unwrap();
}

fn report(phase: &str, n: usize, frame_bytes: usize, took: Duration, batch: usize) {
    let secs = took.as_secs_f64();
    println!(
        "{phase:<22} {n:>6} msgs of {frame_bytes} B (batch {batch:>3}) in {secs:>6.2} s: \
         {:>8.0} msgs/s, {:>6.1} MiB/s",
        n as f64 / secs,
        (n * frame_bytes) as f64 / secs / (1024.0 * 1024.0),
    );
}
