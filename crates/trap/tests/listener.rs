//! Listeners over real loopback TCP: IPv4 and IPv6, implicit TLS, connection caps, backpressure.

#![allow(clippy::unwrap_used)]

mod common;
use common::Harness;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use trap::{ListenerConfig, MemorySink, TlsMode, Trap};

async fn start(
    adjust: impl FnOnce(&mut trap::TrapConfig),
) -> (
    Vec<ListenerConfig>,
    tempfile::TempDir,
    tokio::sync::oneshot::Sender<()>,
) {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = common::config(dir.path());
    cfg.listeners = vec![
        ListenerConfig {
            name: "smtp".into(),
            address: "127.0.0.1:0".parse().unwrap(),
            tls: TlsMode::StartTls,
        },
        ListenerConfig {
            name: "smtp6".into(),
            address: "[::1]:0".parse().unwrap(),
            tls: TlsMode::StartTls,
        },
        ListenerConfig {
            name: "smtps".into(),
            address: "127.0.0.1:0".parse().unwrap(),
            tls: TlsMode::Implicit,
        },
    ];
    adjust(&mut cfg);
    let store = store::Store::open(store::StoreConfig::new(dir.path().join("data"))).unwrap();
    let trap = Trap::bind(&cfg, store, Arc::new(MemorySink::default()))
        .await
        .unwrap();
    let addrs = trap.local_addrs();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(trap.run(async move {
        let _ = stopped.await;
    }));
    (addrs, dir, stop)
}

async fn banner(stream: TcpStream) -> String {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    line
}

#[tokio::test]
async fn ipv4_and_ipv6_listeners_greet() {
    let (addrs, _dir, _stop) = start(|_| {}).await;
    for l in addrs.iter().filter(|l| l.tls == TlsMode::StartTls) {
        assert_ne!(l.address.port(), 0);
        let line = banner(TcpStream::connect(l.address).await.unwrap()).await;
        assert_eq!(line, "220 mx1.example.nl ESMTP Postfix\r\n", "{}", l.name);
    }
}

#[tokio::test]
async fn implicit_tls_listener_greets_inside_tls() {
    let (addrs, _dir, _stop) = start(|_| {}).await;
    let smtps = addrs.iter().find(|l| l.tls == TlsMode::Implicit).unwrap();
    let tcp = TcpStream::connect(smtps.address).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("mx1.example.nl").unwrap();
    let tls = common::connector().connect(name, tcp).await.unwrap();
    let mut r = BufReader::new(tls);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    assert_eq!(line, "220 mx1.example.nl ESMTP Postfix\r\n");
    r.get_mut()
        .write_all(b"EHLO tls.example\r\n")
        .await
        .unwrap();
    let mut reply = String::new();
    while !reply.contains("250 ") {
        r.read_line(&mut reply).await.unwrap();
    }
    assert!(
        !reply.contains("STARTTLS"),
        "STARTTLS offered inside TLS: {reply}"
    );
}

#[tokio::test]
async fn a_plaintext_client_on_the_implicit_tls_port_gets_no_banner() {
    let (addrs, _dir, _stop) = start(|_| {}).await;
    let smtps = addrs.iter().find(|l| l.tls == TlsMode::Implicit).unwrap();
    let mut raw = TcpStream::connect(smtps.address).await.unwrap();
    raw.write_all(b"EHLO plain.example\r\n").await.unwrap();
    let mut buf = Vec::new();
    // The server reads "EHLO" as a broken TLS record and hangs up.
    let _ = raw.read_to_end(&mut buf).await;
    assert!(
        !buf.starts_with(b"220"),
        "plaintext greeting on an implicit-TLS port"
    );
}

#[tokio::test]
async fn connections_over_the_per_ip_limit_get_421() {
    let (addrs, _dir, _stop) = start(|c| c.limits.max_connections_per_ip = 2).await;
    let addr = addrs[0].address;
    let a = TcpStream::connect(addr).await.unwrap();
    let b = TcpStream::connect(addr).await.unwrap();
    let mut a = BufReader::new(a);
    let mut line = String::new();
    a.read_line(&mut line).await.unwrap();
    let third = banner(TcpStream::connect(addr).await.unwrap()).await;
    assert!(
        third.starts_with("421 4.7.0 mx1.example.nl Error: too many connections from 127.0.0.1"),
        "{third}"
    );
    drop(b);
    drop(a);
}

#[tokio::test]
async fn mail_gets_452_when_the_analysis_backlog_is_over_its_limit() {
    let h = Harness::with_store(|_| {}, |s| s.max_backlog = 1).await;
    for _ in 0..2 {
        let mut c = h.connect();
        c.deliver("x@trap.example", b"pending analysis\r\n").await;
    }
    h.store.flush().unwrap();
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("a@src.example", "452 4.3.1 Insufficient system storage")
        .await;
}

#[tokio::test(start_paused = true)]
async fn talking_before_the_banner_is_recorded_when_the_greet_delay_is_on() {
    let h = Harness::with(|c| c.limits.greet_delay = Duration::from_secs(3)).await;
    let mut c = h.connect();
    c.send("EHLO eager.example\r\n").await;
    c.greeting().await;
    c.expect("250-").await;
    assert!(
        h.anomaly_kinds()
            .contains(&model::AnomalyKind::PreGreetingTalk)
    );
}

/// Ten thousand idle connections must fit in 200 MiB: the per-connection future is the part
/// the trap controls, so it has a budget (TLS state is boxed and only paid for when used).
#[tokio::test]
async fn a_session_future_stays_within_its_memory_budget() {
    let h = Harness::new().await;
    let (_client, server) = tokio::io::duplex(64);
    let meta = trap::ConnMeta {
        listener: "smtp".into(),
        peer: "127.0.0.1:1".parse().unwrap(),
        local: "127.0.0.1:2".parse().unwrap(),
        implicit_tls: false,
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let fut = h.trap.serve_stream(server, meta, rx);
    let size = std::mem::size_of_val(&fut);
    assert!(size <= 4096, "session future is {size} bytes");
}
