//! Request framing over a real socket (hyper's parser, then the guard): oversized heads get
//! `431`, and ambiguous message lengths (the raw material of request smuggling behind a proxy)
//! are refused rather than guessed.

use std::net::SocketAddr;
use std::sync::Arc;
use store::{Store, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use web::{Console, ConsoleSettings};

/// The real app on a real store, served on loopback. The directory lives as long as the test.
async fn site() -> (SocketAddr, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let store = Store::open(StoreConfig::new(dir.path())).expect("store");
    let console = Arc::new(Console::new(Arc::new(store), ConsoleSettings::default()));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(web::serve(
        listener,
        web::app(console),
        std::future::pending(),
    ));
    (addr, dir)
}

/// Sends `raw` and reads until the server closes or a few seconds pass.
async fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(raw).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn too_many_or_too_large_headers_get_431() {
    let (addr, _dir) = site().await;
    let mut many = String::from("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    for i in 0..(web::MAX_HEADERS + 1) {
        many.push_str(&format!("X-H{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let answer = exchange(addr, many.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
        "a".repeat(web::MAX_HEADER_BYTES + 1)
    );
    let answer = exchange(addr, big.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    let fine = exchange(
        addr,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(fine.starts_with("HTTP/1.1 200"), "{fine}");
}

#[tokio::test]
async fn ambiguous_lengths_are_refused_not_guessed() {
    let (addr, _dir) = site().await;
    // Two different Content-Length values.
    let answer = exchange(
        addr,
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");

    // Content-Length and chunked together: framed as chunked (RFC 9112 §6.3; by
    // Content-Length the server would still be waiting for 60 bytes and answer nothing), and
    // the connection closes after the one answer, so the request hidden behind the chunked
    // body is never served.
    let answer = exchange(
        addr,
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 60\r\nTransfer-Encoding: chunked\r\n\r\n\
          0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    assert!(!answer.contains("\r\n\r\nok"), "{answer}");

    // A Transfer-Encoding other than chunked cannot be framed at all.
    let answer = exchange(
        addr,
        b"POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabcd",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
}
