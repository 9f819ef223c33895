//! The HTTP listeners' connection limits over real loopback sockets, with tokio's clock paused
//! so the idle timeout passes without waiting: a silent client and a half-sent request head
//! are cut off, one client cannot hold more than its share, a proxy is exempt, and a normal
//! request still works throughout.

use axum::Router;
use axum::routing::get;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use web::conn::ConnLimits;

const IDLE: Duration = Duration::from_secs(30);

async fn site(limits: ConnLimits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = Router::new().route("/", get(|| async { "ok" }));
    tokio::spawn(web::serve_limited(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    addr
}

fn limits(per_client: usize, proxies: Vec<IpAddr>) -> ConnLimits {
    ConnLimits {
        max_total: 64,
        max_per_client: per_client,
        idle: IDLE,
        proxies,
    }
}

/// A whole request and its answer on a fresh connection.
async fn get_ok(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr).await else {
        return false;
    };
    if s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer).await;
    answer.starts_with(b"HTTP/1.1 200") && answer.ends_with(b"ok")
}

/// True when the server closed `s` (EOF or reset) within a few idle times, rather than
/// leaving it open.
async fn closed_by_server(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 64];
    let read = tokio::time::timeout(IDLE * 4, s.read(&mut b)).await;
    matches!(read, Ok(Ok(0) | Err(_)))
}

#[tokio::test(start_paused = true)]
async fn silent_and_drip_feeding_clients_are_cut_off_after_the_idle_time() {
    let addr = site(limits(8, Vec::new())).await;
    let mut silent = TcpStream::connect(addr).await.expect("connect");
    let mut half = TcpStream::connect(addr).await.expect("connect");
    half.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .expect("write");
    let started = tokio::time::Instant::now();
    assert!(closed_by_server(&mut silent).await);
    assert!(closed_by_server(&mut half).await);
    assert!(
        started.elapsed() >= IDLE,
        "not before the idle time: {:?}",
        started.elapsed()
    );
    assert!(get_ok(addr).await, "a normal request still works");
}

#[tokio::test(start_paused = true)]
async fn a_byte_within_the_window_keeps_a_connection_alive() {
    let addr = site(limits(8, Vec::new())).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\n").await.expect("write");
    tokio::time::sleep(IDLE / 2).await;
    s.write_all(b"Host: x\r\n").await.expect("write");
    tokio::time::sleep(IDLE / 2).await;
    s.write_all(b"Connection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).await.expect("read");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
}

#[tokio::test(start_paused = true)]
async fn one_client_holds_at_most_its_share_unless_it_is_a_proxy() {
    let addr = site(limits(2, Vec::new())).await;
    let _a = TcpStream::connect(addr).await.expect("first");
    let _b = TcpStream::connect(addr).await.expect("second");
    let mut third = TcpStream::connect(addr).await.expect("third connects");
    assert!(
        closed_by_server(&mut third).await,
        "the third from one client is closed at once"
    );
    assert!(
        !get_ok(addr).await,
        "still two held: a fourth is refused too"
    );
    drop(_a);
    // The server notices the close on its next read; give it the turn.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let mut ok = false;
    while tokio::time::Instant::now() < deadline {
        if get_ok(addr).await {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(ok, "a slot frees when a connection closes");

    let proxy: IpAddr = [127, 0, 0, 1].into();
    let behind_proxy = site(limits(2, vec![proxy])).await;
    let held: Vec<TcpStream> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(TcpStream::connect(behind_proxy).await.expect("connect"));
        }
        v
    };
    assert!(
        get_ok(behind_proxy).await,
        "a proxy is not capped per client"
    );
    drop(held);
}
