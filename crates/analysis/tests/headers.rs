//! Header decoding, the Received chain, the origin and the sender consistency checks.

use analysis::{Engine, Input};
use model::{Report, Sighting};

fn analyze(raw: &str) -> Report {
    Engine::with_defaults().analyze(raw.as_bytes(), &Input::default())
}

/// A sighting as the trap records it, built from JSON so the test needs no uuid/time crates.
fn sighting(raw: &str, peer: &str, mail_from: &str, rcpt: &str) -> Sighting {
    let json = serde_json::json!({
        "id": "01890a5d-ac96-774b-bcce-b302099a8057",
        "message_id": model::MessageId::of(raw.as_bytes()).to_string(),
        "received_at": "2026-01-02T03:04:05Z",
        "source": {"kind": "smtp"},
        "size": raw.len(),
        "session_id": "01890a5d-ac96-774b-bcce-b302099a8058",
        "listener": "smtp",
        "peer": peer,
        "local": "192.0.2.1:25",
        "envelope": {
            "mail_from": {"raw": format!("MAIL FROM:<{mail_from}>"), "address": mail_from},
            "recipients": [{"raw": format!("RCPT TO:<{rcpt}>"), "address": rcpt,
                            "verdict": "accepted", "reply": "250 2.1.5 Ok"}]
        }
    });
    match serde_json::from_value(json) {
        Ok(s) => s,
        Err(e) => panic!("test sighting does not deserialise: {e}"),
    }
}

fn signals(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.signal.as_str()).collect()
}

const CHAIN: &str = "Received: from mx.internal.example (mx.internal.example [10.0.0.5])\r\n\tby trap.example (Postfix) with ESMTP id 4AbC1;\r\n\tTue, 2 Jan 2024 10:00:03 +0000\r\n\
Received: from relay.example (relay.example [185.220.101.33])\r\n\tby mx.internal.example with ESMTPS id XYZ;\r\n\tTue, 2 Jan 2024 10:00:02 +0000\r\n\
Received: from pc (unknown [192.168.1.20])\r\n\tby relay.example with SMTP id QQ;\r\n\tTue, 2 Jan 2024 10:00:01 +0000\r\n";

#[test]
fn rfc2047_names_and_subject_are_decoded() {
    let r = analyze(
        "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <j@sender.example>\r\nTo: =?ISO-8859-1?Q?Ren=E9?= <rene@trap.example>\r\nSubject: =?UTF-8?Q?Factuur_=E2=82=AC_120?=\r\nDate: Tue, 2 Jan 2024 12:00:00 +0100\r\nMessage-ID: <abc@sender.example>\r\nX-Mailer: Foo Mailer 1.0\r\n\r\nhi\r\n",
    );
    let h = &r.headers;
    let from = h.from.as_ref().expect("from");
    assert_eq!(from.name.as_deref(), Some("Jürgen Müller"));
    assert_eq!(from.address.as_deref(), Some("j@sender.example"));
    assert_eq!(h.to[0].name.as_deref(), Some("René"));
    assert_eq!(h.subject.as_deref(), Some("Factuur € 120"));
    assert_eq!(h.date_utc.as_deref(), Some("2024-01-02T11:00:00Z"));
    assert_eq!(h.date.as_deref(), Some("Tue, 2 Jan 2024 12:00:00 +0100"));
    assert_eq!(h.message_id.as_deref(), Some("abc@sender.example"));
    assert_eq!(h.x_mailer.as_deref(), Some("Foo Mailer 1.0"));
    assert!(!signals(&r).contains(&"header.missing-date"));
}

#[test]
fn received_chain_origin_is_the_oldest_public_hop() {
    let raw = format!("{CHAIN}From: a@sender.example\r\nSubject: x\r\n\r\nbody\r\n");
    let r = analyze(&raw);
    let hops = &r.headers.received;
    assert_eq!(hops.len(), 3);
    assert_eq!(hops[0].from_ip.as_deref(), Some("10.0.0.5"));
    assert_eq!(hops[0].by_host.as_deref(), Some("trap.example"));
    assert_eq!(hops[0].id.as_deref(), Some("4AbC1"));
    assert_eq!(hops[0].date_utc.as_deref(), Some("2024-01-02T10:00:03Z"));
    assert_eq!(hops[2].from_ip.as_deref(), Some("192.168.1.20"));
    let origin = r.headers.origin.as_ref().expect("origin");
    assert_eq!(origin.ip, "185.220.101.33");
    assert_eq!(origin.trust, "claimed");
    assert_eq!(origin.at, "headers.received[1]");
}

#[test]
fn sighting_peer_is_the_origin_with_connection_trust() {
    let raw = format!("{CHAIN}From: a@sender.example\r\nSubject: x\r\n\r\nbody\r\n");
    let s = sighting(
        &raw,
        "45.33.32.156:51234",
        "bounce@sender.example",
        "jan@trap.example",
    );
    let input = Input {
        sighting: Some(&s),
        auth: None,
    };
    let r = Engine::with_defaults().analyze(raw.as_bytes(), &input);
    let origin = r.headers.origin.as_ref().expect("origin");
    assert_eq!(origin.ip, "45.33.32.156");
    assert_eq!(origin.trust, "connection");
    assert_eq!(origin.at, "sighting.peer");
    assert!(!signals(&r).contains(&"header.envelope-sender-mismatch"));
}

#[test]
fn envelope_sender_of_another_domain_is_flagged() {
    let raw = "From: a@bank.example\r\nSubject: x\r\n\r\nbody\r\n";
    let s = sighting(
        raw,
        "45.33.32.156:51234",
        "x@bulk-mailer.example",
        "jan@trap.example",
    );
    let input = Input {
        sighting: Some(&s),
        auth: None,
    };
    let r = Engine::with_defaults().analyze(raw.as_bytes(), &input);
    assert!(signals(&r).contains(&"header.envelope-sender-mismatch"));
}

#[test]
fn unparseable_received_is_kept_best_effort() {
    let r = analyze(
        "Received: garbage garbage from [203.0.113.9] by\r\nFrom: a@b.example\r\n\r\nx\r\n",
    );
    assert_eq!(r.headers.received.len(), 1);
}

#[test]
fn reply_to_at_another_domain_is_flagged() {
    let r = analyze(
        "From: Boss <ceo@company.example>\r\nReply-To: ceo.private@gmail.com\r\nSubject: x\r\n\r\nbody\r\n",
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.signal == "header.reply-to-elsewhere")
        .expect("reply-to finding");
    assert_eq!(f.at, "headers.reply_to");
    assert!(f.detail.contains("gmail.com"));
}

#[test]
fn reply_to_at_a_subdomain_of_the_sender_is_not_flagged() {
    let r = analyze(
        "From: a@company.example\r\nReply-To: b@support.company.example\r\nSubject: x\r\n\r\nbody\r\n",
    );
    assert!(!signals(&r).contains(&"header.reply-to-elsewhere"));
}

#[test]
fn brand_display_name_from_a_foreign_domain_is_flagged() {
    let r = analyze(
        "From: \"PayPal Service\" <no-reply@paypa1-secure.example>\r\nSubject: x\r\n\r\nbody\r\n",
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.signal == "header.from-brand-mismatch")
        .expect("brand finding");
    assert!(f.detail.contains("paypal"), "{}", f.detail);
}

#[test]
fn brand_display_name_from_the_brand_domain_is_not_flagged() {
    let r = analyze("From: \"PayPal\" <service@paypal.co.uk>\r\nSubject: x\r\n\r\nbody\r\n");
    assert!(!signals(&r).contains(&"header.from-brand-mismatch"));
    let r = analyze("From: \"Billing Team\" <a@shop.example>\r\nSubject: x\r\n\r\nbody\r\n");
    assert!(
        !signals(&r).contains(&"header.from-brand-mismatch"),
        "ING is not in Billing"
    );
}

#[test]
fn address_in_display_name_is_flagged() {
    let r =
        analyze("From: \"security@rabobank.nl\" <x@mailer.example>\r\nSubject: x\r\n\r\nbody\r\n");
    let s = signals(&r);
    assert!(s.contains(&"header.from-display-address"));
    assert!(s.contains(&"header.from-brand-mismatch"));
}

#[test]
fn missing_date_and_message_id_are_flagged() {
    let r = analyze("From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n");
    let s = signals(&r);
    assert!(s.contains(&"header.missing-date"));
    assert!(s.contains(&"header.missing-message-id"));
}

#[test]
fn subject_template_folds_what_varies() {
    let raw = "From: a@b.example\r\nTo: Jan Jansen <jan.jansen@trap.example>\r\nSubject: Invoice 48213 for jan.jansen due 2024-03-01 ref A7F3K9Q2 see https://x.example/p\r\n\r\nx\r\n";
    let r = analyze(raw);
    assert_eq!(
        r.headers.subject_template.as_deref(),
        Some("Invoice {num} for {name} due {date} ref {id} see {url}")
    );
}

#[test]
fn list_unsubscribe_urls_are_recorded() {
    let r = analyze(
        "From: a@b.example\r\nList-Unsubscribe: <mailto:u@b.example?subject=x>, <https://b.example/unsub?id=1>\r\nSubject: x\r\n\r\nbody\r\n",
    );
    assert_eq!(r.headers.list_unsubscribe.len(), 2);
    let u = r
        .urls
        .iter()
        .find(|u| u.url == "https://b.example/unsub?id=1")
        .expect("unsubscribe URL");
    assert_eq!(u.sources, vec!["headers.list_unsubscribe".to_string()]);
}

#[test]
fn hostile_headers_do_not_panic() {
    let mut raw = String::new();
    for i in 0..200 {
        raw.push_str(&format!("Received: from x{i} ([999.1.1.1]) by (((\r\n"));
    }
    raw.push_str("From: \"=?UTF-8?B?////?=\" <@@@>\r\nReply-To: <>\r\nSubject: ");
    raw.push_str(&"A1b2C3 ".repeat(20_000));
    raw.push_str("\r\n\r\nx\r\n");
    let r = analyze(&raw);
    assert!(r.headers.received.len() <= 50);
    assert!(r.headers.subject.as_ref().is_some_and(|s| s.len() < 1_000));
}
