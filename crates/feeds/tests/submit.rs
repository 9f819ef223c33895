//! Submission connectors, the pure part: what each service is sent and how its answers are
//! read. End-to-end delivery against a validating stand-in is `tests/e2e/test_submit.py`.

use feeds::http_client::Response;
use feeds::intel::submit::{ConnectorConfig, ConnectorKind, Verdict, abusech, judge, misp};
use feeds::intel::{IntelCampaign, Ioc, Redactor, SharingPolicy, Tlp};
use model::VerdictClass;
use model::intel::{CampaignBrief, IndicatorRow};
use model::report::IndicatorKind;
use std::sync::Arc;

fn campaign(verdict: VerdictClass, family: &str) -> Arc<IntelCampaign> {
    let now = model::now();
    let brief = CampaignBrief {
        id: 1,
        uuid: uuid::Uuid::new_v4(),
        label: String::new(),
        first_seen: now,
        last_seen: now,
        messages: 1,
        verdict,
        families: vec![family.to_owned()],
        yara: vec![],
        subjects: vec!["Invoice".to_owned()],
        source_ips: vec![],
        helos: vec![],
        sender_domains: vec![],
        attachment_kinds: vec![],
        changed_at: now,
    };
    let policy = SharingPolicy::new(Tlp::Green, Redactor::new(&[], &[], [1; 32]));
    Arc::new(
        policy
            .campaign(brief)
            .expect("malware and phishing are shared"),
    )
}

fn ioc(kind: IndicatorKind, value: &str, c: &Arc<IntelCampaign>) -> Ioc {
    let now = model::now();
    let row = IndicatorRow {
        id: 1,
        uuid: uuid::Uuid::new_v4(),
        kind,
        value: value.to_owned(),
        first_seen: now,
        last_seen: now,
        count: 1,
        changed_at: now,
        campaign: Some(c.id()),
        file: None,
    };
    let policy = SharingPolicy::new(Tlp::Green, Redactor::new(&[], &[], [1; 32]));
    policy
        .ioc(row, Some(c.clone()), now)
        .expect("a shared indicator")
}

fn connector(kind: ConnectorKind) -> ConnectorConfig {
    ConnectorConfig {
        name: "c".to_owned(),
        kind,
        url: Some("http://127.0.0.1:1/api/".to_owned()),
        api_key: Some("secret-key-123".to_owned()),
        audience: "a".to_owned(),
        every_secs: None,
        timeout_secs: None,
        batch: Some(2),
        anonymous: false,
        tags: vec!["spam trap".to_owned()],
        ca_file: None,
    }
}

fn answer(status: u16, body: &str) -> Response {
    Response {
        status: http::StatusCode::from_u16(status).expect("valid test status"),
        body: body.as_bytes().to_vec(),
    }
}

#[test]
fn urlhaus_takes_malware_urls_not_phishing_ones() {
    let mal = campaign(VerdictClass::Malware, "emotet");
    let phish = campaign(VerdictClass::Phishing, "kit");
    let a = ioc(IndicatorKind::Url, "http://evil.example/p.exe", &mal);
    let b = ioc(IndicatorKind::Url, "http://phish.example/login", &phish);
    assert!(ConnectorKind::Urlhaus.wants(&a));
    assert!(!ConnectorKind::Urlhaus.wants(&b));
    let cfg = connector(ConnectorKind::Urlhaus);
    let r = abusech::urlhaus(&cfg, &[a]).expect("one URL");
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON body");
    assert_eq!(body["submission"][0]["url"], "http://evil.example/p.exe");
    assert_eq!(body["submission"][0]["threat"], "malware_download");
    assert_eq!(
        body["submission"][0]["tags"],
        serde_json::json!(["spam_trap", "emotet"])
    );
    assert_eq!(body["anonymous"], "0");
    assert!(
        r.headers
            .contains(&("Auth-Key", "secret-key-123".to_owned()))
    );
    assert_eq!(r.summary["token"], "<redacted>");
    let shown = r.describe("c", cfg.url()).to_string();
    assert!(!shown.contains("secret-key-123"), "{shown}");
}

#[test]
fn threatfox_groups_by_type_and_splits_batches_and_skips_ips() {
    let c = campaign(VerdictClass::Malware, "win.emotet");
    let iocs = vec![
        ioc(IndicatorKind::Url, "http://a.example/1", &c),
        ioc(IndicatorKind::Url, "http://a.example/2", &c),
        ioc(IndicatorKind::Url, "http://a.example/3", &c),
        ioc(IndicatorKind::Sha256, &"ab".repeat(32), &c),
        ioc(IndicatorKind::Ip, "192.0.2.1", &c),
    ];
    assert!(!ConnectorKind::Threatfox.wants(&iocs[4]));
    let reqs = abusech::threatfox(&connector(ConnectorKind::Threatfox), &iocs);
    let bodies: Vec<serde_json::Value> = reqs
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("JSON"))
        .collect();
    // Three URLs in batches of two, one hash; no ip:port.
    assert_eq!(bodies.len(), 3);
    assert!(
        bodies
            .iter()
            .all(|b| b["query"] == "submit_ioc" && b["malware"] == "win.emotet")
    );
    let urls: usize = bodies
        .iter()
        .filter(|b| b["ioc_type"] == "url")
        .map(|b| b["iocs"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(urls, 3);
    let hash = bodies
        .iter()
        .find(|b| b["ioc_type"] == "sha256_hash")
        .expect("hash request");
    assert_eq!(hash["threat_type"], "payload");
    assert!(bodies.iter().all(|b| b["ioc_type"] != "ip:port"));
}

#[test]
fn threatfox_family_is_unknown_unless_a_malpedia_name() {
    let c = campaign(VerdictClass::Malware, "Emotet loader");
    assert_eq!(
        abusech::threatfox_malware(&ioc(IndicatorKind::Url, "http://a.example/", &c)),
        "unknown"
    );
}

#[test]
fn malwarebazaar_upload_is_multipart_with_delivery_method() {
    let c = campaign(VerdictClass::Malware, "emotet");
    let data = b"PK\x03\x04 zip bytes --spamhattan- not a boundary";
    let sha = abusech::sha256_hex(data);
    let r = abusech::malwarebazaar(
        &connector(ConnectorKind::Malwarebazaar),
        &ioc(IndicatorKind::Sha256, &sha, &c),
        data,
    );
    let boundary = r
        .content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("multipart content type");
    let text = String::from_utf8_lossy(&r.body);
    let parts: Vec<&str> = text.split(&format!("--{boundary}")).collect();
    // preamble, json_data, file, closing "--\r\n"
    assert_eq!(parts.len(), 4, "{text}");
    assert!(parts[1].contains("name=\"json_data\""));
    let json = parts[1]
        .split("\r\n\r\n")
        .nth(1)
        .expect("json part body")
        .trim_end();
    let meta: serde_json::Value = serde_json::from_str(json).expect("json_data is JSON");
    assert_eq!(meta["delivery_method"], "email_attachment");
    assert!(parts[2].contains(&format!("filename=\"{sha}\"")));
    assert!(r.body.windows(data.len()).any(|w| w == data));
}

#[test]
fn answers_are_judged_as_documented() {
    use ConnectorKind::*;
    assert_eq!(
        judge(Threatfox, &answer(200, r#"{"query_status":"ok"}"#)),
        Verdict::Accepted
    );
    assert_eq!(
        judge(
            Malwarebazaar,
            &answer(200, r#"{"query_status":"file_already_known"}"#)
        ),
        Verdict::Duplicate
    );
    assert!(matches!(
        judge(
            Threatfox,
            &answer(200, r#"{"query_status":"unknown_auth_key"}"#)
        ),
        Verdict::Stop(_)
    ));
    assert!(matches!(
        judge(
            Threatfox,
            &answer(200, r#"{"query_status":"illegal_malware"}"#)
        ),
        Verdict::Rejected(_)
    ));
    assert!(matches!(
        judge(Urlhaus, &answer(503, "")),
        Verdict::Retry(_)
    ));
    assert!(matches!(
        judge(Urlhaus, &answer(429, "")),
        Verdict::Retry(_)
    ));
    assert!(matches!(
        judge(Misp, &answer(403, "Authentication failed")),
        Verdict::Stop(_)
    ));
    assert_eq!(
        judge(
            Misp,
            &answer(
                403,
                r#"{"message":"An event with this uuid already exists."}"#
            )
        ),
        Verdict::Duplicate
    );
    assert_eq!(misp::add_path("/misp/"), "/misp/events/add");
}

#[test]
fn config_refuses_bad_sections() {
    let ok = connector(ConnectorKind::Threatfox);
    assert!(ok.validate().is_ok());
    let mut bad = ok.clone();
    bad.url = Some("ftp://x.example/".to_owned());
    assert!(bad.validate().expect_err("refused").contains("http(s)"));
    let mut bad = ok.clone();
    bad.kind = ConnectorKind::Misp;
    bad.url = None;
    assert!(
        bad.validate()
            .expect_err("refused")
            .contains("url is required")
    );
    let mut bad = ok.clone();
    bad.batch = Some(0);
    assert!(bad.validate().is_err());
    assert!(!format!("{ok:?}").contains("secret-key-123"));
}
