//! Limits in time and count, tested on tokio's paused clock: nothing here sleeps for real.

#![allow(clippy::unwrap_used)]

mod common;
use common::Harness;
use model::AnomalyKind;
use std::time::Duration;

#[tokio::test(start_paused = true)]
async fn idle_clients_are_dropped_with_421_after_the_idle_timeout() {
    let h = Harness::with(|c| c.limits.idle_timeout = Duration::from_secs(300)).await;
    let mut c = h.connect();
    c.greeting().await;
    let start = tokio::time::Instant::now();
    c.expect("421 4.4.2 mx1.example.nl Error: timeout exceeded")
        .await;
    assert!(start.elapsed() >= Duration::from_secs(300));
    assert!(c.closed().await);
    c.finish().await;
    assert!(h.anomaly_kinds().contains(&AnomalyKind::IdleTimeout));
}

#[tokio::test(start_paused = true)]
async fn a_drip_feeding_client_cannot_outlive_the_session_lifetime() {
    let h = Harness::with(|c| {
        c.limits.session_lifetime = Duration::from_secs(60);
        c.limits.idle_timeout = Duration::from_secs(30);
    })
    .await;
    let mut c = h.connect();
    c.greeting().await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(25)).await;
        let r = c.cmd("NOOP", "").await;
        if r.starts_with("421") {
            assert!(h.anomaly_kinds().contains(&AnomalyKind::SessionTimeout));
            return;
        }
    }
    panic!("session outlived its lifetime");
}

#[tokio::test(start_paused = true)]
async fn errors_are_tarpitted_and_the_hard_limit_closes_the_session() {
    let h = Harness::with(|c| {
        c.limits.soft_errors = 2;
        c.limits.max_errors = 5;
        c.limits.error_sleep = Duration::from_secs(1);
    })
    .await;
    let mut c = h.connect();
    c.greeting().await;
    let start = tokio::time::Instant::now();
    for _ in 0..4 {
        c.cmd("BOGUS", "502 ").await;
    }
    c.send("BOGUS\r\n").await;
    c.expect("502 ").await;
    c.expect("421 4.7.0 mx1.example.nl Error: too many errors")
        .await;
    assert!(c.closed().await);
    // Errors 3, 4 and 5 waited one second each.
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn a_hundred_thousand_rcpt_attempts_end_in_a_bounded_outcome() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("a@src.example", "250 ").await;
    let mut flood = String::new();
    for i in 0..100_000 {
        flood.push_str(&format!("RCPT TO:<u{i}@elsewhere.example>\r\n"));
    }
    let (mut rd, mut wr) = tokio::io::split(c.io);
    // The server hangs up mid-flood, so the writer's broken pipe is expected.
    let writer = tokio::spawn(async move { wr.write_all(flood.as_bytes()).await.is_ok() });
    let mut replies = Vec::new();
    rd.read_to_end(&mut replies).await.unwrap();
    let text = String::from_utf8_lossy(&replies);
    assert_eq!(
        text.lines().filter(|l| l.starts_with("554 5.7.1")).count(),
        20,
        "the hard error limit ends the flood"
    );
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("421 4.7.0")),
        "{text}"
    );
    assert!(
        !writer.await.unwrap(),
        "the flood was cut off, not read to its end"
    );
}

#[tokio::test]
async fn shutdown_tells_waiting_clients_421() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    h.shutdown();
    c.expect("421 4.3.2").await;
}

#[tokio::test]
async fn a_message_being_received_at_shutdown_is_finished_and_stored() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("a@src.example", "250 ").await;
    c.rcpt_to("x@trap.example", "250 ").await;
    c.cmd("DATA", "354 ").await;
    c.send("Subject: in flight\r\n\r\nfirst half\r\n").await;
    h.shutdown();
    c.send("second half\r\n.\r\n").await;
    c.expect("250 2.0.0 Ok: queued").await;
    // Back at the command prompt, the shutdown applies.
    c.expect("421 4.3.2").await;
    let s = h.sightings();
    assert_eq!(
        h.raw(&s[0].message_id),
        b"Subject: in flight\r\n\r\nfirst half\r\nsecond half\r\n"
    );
}

#[tokio::test]
async fn auth_lure_records_credentials_and_always_fails() {
    let h = Harness::with(|c| c.auth_lure = true).await;
    let mut c = h.connect();
    c.greeting().await;
    let ehlo = c.ehlo().await;
    assert!(ehlo.contains("AUTH PLAIN LOGIN"));
    // PLAIN with initial response: "\0admin\0hunter2"
    c.cmd("AUTH PLAIN AGFkbWluAGh1bnRlcjI=", "535 5.7.8").await;
    c.cmd("AUTH LOGIN", "334 VXNlcm5hbWU6").await;
    c.cmd("dXNlcg==", "334 UGFzc3dvcmQ6").await;
    c.cmd("cGFzcw==", "535 5.7.8 Error: authentication failed")
        .await;
    c.cmd("QUIT", "221 ").await;
    c.finish().await;
    let auth: Vec<_> = h
        .events
        .events()
        .into_iter()
        .filter(|e| e.kind == model::EventKind::SessionAuth)
        .map(|e| {
            (
                e.fields()["username"].clone(),
                e.fields()["password"].clone(),
            )
        })
        .collect();
    assert_eq!(auth[0], ("admin".into(), "hunter2".into()));
    assert_eq!(auth[1], ("user".into(), "pass".into()));
}

#[tokio::test]
async fn endless_bdat_chunks_without_last_end_in_a_bounded_outcome() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// Bytes per chunk: 2,500 chunks fill `max_message_bytes`, so the flood runs well past it
    /// before the command limit ends it.
    const CHUNK: usize = 4096;
    /// Chunks the client would send: five times what the command limit lets through.
    const CHUNKS: usize = 50_000;
    let h = Harness::new().await;
    let limits = trap::Limits::default();
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("a@src.example", "250 ").await;
    c.rcpt_to("victim@trap.example", "250 ").await;
    let (mut rd, mut wr) = tokio::io::split(c.io);
    // The server hangs up mid-flood, so the writer's broken pipe is expected.
    let writer = tokio::spawn(async move {
        let mut command = format!("BDAT {CHUNK}\r\n").into_bytes();
        command.resize(command.len() + CHUNK, b'x');
        for sent in 0..CHUNKS {
            if wr.write_all(&command).await.is_err() {
                return sent;
            }
        }
        CHUNKS
    });
    let mut replies = Vec::new();
    rd.read_to_end(&mut replies).await.unwrap();
    let text = String::from_utf8_lossy(&replies);
    // EHLO, MAIL and RCPT were commands 1–3: every chunk up to the limit is answered.
    let chunks_ok = text
        .lines()
        .filter(|l| *l == format!("250 2.0.0 Ok: {CHUNK} bytes"))
        .count() as u64;
    assert_eq!(chunks_ok, limits.max_commands - 3);
    assert!(
        chunks_ok * CHUNK as u64 > 3 * limits.max_message_bytes,
        "the flood went well past the size limit"
    );
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.starts_with("421 4.7.0")),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    let sent = writer.await.unwrap();
    assert!(sent < CHUNKS, "the flood was cut off, not read to its end");
    // Memory: the body never held more than max_message_bytes; past it, chunks were swallowed.
    // Everything reserved was given back when the session ended.
    let inflight = h.trap.inflight();
    assert!(
        inflight.peak <= limits.max_message_bytes,
        "{inflight:?} exceeds max_message_bytes"
    );
    assert_eq!(inflight.used, 0);
    assert!(h.sightings().is_empty(), "no LAST, no message");
    // The session record says how it ended, with a bounded transcript.
    let closed = h
        .events
        .events()
        .into_iter()
        .find(|e| e.kind == model::EventKind::SessionClosed)
        .expect("a closed event");
    h.store.flush().unwrap();
    let record = h
        .store
        .session(closed.session.expect("session id"))
        .unwrap()
        .expect("session record stored");
    assert_eq!(record.end, "too-many-commands");
    assert_eq!(record.commands, limits.max_commands + 1);
    assert!(
        record
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::TooManyErrors && a.detail == "command limit reached"),
        "{:?}",
        record.anomalies
    );
    assert!(
        record.transcript.dropped > 0,
        "the transcript was cut to its bound"
    );
}
