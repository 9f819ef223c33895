//! Per-command deadline and minimum data rate, on tokio's paused clock: a client that drips a
//! command line or message content one byte at a time, each just inside the idle timeout, is
//! cut off at the deadline instead of holding its slot for the whole session lifetime.

#![allow(clippy::unwrap_used)]

mod common;
use common::{Client, Harness};
use model::{AnomalyKind, EventKind};
use std::time::Duration;
use tokio::time::sleep;

/// The `end` of the session's `spamhattan.session.closed` event, once the session is over.
fn session_end(h: &Harness) -> Option<String> {
    h.events
        .events()
        .iter()
        .find(|e| e.kind == EventKind::SessionClosed)
        .and_then(|e| e.fields()["end"].as_str().map(str::to_owned))
}

/// Deadlines of 60 s, idle timeouts that alone would let a drip-feeder live for half an hour.
async fn harness() -> Harness {
    Harness::with(|c| {
        c.limits.command_deadline = Duration::from_secs(60);
        c.limits.min_data_rate = 500;
        c.limits.data_rate_grace = Duration::from_secs(60);
        c.limits.idle_timeout = Duration::from_secs(300);
        c.limits.data_idle_timeout = Duration::from_secs(180);
        c.limits.session_lifetime = Duration::from_secs(1800);
    })
    .await
}

async fn in_data(h: &Harness) -> Client {
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("drip@src.example", "250 ").await;
    c.rcpt_to("x@trap.example", "250 ").await;
    c.cmd("DATA", "354 ").await;
    c
}

#[tokio::test(start_paused = true)]
async fn a_command_line_dripped_byte_by_byte_ends_at_the_command_deadline() {
    let h = harness().await;
    let mut c = h.connect();
    c.greeting().await;
    // One byte now and one at 59 s: each well inside the 300 s idle timeout, which alone
    // would keep this client until the 30 min session lifetime.
    c.send("E").await;
    sleep(Duration::from_secs(59)).await;
    assert_eq!(session_end(&h), None, "still within the deadline");
    c.send("H").await;
    sleep(Duration::from_secs(2)).await;
    assert_eq!(
        session_end(&h).as_deref(),
        Some("command-deadline"),
        "60 s after the line's first byte"
    );
    c.expect("421 4.4.2 mx1.example.nl Error: timeout exceeded")
        .await;
    assert!(c.closed().await);
    c.finish().await;
    assert!(h.anomaly_kinds().contains(&AnomalyKind::CommandDeadline));
    // The session record says why: its end, the anomaly, and the 421 in the transcript.
    let id = h
        .events
        .events()
        .iter()
        .find(|e| e.kind == EventKind::SessionClosed)
        .and_then(|e| e.session)
        .unwrap();
    h.store.flush().unwrap();
    let record = h.store.session(id).unwrap().unwrap();
    assert_eq!(record.end, "command-deadline");
    assert!(
        record
            .anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::CommandDeadline && a.detail.contains("60 s"))
    );
    let transcript = serde_json::to_string(&record.transcript).unwrap();
    assert!(transcript.contains("421 4.4.2"), "{transcript}");
}

#[tokio::test(start_paused = true)]
async fn lines_completed_within_the_deadline_are_answered_even_when_pipelined_in_pieces() {
    let h = harness().await;
    let mut c = h.connect();
    c.greeting().await;
    // The second line starts at 0 s and ends at 50 s; the third starts at 50 s and ends at
    // 100 s. Counting from the wrong first byte (0 s for the third) would cut it off at 60 s.
    c.send("NOOP\r\nNO").await;
    c.expect("250 ").await;
    sleep(Duration::from_secs(50)).await;
    c.send("OP\r\nNO").await;
    c.expect("250 ").await;
    sleep(Duration::from_secs(50)).await;
    c.send("OP\r\n").await;
    c.expect("250 ").await;
    // A line typed slowly but within the deadline.
    c.send("QU").await;
    sleep(Duration::from_secs(59)).await;
    c.cmd("IT", "221 ").await;
    c.finish().await;
    assert!(!h.anomaly_kinds().contains(&AnomalyKind::CommandDeadline));
    assert_eq!(session_end(&h).as_deref(), Some("quit"));
}

#[tokio::test(start_paused = true)]
async fn message_content_dripped_below_the_minimum_rate_is_cut_off_after_the_grace() {
    let h = harness().await;
    let mut c = in_data(&h).await;
    // One byte now, one at 59 s: inside the 180 s data idle timeout, which alone would let
    // this client hold its slot (and its buffer) until the 30 min session lifetime.
    c.send("S").await;
    sleep(Duration::from_secs(59)).await;
    assert_eq!(session_end(&h), None, "still within the grace");
    c.send("x").await;
    sleep(Duration::from_secs(2)).await;
    assert_eq!(session_end(&h).as_deref(), Some("data-too-slow"));
    c.expect("421 4.4.2 mx1.example.nl Error: timeout exceeded")
        .await;
    assert!(c.closed().await);
    c.finish().await;
    assert!(h.anomaly_kinds().contains(&AnomalyKind::SlowData));
    assert!(h.sightings().is_empty(), "nothing was captured");
}

#[tokio::test(start_paused = true)]
async fn a_large_message_at_a_modest_rate_is_accepted() {
    let h = harness().await;
    let mut c = in_data(&h).await;
    // A slow start (55 s, inside the grace), then 1 MiB in 16 pieces 10 s apart: 6.5 KB/s on
    // average over 215 s, far above 500 bytes/s, and longer than the grace.
    sleep(Duration::from_secs(55)).await;
    let line = format!("{}\r\n", "y".repeat(1022));
    let piece = line.repeat(64);
    let mut body = Vec::new();
    for _ in 0..16 {
        c.send(&piece).await;
        body.extend_from_slice(piece.as_bytes());
        sleep(Duration::from_secs(10)).await;
    }
    c.send(".\r\n").await;
    c.expect("250 2.0.0 Ok: queued as ").await;
    c.cmd("QUIT", "221 ").await;
    c.finish().await;
    let s = h.sightings();
    assert_eq!(s.len(), 1);
    assert_eq!(h.raw(&s[0].message_id), body);
    assert!(!h.anomaly_kinds().contains(&AnomalyKind::SlowData));
}

#[tokio::test(start_paused = true)]
async fn bdat_content_dripped_below_the_minimum_rate_is_cut_off() {
    let h = harness().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("drip@src.example", "250 ").await;
    c.rcpt_to("x@trap.example", "250 ").await;
    // 1 KiB in 20 s earns 2 s past the grace: the deadline is at 62 s.
    c.send(format!("BDAT 100000 LAST\r\n{}", "x".repeat(1024)))
        .await;
    sleep(Duration::from_secs(20)).await;
    c.send("y").await;
    sleep(Duration::from_secs(41)).await;
    assert_eq!(session_end(&h), None, "1025 bytes buy 2 s past the grace");
    sleep(Duration::from_secs(2)).await;
    assert_eq!(session_end(&h).as_deref(), Some("data-too-slow"));
    c.expect("421 4.4.2").await;
    assert!(h.anomaly_kinds().contains(&AnomalyKind::SlowData));
}

#[tokio::test(start_paused = true)]
async fn a_refused_bdat_chunk_swallowed_slowly_is_cut_off_too() {
    let h = harness().await;
    let mut c = h.connect();
    c.greeting().await;
    // No MAIL: the chunk is refused, but its bytes must still be read (they are not commands).
    c.send("BDAT 100000 LAST\r\nS").await;
    sleep(Duration::from_secs(59)).await;
    assert_eq!(session_end(&h), None);
    c.send("x").await;
    sleep(Duration::from_secs(2)).await;
    assert_eq!(session_end(&h).as_deref(), Some("data-too-slow"));
    c.expect("421 4.4.2").await;
}

#[tokio::test(start_paused = true)]
async fn zero_turns_both_deadlines_off() {
    let h = Harness::with(|c| {
        c.limits.command_deadline = Duration::ZERO;
        c.limits.min_data_rate = 0;
        c.limits.idle_timeout = Duration::from_secs(300);
    })
    .await;
    let mut c = h.connect();
    c.greeting().await;
    c.send("NO").await;
    sleep(Duration::from_secs(250)).await;
    c.send("O").await;
    sleep(Duration::from_secs(250)).await;
    c.cmd("P", "250 ").await;
    c.cmd("QUIT", "221 ").await;
    c.finish().await;
    assert_eq!(session_end(&h).as_deref(), Some("quit"));
}
