//! Pure parts of the alert sinks: signature, bodies, defanging, syslog lines, retry policy,
//! configuration. Hostile strings everywhere a rule or a message can put text.

use feeds::alert::*;
use model::alert::Evidence;
use model::report::{Indicator, IndicatorKind};
use model::{Alert, Severity};
use std::time::{Duration, Instant};

fn alert() -> Alert {
    Alert {
        id: uuid::Uuid::parse_str("0190f5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b").expect("uuid literal"),
        rule: "new-malicious-campaign".to_owned(),
        severity: Severity::High,
        campaign: Some(42),
        campaign_uuid: None,
        title: "New malicious campaign: invoice lure".to_owned(),
        summary: "5 messages from 3 sources in 10 minutes".to_owned(),
        evidence: vec![Evidence {
            what: "messages".to_owned(),
            detail: "5 within 600 s".to_owned(),
            message: None,
        }],
        indicators: vec![Indicator {
            kind: IndicatorKind::Url,
            value: "https://evil.example.com/pay?x=<b>&y=1".to_owned(),
            at: "body".to_owned(),
        }],
        triggered_at: time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789)
            .expect("timestamp literal"),
        created_at: time::OffsetDateTime::from_unix_timestamp_nanos(1_700_000_001_123_456_789)
            .expect("timestamp literal"),
        dedup_key: "new-malicious-campaign/42".to_owned(),
    }
}

fn origin() -> SyslogOrigin {
    SyslogOrigin {
        facility: 13,
        hostname: "trap1".to_owned(),
        app_name: "spamhattan".to_owned(),
    }
}

// ---- Standard Webhooks ----

#[test]
fn sign_matches_the_published_standard_webhooks_vector() {
    // Test vector from the Standard Webhooks specification repository.
    let sig = sign(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        br#"{"test": 2432232314}"#,
    );
    assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

#[test]
fn secret_without_prefix_is_used_as_raw_bytes() {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(b"plain shared secret");
    let raw = sign("plain shared secret", "id", 1, b"{}");
    let prefixed = sign(&format!("whsec_{encoded}"), "id", 1, b"{}");
    assert_eq!(raw, prefixed);
    assert_ne!(raw, sign("plain shared secret", "id", 2, b"{}"));
    assert_ne!(raw, sign("plain shared secret", "id", 1, b"{ }"));
}

#[test]
fn unusable_secrets_are_refused() {
    assert!(signing_key("whsec_not base64!").is_err());
    assert!(signing_key("whsec_").is_err());
    assert!(signing_key("").is_err());
    assert_eq!(
        signing_key("whsec_AAEC").expect("valid base64"),
        vec![0, 1, 2]
    );
}

#[test]
fn standard_body_wraps_the_alert_as_an_event() -> Result<(), Box<dyn std::error::Error>> {
    let a = alert();
    let body: serde_json::Value = serde_json::from_slice(&standard_body(&a)?)?;
    assert_eq!(body["type"], "spamhattan.alert.raised");
    let ts = body["timestamp"].as_str().ok_or("timestamp is a string")?;
    let parsed = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)?;
    assert_eq!(parsed, a.created_at);
    let back: Alert = serde_json::from_value(body["data"].clone())?;
    assert_eq!(back, a);
    Ok(())
}

// ---- chat ----

fn all_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| all_strings(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| all_strings(x, out)),
        _ => {}
    }
}

#[test]
fn defang_breaks_links_addresses_and_mentions() {
    assert_eq!(defang("see https://a.b/c."), "see hxxps://a[.]b/c.");
    assert_eq!(defang("HTTP://X.COM"), "hxxp://X[.]COM");
    assert_eq!(defang("ftp://1.2.3.4/x"), "fxp://1[.]2[.]3[.]4/x");
    assert_eq!(defang("mail bob@corp.nl now"), "mail bob[@]corp[.]nl now");
    assert_eq!(defang("@channel look"), "[@]channel look");
    assert_eq!(defang("The end."), "The end.");
    assert_eq!(defang("httpx and http:/ stay"), "httpx and http:/ stay");
}

#[test]
fn slack_message_has_no_live_link_and_no_control_syntax() -> Result<(), Box<dyn std::error::Error>>
{
    let mut a = alert();
    a.title = "Pay now <!channel> <https://bank.example.nl|your bank> & win".to_owned();
    a.summary = "contact @here or ceo@bank.example.nl".to_owned();
    let msg: serde_json::Value = serde_json::from_slice(&chat_body(&a, ChatFlavour::Slack)?)?;
    let mut strings = Vec::new();
    all_strings(&msg, &mut strings);
    for s in &strings {
        assert!(
            !s.contains('<') && !s.contains('>'),
            "raw control syntax in {s:?}"
        );
        assert!(
            !s.to_ascii_lowercase().contains("http"),
            "live scheme in {s:?}"
        );
        assert!(
            !s.contains("example.com") && !s.contains("bank.example.nl"),
            "live host in {s:?}"
        );
        assert!(!s.contains(" @here"), "mention in {s:?}");
    }
    let text = msg["text"].as_str().ok_or("text")?;
    assert!(
        text.starts_with("*[HIGH]* Pay now &lt;!channel&gt;"),
        "{text}"
    );
    assert!(text.contains("&amp; win"), "{text}");
    let fields = msg["attachments"][0]["fields"].as_array().ok_or("fields")?;
    let indicators = fields
        .iter()
        .find(|f| f["title"] == "Indicators")
        .ok_or("indicator field")?;
    assert_eq!(
        indicators["value"],
        "• url `hxxps://evil[.]example[.]com/pay?x=&lt;b&gt;&amp;y=1`"
    );
    let rule = fields
        .iter()
        .find(|f| f["title"] == "Rule")
        .ok_or("rule field")?;
    assert_eq!(rule["value"], "new-malicious-campaign");
    let campaign = fields
        .iter()
        .find(|f| f["title"] == "Campaign")
        .ok_or("campaign")?;
    assert_eq!(campaign["value"], "#42");
    Ok(())
}

#[test]
fn mattermost_uses_its_bold_and_bounds_long_lists() -> Result<(), Box<dyn std::error::Error>> {
    let mut a = alert();
    a.indicators = (0..25)
        .map(|i| Indicator {
            kind: IndicatorKind::Domain,
            value: format!("d{i}.example`x"),
            at: "body".to_owned(),
        })
        .collect();
    a.title = "x".repeat(10_000);
    let msg = chat_message(&a, ChatFlavour::Mattermost);
    let text = msg["text"].as_str().ok_or("text")?;
    assert!(text.starts_with("**[HIGH]** "), "{text}");
    assert!(
        text.chars().count() < MAX_CHAT_TITLE_CHARS + 100,
        "title not bounded"
    );
    let fields = msg["attachments"][0]["fields"].as_array().ok_or("fields")?;
    let value = fields
        .iter()
        .find(|f| f["title"] == "Indicators")
        .and_then(|f| f["value"].as_str())
        .ok_or("indicators")?;
    let lines: Vec<&str> = value.lines().collect();
    assert_eq!(lines.len(), MAX_CHAT_INDICATORS + 1);
    assert_eq!(lines[0], "• domain `d0[.]example'x`");
    assert_eq!(lines[MAX_CHAT_INDICATORS], "… and 15 more");
    Ok(())
}

// ---- syslog ----

/// An independent reading of one RFC 5424 line: header fields, SD params (unescaped), MSG.
struct Parsed {
    header: Vec<String>,
    params: Vec<(String, String)>,
    msg: String,
}

fn parse_5424(line: &str) -> Parsed {
    let mut rest = line;
    let mut header = Vec::new();
    for _ in 0..6 {
        let (field, tail) = rest.split_once(' ').expect("header field");
        header.push(field.to_owned());
        rest = tail;
    }
    let mut params = Vec::new();
    let msg;
    if let Some(tail) = rest.strip_prefix("- ") {
        msg = tail.to_owned();
    } else {
        let mut chars = rest.strip_prefix('[').expect("SD element").chars();
        let id: String = chars.by_ref().take_while(|c| *c != ' ').collect();
        assert_eq!(id, SD_ID);
        loop {
            let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert_eq!(chars.next(), Some('"'));
            let mut value = String::new();
            loop {
                match chars.next().expect("unterminated value") {
                    '\\' => value.push(chars.next().expect("escaped char")),
                    '"' => break,
                    c => value.push(c),
                }
            }
            params.push((name.trim().to_owned(), value));
            match chars.next() {
                Some(' ') => continue,
                Some(']') => break,
                other => panic!("unexpected {other:?} after a param"),
            }
        }
        let tail: String = chars.collect();
        msg = tail.strip_prefix(' ').expect("space before MSG").to_owned();
    }
    Parsed {
        header,
        params,
        msg,
    }
}

#[test]
fn rfc5424_line_has_every_field_in_place() {
    let line = format_rfc5424(&alert(), &origin());
    let p = parse_5424(&line);
    // facility 13 * 8 + high (3)
    assert_eq!(p.header[0], "<107>1");
    assert_eq!(p.header[1], "2023-11-14T22:13:21.123456Z");
    assert_eq!(p.header[2..], ["trap1", "spamhattan", "-", "alert"]);
    let want = [
        ("rule", "new-malicious-campaign"),
        ("severity", "high"),
        ("campaign", "42"),
        ("id", "0190f5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b"),
    ];
    let got: Vec<(&str, &str)> = p
        .params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(p.msg, "New malicious campaign: invoice lure");
}

#[test]
fn hostile_rule_and_title_cannot_break_the_record() {
    let mut a = alert();
    a.rule = r#"x" evil="1"] [fake@1 a="b\"#.to_owned();
    a.title = "line one\nFAKE <13>1 2024 forged\r\nline".to_owned();
    a.campaign = None;
    let line = format_rfc5424(&a, &origin());
    assert!(!line.contains('\n') && !line.contains('\r'));
    let p = parse_5424(&line);
    assert_eq!(p.params[0], ("rule".to_owned(), a.rule.clone()));
    assert_eq!(p.params.len(), 3, "campaign omitted, nothing injected");
    assert_eq!(p.msg, "line one FAKE <13>1 2024 forged  line");
}

#[test]
fn non_ascii_message_starts_with_a_bom_and_ascii_does_not() {
    let mut a = alert();
    a.title = "Factuur €120 – betaal nu".to_owned();
    assert!(
        parse_5424(&format_rfc5424(&a, &origin()))
            .msg
            .starts_with("\u{feff}Factuur €120")
    );
    assert!(
        !parse_5424(&format_rfc5424(&alert(), &origin()))
            .msg
            .starts_with('\u{feff}')
    );
}

/// Splits on `|` not preceded by a backslash escape, unescaping `\|` and `\\`.
fn split_cef_header(cef: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut chars = cef.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if parts.len() < 8 => {
                let next = chars.next().expect("escape");
                parts.last_mut().expect("part").push(next);
            }
            '|' if parts.len() < 8 => parts.push(String::new()),
            c => parts.last_mut().expect("part").push(c),
        }
    }
    parts
}

#[test]
fn cef_escapes_pipes_backslashes_equals_and_newlines() {
    let mut a = alert();
    a.rule = r"rule|with\pipe".to_owned();
    a.title = "a|b\\c\nd".to_owned();
    a.summary = "k=v\\x\nnext line|pipe".to_owned();
    let cef = cef_message(&a);
    assert!(!cef.contains('\n'));
    let parts = split_cef_header(&cef);
    assert_eq!(parts.len(), 8, "{cef}");
    assert_eq!(parts[0], "CEF:0");
    assert_eq!(parts[1..3], ["spamhattan", "spamhattan"]);
    assert_eq!(parts[4], r"rule|with\pipe");
    assert_eq!(parts[5], "a|b\\c d");
    assert_eq!(parts[6], "8");
    assert!(
        parts[7].contains(r"msg=k\=v\\x\nnext line|pipe"),
        "{}",
        parts[7]
    );
    assert!(
        parts[7].starts_with("externalId=0190f5b2-7c3d-7e4f-8a1b-2c3d4e5f6a7b rt=1700000001123 ")
    );
    let framed = format_cef(&a, &origin());
    let p = parse_5424(&framed);
    assert_eq!(p.header[0], "<107>1");
    assert!(p.params.is_empty());
    assert_eq!(p.msg, cef);
}

#[test]
fn ten_kilobyte_titles_are_cut_on_a_character_boundary() {
    let mut a = alert();
    a.title = "é".repeat(5_000) + "€";
    let line = format_rfc5424(&a, &origin());
    assert!(line.len() > 10_000);
    let datagram = udp_datagram(&line);
    assert!(datagram.len() <= MAX_UDP_MESSAGE && datagram.len() >= MAX_UDP_MESSAGE - 3);
    let text = std::str::from_utf8(&datagram).expect("datagram stays UTF-8");
    assert!(line.starts_with(text));

    let frame = tcp_frame(&line);
    let frame = std::str::from_utf8(&frame).expect("frame stays UTF-8");
    let (len, record) = frame.split_once(' ').expect("octet count");
    assert_eq!(len.parse::<usize>().expect("decimal count"), record.len());
    assert!(record.len() <= MAX_TCP_MESSAGE && line.starts_with(record));
    assert_eq!(truncate_bytes("aé", 2), "a");
}

// ---- retry policy ----

#[test]
fn backoff_doubles_from_one_second_to_the_cap_with_bounded_jitter() {
    for seed in [0_u64, 1, 42, u64::MAX] {
        let mut previous = Duration::ZERO;
        for attempt in 1..=12 {
            let nominal = (Duration::from_secs(1) * 2_u32.pow(attempt - 1)).min(BACKOFF_CAP);
            let d = backoff(attempt, seed);
            assert!(
                d <= nominal && d >= nominal * 3 / 4,
                "attempt {attempt}: {d:?}"
            );
            assert!(
                d >= previous || nominal == BACKOFF_CAP,
                "not growing at {attempt}"
            );
            previous = d;
        }
        assert!(backoff(u32::MAX, seed) <= BACKOFF_CAP);
        assert_eq!(backoff(0, seed), backoff(1, seed));
    }
}

#[test]
fn backoff_jitter_is_deterministic_but_spreads_alerts() {
    let id = alert().id;
    assert_eq!(backoff(5, backoff_seed(&id)), backoff(5, backoff_seed(&id)));
    let distinct: std::collections::BTreeSet<Duration> =
        (0..100_u64).map(|seed| backoff(8, seed)).collect();
    assert!(
        distinct.len() > 50,
        "only {} distinct delays",
        distinct.len()
    );
}

#[test]
fn rate_limiter_allows_a_burst_then_one_per_interval() {
    let start = Instant::now();
    let mut limiter = RateLimiter::per_minute(3);
    for _ in 0..3 {
        assert_eq!(limiter.try_take(start), Ok(()));
    }
    assert_eq!(limiter.try_take(start), Err(Duration::from_secs(20)));
    assert_eq!(
        limiter.try_take(start + Duration::from_secs(5)),
        Err(Duration::from_secs(15))
    );
    assert_eq!(limiter.try_take(start + Duration::from_secs(20)), Ok(()));
    assert!(limiter.try_take(start + Duration::from_secs(20)).is_err());
    // A long quiet spell refills the bucket to the burst, not beyond.
    let later = start + Duration::from_secs(3600);
    for _ in 0..3 {
        assert_eq!(limiter.try_take(later), Ok(()));
    }
    assert!(limiter.try_take(later).is_err());
}

// ---- configuration ----

#[test]
fn webhook_config_defaults_and_unknown_keys() -> Result<(), Box<dyn std::error::Error>> {
    let cfg: WebhookConfig =
        serde_json::from_str(r#"{"name":"soc","url":"https://soc.example.invalid/hook"}"#)?;
    assert_eq!(cfg.format, WebhookFormat::Standard);
    assert_eq!(cfg.min_severity, Severity::Low);
    assert_eq!((cfg.timeout_secs, cfg.max_per_minute), (10, 60));
    cfg.validate()?;
    let typo = serde_json::from_str::<WebhookConfig>(
        r#"{"name":"soc","url":"https://x.invalid/","timeout":5}"#,
    );
    assert!(typo.is_err());
    let secret = WebhookConfig {
        secret: Some("whsec_c2VjcmV0".to_owned()),
        ..cfg.clone()
    };
    assert!(
        !format!("{secret:?}").contains("c2VjcmV0"),
        "secret in Debug"
    );
    Ok(())
}

#[test]
fn webhook_config_errors_name_the_problem() -> Result<(), Box<dyn std::error::Error>> {
    let base: WebhookConfig =
        serde_json::from_str(r#"{"name":"soc","url":"https://soc.example.invalid/hook"}"#)?;
    let cases: [(WebhookConfig, &str); 6] = [
        (
            WebhookConfig {
                url: "ftp://x.invalid/".into(),
                ..base.clone()
            },
            "scheme",
        ),
        (
            WebhookConfig {
                url: "not a url".into(),
                ..base.clone()
            },
            "not a valid URL",
        ),
        (
            WebhookConfig {
                url: "https://u:p@x.invalid/".into(),
                ..base.clone()
            },
            "credentials",
        ),
        (
            WebhookConfig {
                name: String::new(),
                ..base.clone()
            },
            "name",
        ),
        (
            WebhookConfig {
                secret: Some("whsec_%%".into()),
                ..base.clone()
            },
            "base64",
        ),
        (
            WebhookConfig {
                timeout_secs: 0,
                ..base.clone()
            },
            "timeout_secs",
        ),
    ];
    for (cfg, words) in cases {
        let err = cfg.validate().expect_err("invalid config accepted");
        assert!(err.to_string().contains(words), "{err} lacks {words:?}");
    }
    Ok(())
}

#[test]
fn syslog_config_defaults_and_checks() -> Result<(), Box<dyn std::error::Error>> {
    let cfg: SyslogConfig = serde_json::from_str(r#"{"name":"siem","address":"[::1]:514"}"#)?;
    assert_eq!(cfg.transport, SyslogTransport::Udp);
    assert_eq!(cfg.format, SyslogFormat::Rfc5424);
    assert_eq!(
        (cfg.facility, cfg.app_name.as_str()),
        (DEFAULT_FACILITY, "spamhattan")
    );
    cfg.validate()?;
    for (bad, words) in [
        (
            SyslogConfig {
                address: "siem.invalid".into(),
                ..cfg.clone()
            },
            "host:port",
        ),
        (
            SyslogConfig {
                address: "::1:514".into(),
                ..cfg.clone()
            },
            "brackets",
        ),
        (
            SyslogConfig {
                address: "h:0".into(),
                ..cfg.clone()
            },
            "port",
        ),
        (
            SyslogConfig {
                facility: 24,
                ..cfg.clone()
            },
            "facility",
        ),
        (
            SyslogConfig {
                app_name: "spam hattan".into(),
                ..cfg.clone()
            },
            "app_name",
        ),
        (
            SyslogConfig {
                max_per_minute: 0,
                ..cfg.clone()
            },
            "max_per_minute",
        ),
    ] {
        let err = bad.validate().expect_err("invalid config accepted");
        assert!(err.to_string().contains(words), "{err} lacks {words:?}");
    }
    Ok(())
}

#[test]
fn sink_filters_on_minimum_severity() -> Result<(), Box<dyn std::error::Error>> {
    let cfg: SyslogConfig =
        serde_json::from_str(r#"{"name":"siem","address":"127.0.0.1:514","min_severity":"high"}"#)?;
    let sink = Sink::from_syslog(cfg)?;
    assert_eq!(sink.name(), "siem");
    let mut a = alert();
    assert!(sink.accepts(&a));
    a.severity = Severity::Critical;
    assert!(sink.accepts(&a));
    a.severity = Severity::Medium;
    assert!(!sink.accepts(&a));
    Ok(())
}
