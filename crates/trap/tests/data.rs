//! DATA and BDAT: framing, size limits, smuggling sequences.

#![allow(clippy::unwrap_used)]

mod common;
use common::Harness;
use model::AnomalyKind;

async fn ready_for_data(h: &Harness) -> common::Client {
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("a@src.example", "250 ").await;
    c.rcpt_to("x@trap.example", "250 ").await;
    c
}

#[tokio::test]
async fn smuggling_sequences_are_data_and_recorded() {
    let h = Harness::new().await;
    let mut c = ready_for_data(&h).await;
    c.cmd("DATA", "354 ").await;
    c.send(b"Subject: s\r\n\r\nfirst\n.\nMAIL FROM:<evil@x>\r\nmore\r\n.\r\n")
        .await;
    c.expect("250 2.0.0 Ok: queued").await;
    let s = h.sightings();
    assert_eq!(
        h.raw(&s[0].message_id),
        b"Subject: s\r\n\r\nfirst\n.\nMAIL FROM:<evil@x>\r\nmore\r\n"
    );
    assert!(
        s[0].anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::SmtpSmuggling),
        "{:?}",
        s[0].anomalies
    );
}

#[tokio::test]
async fn message_over_the_size_limit_is_swallowed_and_refused() {
    let h = Harness::with(|c| c.limits.max_message_bytes = 1000).await;
    let mut c = ready_for_data(&h).await;
    c.cmd("DATA", "354 ").await;
    for _ in 0..100 {
        c.send(format!("{}\r\n", "x".repeat(98))).await;
    }
    c.send(".\r\n").await;
    c.expect("552 5.3.4 Error: message file too big").await;
    // The swallowed bytes were not read as commands, and the session goes on.
    c.mail_from("a@src.example", "250 ").await;
    assert!(h.sightings().is_empty());
    assert!(h.anomaly_kinds().contains(&AnomalyKind::MessageTooLarge));
}

#[tokio::test]
async fn bdat_chunks_with_last_are_stored_as_their_concatenation() {
    let h = Harness::new().await;
    let mut c = ready_for_data(&h).await;
    c.send("BDAT 14\r\nSubject: b\r\n\r\n").await;
    c.expect("250 2.0.0 Ok: 14 bytes").await;
    c.send("BDAT 10 LAST\r\n.body\r\n.\r\n").await;
    c.expect("250 2.0.0 Ok: queued as ").await;
    let s = h.sightings();
    // BDAT is not dot-stuffed: the dots are data.
    assert_eq!(h.raw(&s[0].message_id), b"Subject: b\r\n\r\n.body\r\n.\r\n");
}

#[tokio::test]
async fn bdat_zero_last_completes_the_message() {
    let h = Harness::new().await;
    let mut c = ready_for_data(&h).await;
    c.send("BDAT 4\r\nab\r\n").await;
    c.expect("250 ").await;
    c.send("BDAT 0 LAST\r\n").await;
    c.expect("250 2.0.0 Ok: queued").await;
    assert_eq!(h.raw(&h.sightings()[0].message_id), b"ab\r\n");
}

#[tokio::test]
async fn refused_bdat_still_swallows_its_chunk() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    // Without a transaction the chunk must not be parsed as commands.
    c.send("BDAT 22 LAST\r\nRCPT TO:<x@evil.org>\r\n").await;
    c.expect("503 5.5.1 Error: need MAIL command").await;
    c.cmd("NOOP", "250 ").await;
}

#[tokio::test]
async fn bdat_over_the_size_limit_is_refused_at_last() {
    let h = Harness::with(|c| c.limits.max_message_bytes = 10).await;
    let mut c = ready_for_data(&h).await;
    c.send("BDAT 8\r\n12345678").await;
    c.expect("250 ").await;
    c.send("BDAT 8 LAST\r\n12345678").await;
    c.expect("552 5.3.4").await;
    assert!(h.sightings().is_empty());
}

#[tokio::test]
async fn data_after_bdat_is_refused() {
    let h = Harness::new().await;
    let mut c = ready_for_data(&h).await;
    c.send("BDAT 2\r\nab").await;
    c.expect("250 ").await;
    c.cmd("DATA", "503 5.5.1 Error: DATA and BDAT cannot be mixed")
        .await;
}

#[tokio::test]
async fn eight_bit_bytes_and_a_utf8_sender_are_kept_exactly() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.cmd(
        "MAIL FROM:<jörg@src.example> SMTPUTF8 BODY=8BITMIME",
        "250 ",
    )
    .await;
    c.rcpt_to("jörg@trap.example", "250 ").await;
    let body = "Subject: Grüße\r\n\r\nÄÖÜ \u{202e}fdp.exe\r\n".as_bytes();
    c.data(body, "250 ").await;
    let s = h.sightings();
    assert_eq!(h.raw(&s[0].message_id), body);
    assert_eq!(s[0].sender(), "jörg@src.example");
}

#[tokio::test]
async fn identical_messages_share_a_blob_and_get_a_sighting_each() {
    let h = Harness::new().await;
    for _ in 0..2 {
        let mut c = h.connect();
        c.deliver("x@trap.example", b"same\r\n").await;
    }
    let s = h.sightings();
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].message_id, s[1].message_id);
    assert_ne!(s[0].id, s[1].id);
    assert_eq!(h.store.stats().unwrap().blobs, 1);
}
