//! Shared test helpers: a private `nats-server` per test and sample messages.
#![allow(dead_code, clippy::unwrap_used)]

use bus::{BusConfig, BusMessage};
use model::{Envelope, MailFrom, MessageId, SensorTag, SessionRecord, Sighting, SightingSource};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const NATS_SERVER: &str = "/usr/sbin/nats-server";

/// A `nats-server -js` of this test alone, on a port the server picks (so no race for a free
/// port), stopped when dropped. Readiness is the server's own "Server is ready" log line.
pub struct NatsServer {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl NatsServer {
    /// JetStream with a temporary store, no authentication.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("js");
        let args = [
            "-js",
            "-sd",
            store.to_str().unwrap(),
            "-a",
            "127.0.0.1",
            "-p",
            "-1",
        ];
        Self::spawn(dir, &args)
    }

    /// Like [`NatsServer::start`], on a given port.
    pub fn start_on(port: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("js");
        let port = port.to_string();
        let args = [
            "-js",
            "-sd",
            store.to_str().unwrap(),
            "-a",
            "127.0.0.1",
            "-p",
            &port,
        ];
        Self::spawn(dir, &args)
    }

    /// With the configuration `conf`, its `store_dir` (`store_dir` is the example's path)
    /// moved to a temporary directory, on a server-chosen loopback port (the flags override
    /// the file's `listen`), with `env` set for the file's `$VARIABLE`s.
    pub fn start_with_config(conf: &str, store_dir: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nats-server.conf");
        let js = dir.path().join("js");
        let conf = conf.replace(store_dir, js.to_str().unwrap());
        std::fs::write(&path, conf).unwrap();
        let args = ["-c", path.to_str().unwrap(), "-a", "127.0.0.1", "-p", "-1"];
        Self::spawn_with(dir, &args, env)
    }

    fn spawn(dir: tempfile::TempDir, args: &[&str]) -> Self {
        Self::spawn_with(dir, args, &[])
    }

    fn spawn_with(dir: tempfile::TempDir, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut child = Command::new(NATS_SERVER)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nats-server (apt-get install nats-server)");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut port = None;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("Listening for client connections on ").nth(1) {
                    port = rest.rsplit(':').next().and_then(|p| p.trim().parse().ok());
                }
                if line.contains("Server is ready") {
                    let _ = tx.send(port);
                }
                if std::env::var_os("BUS_TEST_SERVER_LOG").is_some() {
                    eprintln!("nats: {line}");
                }
            }
        });
        let port = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("nats-server did not become ready")
            .expect("nats-server did not log its port");
        Self { child, port, dir }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// A config for this server with short timeouts.
    pub fn config(&self) -> BusConfig {
        BusConfig {
            url: self.url(),
            request_timeout_ms: 5_000,
            ..BusConfig::default()
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tag(id: &str) -> SensorTag {
    SensorTag {
        id: id.into(),
        sector: "isp".into(),
        location: "DE".into(),
    }
}

/// A raw message of at least `size` bytes, unique per `n`.
pub fn raw_message(n: usize, size: usize) -> Vec<u8> {
    let mut m = format!("From: x@spam.example\r\nSubject: offer {n}\r\n\r\n").into_bytes();
    while m.len() < size {
        m.extend_from_slice(b"Buy now, limited offer! \r\n");
    }
    m
}

pub fn sighting(raw: &[u8], sensor: &str) -> Sighting {
    Sighting {
        id: uuid::Uuid::now_v7(),
        message_id: MessageId::of(raw),
        received_at: model::now(),
        source: SightingSource::Smtp,
        size: raw.len() as u64,
        session_id: uuid::Uuid::now_v7(),
        listener: "smtp".into(),
        peer: "192.0.2.7:40000".into(),
        local: "198.51.100.1:25".into(),
        helo: Some("spam.example".into()),
        tls: None,
        envelope: Envelope {
            mail_from: MailFrom {
                raw: "MAIL FROM:<bulk@spam.example>".into(),
                address: "bulk@spam.example".into(),
                params: vec![],
            },
            recipients: vec![],
        },
        anomalies: vec![],
        timings: Default::default(),
        queue_id: "4XyZ1".into(),
        sensor: Some(tag(sensor)),
    }
}

pub fn capture(sensor: &str, n: usize, size: usize) -> BusMessage {
    let raw = raw_message(n, size);
    BusMessage::Capture {
        sighting: sighting(&raw, sensor),
        raw,
    }
}

pub fn session() -> BusMessage {
    BusMessage::Session(SessionRecord {
        id: uuid::Uuid::now_v7(),
        started_at: model::now(),
        ended_at: model::now(),
        listener: "smtp".into(),
        peer: "192.0.2.9:1234".into(),
        local: "198.51.100.1:25".into(),
        helo: Some("spam.example".into()),
        tls: None,
        auth_attempts: vec![],
        anomalies: vec![],
        sightings: vec![],
        commands: 4,
        errors: 0,
        end: "quit".into(),
        transcript: Default::default(),
    })
}

/// The de-dup id of every message, to compare sets of what was sent and received.
pub fn ids(msgs: &[BusMessage]) -> Vec<String> {
    msgs.iter().map(bus::msg_id).collect()
}

/// Messages stored in `stream` right now.
pub async fn stored(client: &async_nats::Client, stream: &str) -> u64 {
    let js = async_nats::jetstream::new(client.clone());
    let mut s = js.get_stream(stream).await.unwrap();
    s.info().await.unwrap().state.messages
}
