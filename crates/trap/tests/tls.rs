//! STARTTLS: the upgrade, the injection defence, and the facts recorded about the handshake.

#![allow(clippy::unwrap_used)]

mod common;
use common::Harness;
use common::connector;
use model::AnomalyKind;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn read_reply<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> String {
    let mut out = Vec::new();
    loop {
        let mut b = [0u8; 1024];
        let n = s.read(&mut b).await.unwrap();
        assert!(n > 0, "closed");
        out.extend_from_slice(&b[..n]);
        let text = String::from_utf8_lossy(&out).into_owned();
        if text.ends_with("\r\n")
            && text
                .lines()
                .last()
                .is_some_and(|l| l.len() >= 4 && &l[3..4] == " ")
        {
            return text;
        }
    }
}

#[tokio::test]
async fn starttls_upgrades_and_discards_injected_commands() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    // CVE-2011-0411: NOOP rides in the same packet as STARTTLS.
    c.send("STARTTLS\r\nNOOP\r\n").await;
    c.expect("220 2.0.0 Ready to start TLS").await;
    let name = ServerName::try_from("mx1.example.nl").unwrap();
    let mut tls = connector().connect(name, c.io).await.unwrap();
    tls.write_all(b"EHLO after.example\r\n").await.unwrap();
    let ehlo = read_reply(&mut tls).await;
    // The first thing said inside TLS answers our EHLO, not the injected NOOP.
    assert!(ehlo.starts_with("250-mx1.example.nl"), "{ehlo}");
    assert!(!ehlo.contains("STARTTLS"), "STARTTLS offered twice: {ehlo}");
    tls.write_all(b"MAIL FROM:<a@src.example>\r\nRCPT TO:<x@trap.example>\r\nDATA\r\n")
        .await
        .unwrap();
    let mut replies = String::new();
    while !replies.contains("354") {
        replies.push_str(&read_reply(&mut tls).await);
    }
    tls.write_all(b"secret\r\n.\r\n").await.unwrap();
    assert!(
        read_reply(&mut tls)
            .await
            .starts_with("250 2.0.0 Ok: queued")
    );
    let s = h.sightings();
    let info = s[0].tls.clone().expect("tls facts recorded");
    assert!(info.version.contains("TLSv1_3"), "{info:?}");
    assert_eq!(info.sni.as_deref(), Some("mx1.example.nl"));
    assert!(
        info.ja4.as_deref().is_some_and(|j| j.starts_with("t13d")),
        "{info:?}"
    );
    assert_eq!(s[0].helo.as_deref(), Some("after.example"));
    assert!(h.anomaly_kinds().contains(&AnomalyKind::StarttlsInjection));
}

#[tokio::test]
async fn a_failed_handshake_is_recorded_not_fatal_to_the_server() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.cmd("STARTTLS", "220 ").await;
    // An SSLv3-era ClientHello rustls will refuse.
    c.send(b"\x16\x03\x00\x00\x2d\x01\x00\x00\x29\x03\x00".to_vec())
        .await;
    c.send(vec![0u8; 32]).await;
    c.send(b"\x00\x00\x02\x00\x05\x01\x00".to_vec()).await;
    assert!(c.closed().await);
    c.finish().await;
    assert!(h.anomaly_kinds().contains(&AnomalyKind::TlsHandshakeFailed));
    // The trap still serves the next client.
    let mut d = h.connect();
    d.greeting().await;
}
