//! Body analysis: visible text, language, lures, hidden text, link tricks, forms, hashes, and
//! hostile HTML.

use analysis::{Engine, Input};
use model::Report;

fn message(ctype: &str, subject: &str, body: &str) -> Report {
    let raw = format!(
        "From: a@sender.example\r\nSubject: {subject}\r\nDate: Tue, 2 Jan 2024 12:00:00 +0000\r\nMessage-ID: <1@sender.example>\r\nContent-Type: {ctype}; charset=utf-8\r\n\r\n{body}\r\n"
    );
    Engine::with_defaults().analyze(raw.as_bytes(), &Input::default())
}

fn signals(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.signal.as_str()).collect()
}

const DUTCH_INVOICE: &str = "Geachte klant,\r\n\r\nUit onze administratie blijkt dat de openstaande factuur \
van 18 maart nog niet is voldaan. Dit is de laatste betalingsherinnering voordat wij het dossier \
overdragen aan ons incassobureau. Wij verzoeken u het bedrag van EUR 249,95 binnen drie dagen over te \
maken. U vindt de factuur in de bijlage. Als u al heeft betaald, kunt u deze herinnering als niet \
verzonden beschouwen.\r\n\r\nMet vriendelijke groet,\r\nAfdeling debiteuren";

#[test]
fn dutch_invoice_lure_is_dutch_and_an_invoice_lure() {
    let r = message("text/plain", "Openstaande factuur 2024-0192", DUTCH_INVOICE);
    let b = &r.bodies[0];
    assert_eq!(b.language.as_deref(), Some("nl"));
    assert_eq!(b.charset.as_deref(), Some("utf-8"));
    assert!(
        b.excerpt
            .starts_with("Geachte klant, Uit onze administratie")
    );
    assert!(b.normalized_sha256.is_some());
    let f = r
        .findings
        .iter()
        .find(|f| f.signal == "lure.invoice")
        .expect("invoice lure");
    assert_eq!(f.at, "bodies[0]");
    assert!(f.detail.contains("betalingsherinnering"), "{}", f.detail);
}

#[test]
fn languages_are_told_apart() {
    let en = "Dear customer, we are writing to let you know that your account has been updated. \
              Please review the changes at your convenience and contact us if you have any \
              questions about this notice or the service that we provide to you.";
    let de = "Sehr geehrter Kunde, wir möchten Sie darüber informieren, dass Ihr Konto \
              aktualisiert wurde. Bitte prüfen Sie die Änderungen und wenden Sie sich an uns, \
              wenn Sie Fragen zu dieser Mitteilung oder zu unserem Dienst haben.";
    let fr = "Cher client, nous vous informons que votre compte a été mis à jour. Merci de \
              vérifier les modifications et de nous contacter si vous avez des questions sur \
              cet avis ou sur le service que nous vous fournissons dans la région.";
    let short = "Kort berichtje, tot zo.";
    for (text, lang) in [
        (en, Some("en")),
        (de, Some("de")),
        (fr, Some("fr")),
        (short, None),
    ] {
        let r = message("text/plain", "x", text);
        assert_eq!(r.bodies[0].language.as_deref(), lang, "{text}");
    }
}

#[test]
fn same_template_with_other_numbers_has_the_same_normalised_hash() {
    let a = message(
        "text/plain",
        "x",
        "Your code is 12345, see https://a.example/1 today",
    );
    let b = message(
        "text/plain",
        "y",
        "Your  code is 98765, see https://b.example/zz today",
    );
    assert_eq!(a.bodies[0].normalized_sha256, b.bodies[0].normalized_sha256);
}

#[test]
fn html_hidden_text_and_zero_width_characters_are_detected() {
    let html = "<html><body><p>Your pa\u{200b}ss\u{200b}word expires today</p>\
        <div style=\"display:none\">lorem ipsum salad words</div>\
        <span style='font-size:0px'>more filler</span>\
        <font color=\"#FFFFFF\">white on white</font>\
        <table bgcolor=\"#003366\"><tr><td style=\"color:#fff\">white on blue is fine</td></tr></table>\
        </body></html>";
    let r = message("text/html", "x", html);
    let b = &r.bodies[0];
    for t in ["zero-width", "hidden-css", "tiny-font", "same-colour"] {
        assert!(
            b.hidden_text.iter().any(|h| h == t),
            "{t} in {:?}",
            b.hidden_text
        );
    }
    assert!(
        b.excerpt.contains("Your password expires today"),
        "{}",
        b.excerpt
    );
    assert!(b.excerpt.contains("white on blue is fine"));
    assert!(!b.excerpt.contains("lorem"));
    assert!(!b.excerpt.contains("white on white"));
    assert!(signals(&r).contains(&"body.hidden-text"));
}

#[test]
fn bidi_override_in_plain_text_is_detected() {
    let r = message(
        "text/plain",
        "x",
        "Open the file invoice\u{202e}fdp.exe now",
    );
    assert!(r.bodies[0].hidden_text.iter().any(|h| h == "bidi-override"));
}

#[test]
fn plain_newsletter_has_no_hidden_text() {
    let r = message(
        "text/html",
        "x",
        "<p style=\"color:#333; font-size:14px\">Hello &amp; welcome</p>",
    );
    assert!(r.bodies[0].hidden_text.is_empty());
    assert!(r.bodies[0].excerpt.contains("Hello & welcome"));
    assert!(!signals(&r).contains(&"body.hidden-text"));
}

#[test]
fn link_text_showing_another_domain_is_a_mismatch() {
    let r = message(
        "text/html",
        "x",
        "<a href=\"https://login.evil.example/paypal\">https://www.paypal.com/signin</a> \
         <a href=\"https://www.paypal.com/x\">www.paypal.com</a> <a href=\"https://a.example/\">Click here</a>",
    );
    let hits: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.signal == "url.text-mismatch")
        .collect();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert!(hits[0].detail.contains("paypal.com") && hits[0].detail.contains("evil.example"));
}

#[test]
fn password_form_in_a_body_is_a_credential_form() {
    let r = message(
        "text/html",
        "x",
        "<form action=\"https://collect.example/p.php\" method=post><input type=email name=u>\
         <input type=\"Password\" name=p></form>",
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.signal == "html.credential-form")
        .expect("credential form");
    assert!(f.detail.contains("collect.example"));
}

#[test]
fn credential_lure_with_link_is_phishing() {
    let r = message(
        "text/plain",
        "Action required",
        "Unusual sign-in activity was detected. Verify your account within 24 hours at https://secure-check.example/login",
    );
    assert!(signals(&r).contains(&"lure.credentials"));
    assert_eq!(r.verdict.class, model::VerdictClass::Phishing);
}

#[test]
fn single_weak_phrase_is_no_lure() {
    let r = message(
        "text/plain",
        "x",
        "Your package of biscuits is on the table.",
    );
    assert!(!signals(&r).iter().any(|s| s.starts_with("lure.")));
}

#[test]
fn ransom_and_extortion_wording_are_recognised() {
    let r = message(
        "text/plain",
        "x",
        "Uw bestanden zijn versleuteld. Download de Tor browser en ga naar abcdef.onion",
    );
    assert!(signals(&r).contains(&"lure.ransom"));
    let r = message(
        "text/plain",
        "x",
        "I hacked your device and recorded you. Pay in bitcoin within 48 hours or I send to all your contacts.",
    );
    assert!(signals(&r).contains(&"lure.extortion"));
}

#[test]
fn pathological_html_does_not_blow_up() {
    let deep = "<div>".repeat(100_000) + "deep text" + &"</div>".repeat(100_000);
    let r = message("text/html", "x", &deep);
    assert!(r.bodies[0].excerpt.contains("deep text"));
    let unterminated = "<a href=\"https://x.example/".to_string() + &"y".repeat(500_000);
    let r = message("text/html", "x", &unterminated);
    assert_eq!(r.bodies.len(), 1);
    let garbage = "<<<<>>>>&#99999999;&#x;&&&<!--<script>".repeat(20_000);
    let r = message("text/html", "x", &garbage);
    assert_eq!(r.bodies.len(), 1);
    let line = "word".repeat(600_000);
    let r = message("text/plain", "x", &line);
    assert_eq!(r.bodies.len(), 1);
}
