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
