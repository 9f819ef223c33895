//! The example server config (contrib/nats/nats-server.conf) enforced: each sensor publishes
//! only on its own subjects, never creates streams; the collector sets up and consumes; wrong
//! credentials are a clear error; a sensor can start before the bus.
#![allow(clippy::unwrap_used)]

mod common;

use bus::{BusConfig, BusError, Consumer, Publisher};
use common::{NatsServer, capture, session, stored};
use std::time::{Duration, Instant};

const EXAMPLE_CONF: &str = include_str!("../../../contrib/nats/nats-server.conf");
const EXAMPLE_STORE_DIR: &str = "/var/lib/nats/jetstream";

fn example_server() -> NatsServer {
    NatsServer::start_with_config(
        EXAMPLE_CONF,
        EXAMPLE_STORE_DIR,
        &[
            ("SENSOR_A_PASSWORD", "pw-sensor-a"),
            ("SENSOR_B_PASSWORD", "pw-sensor-b"),
            ("COLLECTOR_PASSWORD", "pw-collector"),
        ],
    )
}

/// `user`'s config as the example intends: its password and its own inbox prefix.
fn as_user(server: &NatsServer, user: &str) -> BusConfig {
    BusConfig {
        user: Some(user.into()),
        password: Some(format!("pw-{user}")),
        inbox_prefix: format!("_INBOX.{user}"),
        request_timeout_ms: 1_000,
        ..server.config()
    }
}

#[tokio::test]
async fn a_sensor_publishes_only_on_its_own_subjects_and_the_collector_consumes() {
    let server = example_server();
    let collector_cfg = as_user(&server, "collector");
    let collector_client = bus::connect(&collector_cfg, "collector").await.unwrap();
    let consumer = Consumer::new(collector_client.clone(), &collector_cfg, "collectors")
        .await
        .unwrap();

    let a_cfg = as_user(&server, "sensor-a");
    let a_client = bus::connect(&a_cfg, "sensor-a").await.unwrap();
    let own = Publisher::new(a_client.clone(), &a_cfg, "sensor-a").unwrap();
    let results = own
        .publish_batch(&[capture("sensor-a", 1, 4096), session()])
        .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    // sensor-a's credentials on sensor-b's subject: the server drops it, no ack comes.
    let posing = Publisher::new(a_client.clone(), &a_cfg, "sensor-b").unwrap();
    let results = posing.publish_batch(&[capture("sensor-b", 2, 4096)]).await;
    assert!(
        matches!(results[0], Err(BusError::AckTimeout { .. })),
        "{results:?}"
    );
    assert_eq!(stored(&collector_client, &collector_cfg.stream).await, 2);

    // Nor may a sensor touch the JetStream API.
    let a_js = bus::jetstream(a_client, &a_cfg);
    assert!(bus::ensure_streams(&a_js, &a_cfg).await.is_err());

    let got = consumer.fetch(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(got.len(), 2);
    for d in &got {
        assert_eq!(d.sensor.as_deref(), Some("sensor-a"));
        assert!(d.payload.is_ok(), "{:?}", d.payload);
        d.ack().await.unwrap();
    }
    assert_eq!(stored(&collector_client, &collector_cfg.stream).await, 0);
}

#[tokio::test]
async fn the_collector_may_dead_letter_under_the_example_permissions() {
    let server = example_server();
    let cfg = as_user(&server, "collector");
    let client = bus::connect(&cfg, "collector").await.unwrap();
    let consumer = Consumer::new(client.clone(), &cfg, "collectors")
        .await
        .unwrap();
    let a_cfg = as_user(&server, "sensor-a");
    let a_client = bus::connect(&a_cfg, "sensor-a").await.unwrap();
    // A compromised sensor-a sending garbage on its own subject.
    let js = async_nats::jetstream::new(a_client);
    js.publish("spamhattan.capture.sensor-a", "garbage".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let got = consumer.fetch(1, Duration::from_secs(2)).await.unwrap();
    let err = got[0].payload.as_ref().unwrap_err();
    got[0].dead_letter(&err.to_string()).await.unwrap();
    assert_eq!(stored(&client, &cfg.stream).await, 0);
    assert_eq!(stored(&client, &cfg.dead_stream()).await, 1);
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error_not_a_retry_loop() {
    let server = example_server();
    let cfg = BusConfig {
        password: Some("wrong".into()),
        ..as_user(&server, "sensor-a")
    };
    let err = bus::connect(&cfg, "sensor-a").await.unwrap_err();
    assert!(matches!(err, BusError::Auth { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("refused user and password"), "{text}");
    assert!(
        !text.contains("wrong"),
        "the password stays out of the message: {text}"
    );
}

#[tokio::test]
async fn a_sensor_starts_while_the_bus_is_down_and_publishes_once_it_is_up() {
    // A port nobody listens on yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = BusConfig {
        url: format!("nats://127.0.0.1:{port}"),
        request_timeout_ms: 500,
        ..BusConfig::default()
    };
    let started = Instant::now();
    let client = bus::connect(&cfg, "sensor-a").await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    let publisher = Publisher::new(client, &cfg, "sensor-a").unwrap();
    let msg = capture("sensor-a", 1, 100);
    let down = publisher.publish_batch(std::slice::from_ref(&msg)).await;
    assert!(
        matches!(down[0], Err(BusError::AckTimeout { .. })),
        "{down:?}"
    );

    let _server = NatsServer::start_on(port);
    let collector = bus::connect(&cfg, "collector").await.unwrap();
    Consumer::new(collector, &cfg, "collectors").await.unwrap();
    // The client reconnects on its own schedule: retry the publish until it is acked.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match &publisher.publish_batch(std::slice::from_ref(&msg)).await[0] {
            Ok(_) => break,
            Err(e) if Instant::now() < deadline => eprintln!("not yet: {e}"),
            Err(e) => panic!("still failing after 30 s: {e}"),
        }
    }
}

#[tokio::test]
async fn an_nkey_seed_file_authenticates_and_a_foreign_seed_is_refused() {
    let user = nkeys::KeyPair::new_user();
    let conf = format!(
        "jetstream {{ store_dir: \"STORE\" }}\nauthorization {{ users = [ {{ nkey: {} }} ] }}\n",
        user.public_key()
    );
    let server = NatsServer::start_with_config(&conf, "STORE", &[]);
    let seed_file = server.dir.path().join("sensor.nk");
    std::fs::write(&seed_file, format!("{}\n", user.seed().unwrap())).unwrap();
    let cfg = BusConfig {
        nkey_seed_file: Some(seed_file.clone()),
        ..server.config()
    };
    let client = bus::connect(&cfg, "collector").await.unwrap();
    Consumer::new(client, &cfg, "collectors").await.unwrap();

    let stranger = server.dir.path().join("stranger.nk");
    std::fs::write(&stranger, nkeys::KeyPair::new_user().seed().unwrap()).unwrap();
    let cfg = BusConfig {
        nkey_seed_file: Some(stranger),
        ..server.config()
    };
    let err = bus::connect(&cfg, "stranger").await.unwrap_err();
    assert!(matches!(err, BusError::Auth { .. }), "{err}");
    assert!(err.to_string().contains("refused nkey seed"), "{err}");
}
