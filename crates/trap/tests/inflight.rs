//! The server-wide budget for message bytes being received: concurrent sessions sending large
//! messages never hold more than `max_inflight_bytes` together; the ones that do not fit get
//! `451`, MAIL gets `452` while the budget is nearly spent, and every byte is given back.

#![allow(clippy::unwrap_used)]

mod common;
use common::{Client, Harness};
use std::time::Duration;

const BUDGET: u64 = 1 << 20;

async fn harness() -> Harness {
    Harness::with(|c| c.limits.max_inflight_bytes = BUDGET).await
}

/// A message body of `kib` KiB in 1 KiB lines (nothing to unstuff).
fn body(kib: usize, tag: u8) -> Vec<u8> {
    let mut line = vec![tag; 1022];
    line.extend_from_slice(b"\r\n");
    line.repeat(kib)
}

async fn open_data(h: &Harness) -> Client {
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("bulk@src.example", "250 ").await;
    c.rcpt_to("x@trap.example", "250 ").await;
    c.cmd("DATA", "354 ").await;
    c
}

/// Lets the server sessions run until `done` holds; fails after a generous deadline.
async fn until(h: &Harness, what: &str, done: impl Fn(trap::InflightStats) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !done(h.trap.inflight()) {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {:?}",
            h.trap.inflight()
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn concurrent_large_messages_share_the_budget_and_the_overflow_gets_451() {
    let h = harness().await;
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(open_data(&h).await);
    }
    // Four messages of 400 KiB held open at once need at least 1600 KiB: at most two fit in
    // 1 MiB. They are sent one after the other, each read by the server before the next.
    let mut sent = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let b = body(400, b'a' + i as u8);
        c.send(&b).await;
        sent.push(b);
        // The first session's body is in the budget before anyone else asks: it must fit.
        if i == 0 {
            until(&h, "the first body is reserved", |s| s.used >= 400 * 1024).await;
        }
    }
    let mut replies = Vec::new();
    for c in &mut clients {
        c.send(b".\r\n").await;
        replies.push(c.reply().await);
    }
    let accepted: Vec<usize> = (0..4)
        .filter(|i| replies[*i].starts_with("250 2.0.0 Ok: queued as "))
        .collect();
    let refused = replies
        .iter()
        .filter(|r| r.starts_with("451 4.3.0 "))
        .count();
    assert!(accepted.contains(&0), "the first message fits: {replies:?}");
    assert!(
        accepted.len() <= 2 && accepted.len() + refused == 4,
        "{replies:?}"
    );
    for c in &mut clients {
        c.cmd("QUIT", "221 ").await;
        c.finish().await;
    }
    let stats = h.trap.inflight();
    assert!(
        stats.peak <= BUDGET,
        "held {} bytes at once, budget {BUDGET}",
        stats.peak
    );
    assert!(stats.peak >= 400 * 1024, "{stats:?}");
    assert_eq!(stats.used, 0, "every byte is given back");
    let stored = h.sightings();
    assert_eq!(stored.len(), accepted.len());
    for s in &stored {
        let raw = h.raw(&s.message_id);
        assert!(sent.contains(&raw), "a stored message is whole");
    }
}

#[tokio::test]
async fn mail_gets_452_while_the_budget_is_nearly_spent_and_250_after() {
    let h = harness().await;
    let mut big = open_data(&h).await;
    let b = body(960, b'b');
    big.send(&b).await;
    // 960 KiB of 1 MiB held: less than an eighth left.
    until(&h, "the big body is reserved", |s| s.used >= 960 * 1024).await;
    let mut other = h.connect();
    other.greeting().await;
    other.ehlo().await;
    other
        .mail_from("late@src.example", "452 4.3.1 Insufficient system storage")
        .await;
    big.send(b".\r\n").await;
    big.expect("250 2.0.0 Ok: queued as ").await;
    assert_eq!(h.trap.inflight().used, 0);
    other.mail_from("late@src.example", "250 ").await;
    other.rcpt_to("x@trap.example", "250 ").await;
    other
        .data(b"Subject: later\r\n\r\nok\r\n", "250 2.0.0")
        .await;
    assert_eq!(h.sightings().len(), 2);
}

#[tokio::test]
async fn a_bdat_message_that_does_not_fit_gets_451_and_the_session_goes_on() {
    let h = harness().await;
    let mut holder = open_data(&h).await;
    holder.send(&body(700, b'h')).await;
    until(&h, "the holder's body is reserved", |s| {
        s.used >= 700 * 1024
    })
    .await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("bdat@src.example", "250 ").await;
    c.rcpt_to("x@trap.example", "250 ").await;
    let chunk = body(300, b'c');
    c.send(format!("BDAT {}\r\n", chunk.len())).await;
    c.send(&chunk).await;
    c.expect("250 2.0.0 Ok: ").await;
    c.send(format!("BDAT {} LAST\r\n", chunk.len())).await;
    c.send(&chunk).await;
    c.expect("451 4.3.0 Error: queue file write error").await;
    // The refusal ended the transaction only; the session and the budget carry on.
    holder.send(b".\r\n").await;
    holder.expect("250 2.0.0").await;
    assert_eq!(h.trap.inflight().used, 0);
    c.mail_from("bdat@src.example", "250 ").await;
    c.rcpt_to("x@trap.example", "250 ").await;
    c.send("BDAT 12 LAST\r\nSubject: ok\r\n").await;
    c.expect("250 2.0.0 Ok: queued as ").await;
    assert_eq!(h.sightings().len(), 2);
    assert!(h.trap.inflight().peak <= BUDGET);
}

#[tokio::test]
async fn a_client_that_disconnects_mid_message_gives_its_bytes_back() {
    let h = harness().await;
    let mut c = open_data(&h).await;
    c.send(&body(500, b'd')).await;
    until(&h, "the body is reserved", |s| s.used >= 500 * 1024).await;
    drop(c.io);
    until(&h, "the reservation is released", |s| s.used == 0).await;
}
