//! The relay table: every trick refused with 554 Relay access denied, trap recipients accepted.

#![allow(clippy::unwrap_used)]

mod common;
use common::Harness;

/// Recipient forms an open-relay tester (nmap smtp-open-relay, RelayScanner, bots) tries.
const REFUSED: &[&str] = &[
    "<victim@elsewhere.example>",
    "<victim%elsewhere.example@trap.example>",
    "<victim%elsewhere.example>",
    "<elsewhere.example!victim@trap.example>",
    "<elsewhere.example!victim>",
    "<\"victim@elsewhere.example\"@trap.example>",
    "<\"victim%elsewhere.example\"@trap.example>",
    "<@trap.example:victim@elsewhere.example>",
    "<@trap.example,@relay.example:victim@elsewhere.example>",
    "<@elsewhere.example:victim@trap.example>",
    "<victim@[192.0.2.1]>",
    "<victim@[127.0.0.1]>",
    "<victim@[IPv6:::1]>",
    "<victim@trap.example.elsewhere.example>",
    "<victim@eviltrap.example>",
    "<victim@evil-trap.example>",
    "<victim@trap.examplee>",
    "<victim@xtrap.example>",
    "<victim@wild.example.evil.org>",
    "<victim@notwild.example>",
    "<victim>",
    "<root>",
    "<victim@elsewhere.example@trap.example>",
    "<victim@trap.example@elsewhere.example>",
    "victim@elsewhere.example",
    "<VICTIM@ELSEWHERE.EXAMPLE>",
    "<victim@localhost>",
    "<victim@elsewhere.example.>",
    "<\"victim!elsewhere\"@trap.example>",
    "<victim@trap.example:25>",
];

const ACCEPTED: &[&str] = &[
    "<victim@trap.example>",
    "<Victim@TRAP.EXAMPLE>",
    "<victim@trap.example.>",
    "<victim@sub.wild.example>",
    "<victim@a.b.wild.example>",
    "<victim@wild.example>",
    "<victim@bücher.example>",
    "<victim@xn--bcher-kva.example>",
    "<postmaster>",
    "<Postmaster>",
    "<postmaster@trap.example>",
    "victim@trap.example",
];

#[tokio::test]
async fn every_relay_trick_is_refused_and_trap_recipients_are_accepted() {
    let h = Harness::with(|c| c.limits.max_errors = 1000).await;
    let mut c = h.connect();
    c.greeting().await;
    c.cmd("EHLO relaytest.example", "250-").await;
    c.cmd("MAIL FROM:<tester@src.example> SMTPUTF8", "250 ")
        .await;
    assert!(REFUSED.len() >= 25);
    for rcpt in REFUSED {
        let r = c.cmd(&format!("RCPT TO:{rcpt}"), "5").await;
        assert!(
            r.starts_with("554 5.7.1 ") && r.contains("Relay access denied")
                || r.starts_with("501 "),
            "{rcpt} got {r}"
        );
    }
    for rcpt in ACCEPTED {
        let r = c.cmd(&format!("RCPT TO:{rcpt}"), "2").await;
        assert!(r.starts_with("250 2.1.5"), "{rcpt} got {r}");
    }
    c.data(b"Subject: relay test\r\n\r\n", "250 ").await;
    let s = h.sightings();
    assert_eq!(s[0].envelope.accepted().count(), ACCEPTED.len());
}

#[tokio::test]
async fn operator_address_policies_answer_per_address() {
    let h = Harness::new().await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("a@src.example", "250 ").await;
    c.rcpt_to(
        "retired@trap.example",
        "550 5.1.1 <retired@trap.example>: Recipient address rejected",
    )
    .await;
    c.rcpt_to("Resting@Trap.Example", "450 4.2.0").await;
    c.rcpt_to("active@trap.example", "250 ").await;
}

#[tokio::test]
async fn recipients_past_the_limit_get_452() {
    let h = Harness::with(|c| c.limits.max_recipients = 3).await;
    let mut c = h.connect();
    c.greeting().await;
    c.ehlo().await;
    c.mail_from("a@src.example", "250 ").await;
    for i in 0..3 {
        c.rcpt_to(&format!("u{i}@trap.example"), "250 ").await;
    }
    c.rcpt_to("u4@trap.example", "452 4.5.3 Error: too many recipients")
        .await;
}
