//! URL extraction, normalisation, unwrapping and the URL findings.

use analysis::{Engine, Input, Limits};
use model::Report;
use model::report::UrlRecord;

fn mail(body: &str) -> String {
    format!(
        "From: a@sender.example\r\nSubject: hello\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

fn analyze(body: &str) -> Report {
    Engine::with_defaults().analyze(mail(body).as_bytes(), &Input::default())
}

fn html(body: &str) -> Report {
    let raw = format!(
        "From: a@sender.example\r\nSubject: hello\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{body}\r\n"
    );
    Engine::with_defaults().analyze(raw.as_bytes(), &Input::default())
}

fn url<'r>(r: &'r Report, u: &str) -> &'r UrlRecord {
    match r.urls.iter().find(|x| x.url == u) {
        Some(x) => x,
        None => panic!(
            "{u} not found in {:?}",
            r.urls.iter().map(|x| &x.url).collect::<Vec<_>>()
        ),
    }
}

fn has(r: &Report, signal: &str) -> bool {
    r.findings.iter().any(|f| f.signal == signal)
}

#[test]
fn plain_and_scheme_less_urls_are_found_and_normalised() {
    let r = analyze("Go to HTTPS://Example.COM:443/Path?q=1#frag now, or www.other.example/x.");
    let u = url(&r, "https://example.com/Path?q=1");
    assert_eq!(u.host, "example.com");
    assert_eq!(u.registered_domain.as_deref(), Some("example.com"));
    assert_eq!(u.defanged, "hxxps://example[.]com/Path?q=1");
    assert_eq!(u.sources, vec!["bodies[0]".to_string()]);
    url(&r, "http://www.other.example/x");
    let present = r
        .findings
        .iter()
        .filter(|f| f.signal == "url.present")
        .count();
    assert_eq!(present, 1);
}

#[test]
fn obfuscated_url_is_refanged_and_flagged() {
    let r = analyze("Payload at hxxps://evil[.]example/x and nothing else");
    let u = url(&r, "https://evil.example/x");
    assert!(u.obfuscated);
    assert_eq!(u.defanged, "hxxps://evil[.]example/x");
    assert!(has(&r, "url.obfuscated"));
    assert_eq!(
        r.urls.len(),
        1,
        "no fragments of the obfuscated URL: {:?}",
        r.urls
    );
}

#[test]
fn decimal_and_hex_ip_hosts_are_ip_literals() {
    let r = analyze("see http://3232235777/a and http://0x7f.1/b and http://198.51.100.7/c");
    let u = url(&r, "http://192.168.1.1/a");
    assert!(u.ip_literal);
    assert!(u.obfuscated);
    assert_eq!(u.host, "192.168.1.1");
    assert!(u.registered_domain.is_none());
    assert!(url(&r, "http://127.0.0.1/b").ip_literal);
    assert!(!url(&r, "http://198.51.100.7/c").obfuscated);
    assert!(has(&r, "url.ip-literal"));
}

#[test]
fn shortener_is_flagged() {
    let r = analyze("click https://bit.ly/3xYz now");
    assert!(url(&r, "https://bit.ly/3xYz").shortener);
    assert!(has(&r, "url.shortener"));
}

#[test]
fn google_redirect_is_unwrapped() {
    let r = analyze("https://www.google.com/url?q=https%3A%2F%2Fevil.example%2Flogin&sa=D");
    let outer = "https://www.google.com/url?q=https%3A%2F%2Fevil.example%2Flogin&sa=D";
    url(&r, outer);
    let inner = url(&r, "https://evil.example/login");
    assert_eq!(inner.unwrapped_from.as_deref(), Some(outer));
    assert!(has(&r, "url.redirect"));
}

#[test]
fn safelinks_and_urldefense_are_unwrapped() {
    let r = analyze(
        "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fphish.example%2Fa&data=x \
         https://urldefense.com/v3/__https://v3.example/p__;!!abc$",
    );
    url(&r, "https://phish.example/a");
    url(&r, "https://v3.example/p");
}

#[test]
fn punycode_host_is_flagged() {
    let r = analyze("https://www.pаypal.com/login");
    let u = r
        .urls
        .iter()
        .find(|u| u.host.contains("xn--"))
        .expect("punycode host");
    assert!(u.host.starts_with("www.xn--"));
    let f = r
        .findings
        .iter()
        .find(|f| f.signal == "url.punycode")
        .expect("punycode finding");
    assert!(f.detail.starts_with("mixed-script"), "{}", f.detail);
}

#[test]
fn non_web_schemes_are_not_urls() {
    let r = analyze("mailto:a@b.example tel:+31201234567 cid:img1 data:text/html,hi");
    assert!(r.urls.is_empty(), "{:?}", r.urls);
    assert!(!has(&r, "url.present"));
}

#[test]
fn html_attributes_yield_urls_with_their_source() {
    let r = html(
        r#"<html><head><style>body{background:url('https://css.example/bg.png')}</style>
        <meta http-equiv="refresh" content="5; url=https://refresh.example/"></head>
        <body background="https://bg.example/b.jpg"><a href="https://link.example/a">x</a>
        <img src="https://img.example/i.png" srcset="https://set.example/1.png 1x, https://set.example/2.png 2x">
        <div style="background-image: url(https://inline.example/c.png)">y</div>
        <form action="https://post.example/collect"><input name=q></form></body></html>"#,
    );
    assert_eq!(
        url(&r, "https://link.example/a").sources,
        vec!["bodies[0].href".to_string()]
    );
    for u in [
        "https://css.example/bg.png",
        "https://refresh.example/",
        "https://bg.example/b.jpg",
        "https://img.example/i.png",
        "https://set.example/1.png",
        "https://set.example/2.png",
        "https://inline.example/c.png",
        "https://post.example/collect",
    ] {
        url(&r, u);
    }
}

#[test]
fn duplicate_urls_are_one_record_with_bounded_sources() {
    let mut body = String::new();
    for _ in 0..30 {
        body.push_str("https://same.example/x ");
    }
    let r = analyze(&body);
    assert_eq!(r.urls.len(), 1);
    assert!(r.urls[0].sources.len() <= 10);
}

#[test]
fn ten_thousand_urls_are_bounded_and_the_limit_recorded() {
    let mut body = String::new();
    for i in 0..10_000 {
        body.push_str(&format!("https://host{i}.example/p{i}\r\n"));
    }
    let r = analyze(&body);
    let max = Limits::default().max_urls as usize;
    assert_eq!(r.urls.len(), max);
    assert!(r.budget.limits_hit.iter().any(|l| l == "max_urls"));
}

#[test]
fn huge_single_line_does_not_blow_up() {
    let mut body = "a.".repeat(300_000);
    body.push_str(&"hxxp[.]".repeat(50_000));
    body.push_str(&"x".repeat(200_000));
    let r = analyze(&body);
    assert!(r.urls.len() <= Limits::default().max_urls as usize);
}
