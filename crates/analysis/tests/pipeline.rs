//! End-to-end behaviour of the engine on small messages made here.

use analysis::{Engine, Input};
use model::VerdictClass;

fn analyze(raw: &str) -> model::Report {
    Engine::with_defaults().analyze(raw.as_bytes(), &Input::default())
}

#[test]
fn plain_message_is_spam_with_a_reason() {
    let r = analyze("From: a@b.example\r\nSubject: hi\r\n\r\nbuy now\r\n");
    assert_eq!(r.verdict.class, VerdictClass::Spam);
    assert!(r.verdict.reasons.iter().any(|x| x.rule == "unsolicited"));
    assert_eq!(
        r.message_id,
        model::MessageId::of(b"From: a@b.example\r\nSubject: hi\r\n\r\nbuy now\r\n")
    );
}

#[test]
fn empty_input_is_unknown_and_does_not_panic() {
    let r = analyze("");
    assert_eq!(r.verdict.class, VerdictClass::Unknown);
    assert!(!r.anomalies.is_empty());
}

#[test]
fn delivery_report_is_benign() {
    let r = analyze(
        "From: MAILER-DAEMON@x.example\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nundeliverable\r\n--b--\r\n",
    );
    assert_eq!(r.verdict.class, VerdictClass::Benign);
}

#[test]
fn shipped_rules_parse_and_have_unique_ids() {
    let rules = analysis::Rules::builtin();
    assert!(rules.ids().count() > 20);
}

#[test]
fn findings_are_bounded_whatever_the_message_holds() {
    let mut body = String::new();
    for i in 0..3000u32 {
        body.push_str(&format!(
            "http://10.{}.{}.1/x http://bit.ly/{i}\r\n",
            i / 256,
            i % 256
        ));
    }
    let r = analyze(&format!("From: a@b.example\r\nSubject: many\r\n\r\n{body}"));
    assert!(r.findings.len() <= 1_000, "{} findings", r.findings.len());
    assert!(r.findings.iter().any(|f| f.signal == "url.ip-literal"));
    assert!(r.budget.limits_hit.iter().any(|l| l == "max_urls"));
    // Deceptive links alone are not phishing: no lure, no brand.
    assert_eq!(r.verdict.class, VerdictClass::Spam, "{:?}", r.verdict);
}
