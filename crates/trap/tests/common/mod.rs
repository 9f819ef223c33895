//! Test harness: a trap with a real store in a temp dir, sessions driven over in-memory pipes,
//! and a client with transcript helpers (`ehlo()`, `mail_from(addr, "250")`, ...).

#![allow(dead_code, clippy::unwrap_used)]

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use store::{Store, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::watch;
use trap::{ConnMeta, Limits, MemorySink, TlsSource, Trap, TrapConfig};

pub struct Harness {
    pub trap: Arc<Trap>,
    pub store: Store,
    pub events: Arc<MemorySink>,
    pub dir: tempfile::TempDir,
    shutdown: watch::Sender<bool>,
}

pub fn config(dir: &std::path::Path) -> TrapConfig {
    TrapConfig {
        hostname: "mx1.example.nl".into(),
        listeners: Vec::new(),
        domains: ["trap.example", "*.wild.example", "bücher.example"]
            .map(model::TrapDomain::active)
            .to_vec(),
        addresses: vec![
            (
                "retired@trap.example".into(),
                trap::AddressPolicy::UnknownUser,
            ),
            ("resting@trap.example".into(), trap::AddressPolicy::TempFail),
        ],
        persona: "postfix".into(),
        limits: Limits {
            error_sleep: std::time::Duration::ZERO,
            ..Limits::default()
        },
        tls: TlsSource::SelfSigned {
            dir: dir.join("tls"),
        },
        auth_lure: false,
        sensor: None,
    }
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    pub async fn with(adjust: impl FnOnce(&mut TrapConfig)) -> Self {
        Self::with_store(adjust, |_| {}).await
    }

    pub async fn with_store(
        adjust: impl FnOnce(&mut TrapConfig),
        adjust_store: impl FnOnce(&mut StoreConfig),
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(dir.path());
        adjust(&mut cfg);
        let mut store_cfg = StoreConfig::new(dir.path().join("data"));
        adjust_store(&mut store_cfg);
        let store = Store::open(store_cfg).unwrap();
        let events = Arc::new(MemorySink::default());
        let trap = Trap::bind(&cfg, store.clone(), events.clone())
            .await
            .unwrap();
        let (shutdown, _) = watch::channel(false);
        Self {
            trap: Arc::new(trap),
            store,
            events,
            dir,
            shutdown,
        }
    }

    /// Opens a session; the server side runs in a task.
    pub fn connect(&self) -> Client {
        let (client, server) = tokio::io::duplex(1 << 20);
        let trap = Arc::clone(&self.trap);
        let meta = ConnMeta {
            listener: "smtp".into(),
            peer: "192.0.2.10:40000".parse().unwrap(),
            local: "198.51.100.1:25".parse().unwrap(),
            implicit_tls: false,
        };
        let rx = self.shutdown.subscribe();
        let task = tokio::spawn(async move { trap.serve_stream(server, meta, rx).await });
        Client {
            io: client,
            buf: Vec::new(),
            task: Some(task),
        }
    }

    pub fn shutdown(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Every message stored so far, newest first.
    pub fn sightings(&self) -> Vec<model::Sighting> {
        self.store.flush().unwrap();
        self.store
            .sightings(&store::SightingQuery {
                limit: 1000,
                ..Default::default()
            })
            .unwrap()
    }

    pub fn raw(&self, id: &model::MessageId) -> Vec<u8> {
        match self.store.raw(id).unwrap() {
            store::RawLookup::Found(b) => b,
            other => panic!("no raw bytes: {other:?}"),
        }
    }

    /// Anomaly kinds emitted as events.
    pub fn anomaly_kinds(&self) -> Vec<model::AnomalyKind> {
        self.events
            .events()
            .iter()
            .filter(|e| e.kind == model::EventKind::SessionAnomaly)
            .filter_map(|e| serde_json::from_value(e.fields()["kind"].clone()).ok())
            .collect()
    }
}

pub struct Client {
    pub io: DuplexStream,
    buf: Vec<u8>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Client {
    /// Sends bytes; a server that already hung up is not an error here (the reply read next
    /// tells what happened).
    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        let _ = self.io.write_all(bytes.as_ref()).await;
    }

    /// Reads one complete reply (all its lines) and returns it as text.
    pub async fn reply(&mut self) -> String {
        loop {
            if let Some(end) = complete_reply(&self.buf) {
                let reply: Vec<u8> = self.buf.drain(..end).collect();
                return String::from_utf8_lossy(&reply).into_owned();
            }
            let mut chunk = [0u8; 4096];
            let n = self.io.read(&mut chunk).await.unwrap();
            assert!(
                n > 0,
                "server closed; pending: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Reads a reply and asserts it starts with `expect` (a code, or code and text).
    pub async fn expect(&mut self, expect: &str) -> String {
        let r = self.reply().await;
        assert!(r.starts_with(expect), "expected {expect:?}, got {r:?}");
        r
    }

    pub async fn cmd(&mut self, line: &str, expect: &str) -> String {
        self.send(format!("{line}\r\n")).await;
        self.expect(expect).await
    }

    pub async fn greeting(&mut self) -> String {
        self.expect("220 ").await
    }

    pub async fn ehlo(&mut self) -> String {
        self.cmd("EHLO client.example", "250-").await
    }

    pub async fn mail_from(&mut self, addr: &str, expect: &str) -> String {
        self.cmd(&format!("MAIL FROM:<{addr}>"), expect).await
    }

    pub async fn rcpt_to(&mut self, addr: &str, expect: &str) -> String {
        self.cmd(&format!("RCPT TO:<{addr}>"), expect).await
    }

    /// DATA, the (already stuffed, CRLF-terminated) body and the end marker.
    pub async fn data(&mut self, stuffed: &[u8], expect: &str) -> String {
        self.cmd("DATA", "354 ").await;
        self.send(stuffed).await;
        self.send(b".\r\n").await;
        self.expect(expect).await
    }

    /// Greets, says EHLO and sends one message to `rcpt`; returns the final reply.
    pub async fn deliver(&mut self, rcpt: &str, stuffed: &[u8]) -> String {
        self.greeting().await;
        self.ehlo().await;
        self.mail_from("spammer@src.example", "250 2.1.0").await;
        self.rcpt_to(rcpt, "250 2.1.5").await;
        self.data(stuffed, "250 2.0.0 Ok: queued as ").await
    }

    /// Reads until the server closes the connection (whatever it still sends, e.g. a TLS
    /// alert, is discarded); true on EOF or reset.
    pub async fn closed(&mut self) -> bool {
        let mut chunk = [0u8; 256];
        loop {
            match self.io.read(&mut chunk).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
    }

    /// Waits for the server task to end (after QUIT or a 421).
    pub async fn finish(&mut self) {
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

/// Length of the first complete reply in `buf`: lines up to one whose 4th byte is a space.
fn complete_reply(buf: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(nl) = buf[start..].iter().position(|b| *b == b'\n') {
        let line = &buf[start..start + nl + 1];
        start += nl + 1;
        if line.len() < 4 || line[3] == b' ' || line[3] == b'\r' {
            return Some(start);
        }
    }
    None
}

/// Spam bots do not verify certificates; neither does this test client.
#[derive(Debug)]
struct AcceptAnything;

impl ServerCertVerifier for AcceptAnything {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

pub fn connector() -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnything))
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}
