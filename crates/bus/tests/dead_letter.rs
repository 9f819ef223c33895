//! Bad input on the bus: each refused payload is filed in the dead-letter stream with its
//! reason and origin, terminated on the main stream, and the collector goes on.
#![allow(clippy::unwrap_used)]

mod common;

use bus::{BusMessage, Consumer, headers};
use common::{NatsServer, capture, stored};
use std::time::Duration;

/// Publishes `payload` on `subject` as anyone could, bypassing the publisher's checks.
async fn publish_raw(js: &async_nats::jetstream::Context, subject: &str, payload: Vec<u8>) {
    js.publish(subject.to_string(), payload.into())
        .await
        .unwrap()
        .await
        .unwrap();
}

#[tokio::test]
async fn refused_payloads_are_dead_lettered_with_their_reason_and_the_next_is_stored() {
    let server = NatsServer::start();
    let cfg = server.config();
    let client = bus::connect(&cfg, "collector").await.unwrap();
    let consumer = Consumer::new(client.clone(), &cfg, "collectors")
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let subjects = cfg.subjects();

    let good = capture("sensor-a", 1, 2048);
    let frame = bus::encode(&good);
    let posing = bus::encode(&capture("sensor-b", 2, 100));
    let cases: Vec<(String, Vec<u8>, &str)> = vec![
        (
            subjects.capture("sensor-a"),
            frame[..frame.len() / 2].to_vec(),
            "size",
        ),
        (
            subjects.capture("sensor-a"),
            frame[..20].to_vec(),
            "truncated",
        ),
        (subjects.capture("sensor-a"), vec![0x9f; 300], "foreign"),
        (
            subjects.capture("sensor-a"),
            br#"{"id": "x"}"#.to_vec(),
            "foreign",
        ),
        (subjects.capture("sensor-a"), posing, "sensor-mismatch"),
        (subjects.session("sensor-a"), frame.clone(), "kind-mismatch"),
    ];
    for (subject, payload, _) in &cases {
        publish_raw(&js, subject, payload.clone()).await;
    }
    publish_raw(&js, &subjects.capture("sensor-a"), frame.clone()).await;

    let mut stored_ok = Vec::new();
    let mut reasons = Vec::new();
    while stored_ok.is_empty() {
        let batch = consumer.fetch(3, Duration::from_secs(2)).await.unwrap();
        assert!(!batch.is_empty(), "ran dry before the good message");
        for d in batch {
            match &d.payload {
                Ok(msg) => {
                    stored_ok.push(msg.clone());
                    d.ack().await.unwrap();
                }
                Err(e) => {
                    reasons.push(e.token());
                    d.dead_letter(&e.to_string()).await.unwrap();
                }
            }
        }
    }
    let expected: Vec<&str> = cases.iter().map(|c| c.2).collect();
    assert_eq!(reasons, expected);
    assert_eq!(stored_ok, vec![good]);
    assert_eq!(
        stored(&client, &cfg.stream).await,
        0,
        "all terminated or acked"
    );

    // Each dead letter: original payload, reason subject and headers.
    let mut dead = js.get_stream(cfg.dead_stream()).await.unwrap();
    assert_eq!(
        dead.info().await.unwrap().state.messages,
        cases.len() as u64
    );
    for (seq, (subject, payload, token)) in (1..).zip(&cases) {
        let m = dead.get_raw_message(seq).await.unwrap();
        assert_eq!(m.subject.as_str(), subjects.dead(token));
        assert_eq!(&m.payload[..], &payload[..]);
        let header = |name: &str| m.headers.get(name).unwrap().as_str().to_owned();
        assert!(header(headers::HEADER_REASON).starts_with(&format!("{token}: ")));
        assert_eq!(header(headers::HEADER_SUBJECT), *subject);
        assert_eq!(header(headers::HEADER_SENSOR), "sensor-a");
        assert_eq!(header(headers::HEADER_SEQUENCE), seq.to_string());
    }
    let mismatch = dead.get_raw_message(5).await.unwrap();
    assert_eq!(
        mismatch
            .headers
            .get(headers::HEADER_REASON)
            .unwrap()
            .as_str(),
        "sensor-mismatch: sensor sensor-a published a sighting tagged sensor-b"
    );
}

#[tokio::test]
async fn dead_lettering_twice_files_one_letter() {
    let server = NatsServer::start();
    let cfg = bus::BusConfig {
        ack_wait_secs: 1,
        ..server.config()
    };
    let client = bus::connect(&cfg, "collector").await.unwrap();
    let consumer = Consumer::new(client.clone(), &cfg, "collectors")
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client.clone());
    publish_raw(&js, &cfg.subjects().capture("s"), b"junk".to_vec()).await;
    let d = consumer.fetch(1, Duration::from_secs(2)).await.unwrap();
    let reason = d[0].payload.as_ref().unwrap_err().to_string();
    d[0].dead_letter(&reason).await.unwrap();
    // As if the collector died after filing it and before the term reached the server.
    d[0].dead_letter(&reason).await.unwrap();
    assert_eq!(stored(&client, &cfg.dead_stream()).await, 1);
}

#[tokio::test]
async fn a_message_on_a_subject_without_a_valid_sensor_is_refused() {
    let server = NatsServer::start();
    let cfg = server.config();
    let client = bus::connect(&cfg, "collector").await.unwrap();
    let consumer = Consumer::new(client.clone(), &cfg, "collectors")
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client.clone());
    let msg: BusMessage = capture("sensor-a", 1, 10);
    publish_raw(&js, "spamhattan.capture.sensor%a", bus::encode(&msg)).await;
    let d = consumer.fetch(1, Duration::from_secs(2)).await.unwrap();
    assert_eq!(d[0].sensor, None);
    assert!(matches!(d[0].payload, Err(bus::WireError::Subject(_))));
    d[0].dead_letter(&d[0].payload.as_ref().unwrap_err().to_string())
        .await
        .unwrap();
    let dead = js.get_stream(cfg.dead_stream()).await.unwrap();
    let m = dead.get_raw_message(1).await.unwrap();
    assert_eq!(m.subject.as_str(), "spamhattan.dead.subject");
    assert_eq!(m.headers.get(headers::HEADER_SENSOR).unwrap().as_str(), "-");
}
