//! The example server config (contrib/nats/nats-server.conf) enforced: each sensor publishes
//! only on its own subjects, never creates streams; the collector sets up and consumes; wrong
//! credentials are a clear error; a sensor can start before the bus. Also nkey seeds and
//! `.creds` files (operator mode, with JWTs made here).
#![allow(clippy::unwrap_used)]

mod common;

use bus::{BusConfig, BusError, Consumer, Publisher};
use common::{NatsServer, capture, session, stored};
use std::path::PathBuf;
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

/// base64url without padding, as JWTs are encoded.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// A NATS JWT (v2) saying `nats` about `subject`, signed by `issuer`, as `nsc` makes them.
/// The `jti` is only unique here: `nsc` hashes the claims, but the server does not check it.
fn jwt(issuer: &nkeys::KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    let header = base64url(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let iat = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "jti": uuid::Uuid::new_v4().simple().to_string().to_uppercase(),
        "iat": iat,
        "iss": issuer.public_key(),
        "sub": subject,
        "name": name,
        "nats": nats,
    });
    let signed = format!("{header}.{}", base64url(claims.to_string().as_bytes()));
    let signature = issuer.sign(signed.as_bytes()).unwrap();
    format!("{signed}.{}", base64url(&signature))
}

/// An account JWT: with JetStream (any non-zero storage enables it) and no other limits, or
/// without JetStream (the system account may not have it).
fn account_jwt(
    operator: &nkeys::KeyPair,
    account: &nkeys::KeyPair,
    name: &str,
    jetstream: bool,
) -> String {
    let storage = if jetstream { -1 } else { 0 };
    let nats = serde_json::json!({
        "type": "account",
        "version": 2,
        "limits": {
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
            "mem_storage": storage, "disk_storage": storage, "streams": -1, "consumer": -1,
        },
    });
    jwt(operator, &account.public_key(), name, nats)
}

/// `name`'s user JWT, issued by `account`, allowed to publish and subscribe only on the
/// subjects of `permissions` (`None`: anything in the account).
fn user_jwt(
    account: &nkeys::KeyPair,
    user: &nkeys::KeyPair,
    name: &str,
    permissions: Option<(&[&str], &[&str])>,
) -> String {
    let mut nats = serde_json::json!({
        "type": "user", "version": 2, "subs": -1, "data": -1, "payload": -1,
    });
    if let Some((publish, subscribe)) = permissions {
        nats["pub"] = serde_json::json!({ "allow": publish });
        nats["sub"] = serde_json::json!({ "allow": subscribe });
    }
    jwt(account, &user.public_key(), name, nats)
}

/// A `.creds` file as `nsc generate creds` writes it; returns its path.
fn creds_file(server: &NatsServer, file: &str, user_jwt: &str, seed: &nkeys::KeyPair) -> PathBuf {
    let path = server.dir.path().join(file);
    let text = format!(
        "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n",
        seed.seed().unwrap()
    );
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn a_creds_file_authenticates_in_operator_mode_with_the_jwts_permissions() {
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    // JetStream in operator mode needs a system account (the server exits without one).
    let system = nkeys::KeyPair::new_account();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "spamhattan-operator",
        serde_json::json!({
            "type": "operator", "version": 2, "system_account": system.public_key(),
        }),
    );
    let conf = format!(
        "operator: {operator_jwt}\nresolver: MEMORY\n\
         resolver_preload: {{\n  {}: {}\n  {}: {}\n}}\njetstream {{ store_dir: \"STORE\" }}\n",
        account.public_key(),
        account_jwt(&operator, &account, "SPAMHATTAN", true),
        system.public_key(),
        account_jwt(&operator, &system, "SYS", false),
    );
    let server = NatsServer::start_with_config(&conf, "STORE", &[]);
    let creds = |file: &str, jwt: &str, seed: &nkeys::KeyPair| BusConfig {
        credentials_file: Some(creds_file(&server, file, jwt, seed)),
        inbox_prefix: format!("_INBOX.{}", file.trim_end_matches(".creds")),
        request_timeout_ms: 1_000,
        ..server.config()
    };

    // The collector's user may do anything in the account.
    let collector_key = nkeys::KeyPair::new_user();
    let collector_jwt = user_jwt(&account, &collector_key, "collector", None);
    let collector_cfg = creds("collector.creds", &collector_jwt, &collector_key);
    let collector_client = bus::connect(&collector_cfg, "collector").await.unwrap();
    let consumer = Consumer::new(collector_client.clone(), &collector_cfg, "collectors")
        .await
        .unwrap();

    // sensor-a's user, permitted like SENSOR_A in the example config.
    let sensor_key = nkeys::KeyPair::new_user();
    let sensor_permissions: (&[&str], &[&str]) = (
        &["spamhattan.capture.sensor-a", "spamhattan.session.sensor-a"],
        &["_INBOX.sensor-a.>"],
    );
    let sensor_jwt = user_jwt(&account, &sensor_key, "sensor-a", Some(sensor_permissions));
    let a_cfg = creds("sensor-a.creds", &sensor_jwt, &sensor_key);
    let a_client = bus::connect(&a_cfg, "sensor-a").await.unwrap();
    let own = Publisher::new(a_client.clone(), &a_cfg, "sensor-a").unwrap();
    let sent = capture("sensor-a", 1, 4096);
    let results = own.publish_batch(std::slice::from_ref(&sent)).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    // The JWT's permissions hold: not on sensor-b's subject.
    let posing = Publisher::new(a_client, &a_cfg, "sensor-b").unwrap();
    let results = posing.publish_batch(&[capture("sensor-b", 2, 4096)]).await;
    assert!(
        matches!(results[0], Err(BusError::AckTimeout { .. })),
        "{results:?}"
    );
    assert_eq!(stored(&collector_client, &collector_cfg.stream).await, 1);

    let got = consumer.fetch(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].sensor.as_deref(), Some("sensor-a"));
    assert_eq!(got[0].payload.as_ref().unwrap(), &sent);
    got[0].ack().await.unwrap();

    // The same user and permissions, issued by an account the server does not know.
    let foreign = user_jwt(
        &nkeys::KeyPair::new_account(),
        &sensor_key,
        "sensor-a",
        Some(sensor_permissions),
    );
    let cfg = creds("foreign.creds", &foreign, &sensor_key);
    let err = bus::connect(&cfg, "sensor-a").await.unwrap_err();
    assert!(matches!(err, BusError::Auth { .. }), "{err}");
    assert!(
        err.to_string().contains("refused credentials file"),
        "{err}"
    );

    // sensor-a's JWT with a seed that is not its.
    let cfg = creds("stolen-jwt.creds", &sensor_jwt, &nkeys::KeyPair::new_user());
    let err = bus::connect(&cfg, "sensor-a").await.unwrap_err();
    assert!(matches!(err, BusError::Auth { .. }), "{err}");
    assert!(
        err.to_string().contains("refused credentials file"),
        "{err}"
    );
}
