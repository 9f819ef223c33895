//! The console through the real router and a real store: pages render with data, hostile
//! mail renders as text everywhere (the XSS corpus), the HTML body is served inert under its
//! own CSP, downloads are password zips with safe names, and live updates arrive.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use futures_util::StreamExt;
use model::report::{Artifact, BudgetUse, Headers, Indicator, IndicatorKind, Mailbox, UrlRecord};
use model::report::{Reason, Verdict};
use model::{Alert, Envelope, MailFrom, MessageId, Severity, Sighting, SightingSource};
use model::{Timings, VerdictClass};
use std::io::Read;
use std::sync::Arc;
use store::{ReportSave, Role, Store, StoreConfig, StoreError};
use tower::ServiceExt;
use web::{Console, ConsoleSettings};

const TOKEN: &str = "console-test-token";

/// Every payload the corpus plants; none may reach a page unescaped.
const PAYLOADS: &[&str] = &[
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</textarea>",
    "javascript:alert",
    "\u{202e}",
    "<svg/onload=alert(1)>",
];

const HOSTILE_FILENAME: &str = "\"><img src=x onerror=alert(1)>\u{202e}fdp.exe";

fn hostile_mail() -> Vec<u8> {
    (
        "From: \"<script>alert(1)</script>\" <evil@spam.example>\r\n\
         To: victim@trap.example\r\n\
         Subject: <script>alert(1)</script> \"><img src=x onerror=alert(1)> </textarea> \u{202e}fdp.exe\r\n\
         X-Evil: \"><img src=x onerror=alert(1)><svg/onload=alert(1)>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\
         \r\n\
         --b\r\n\
         Content-Type: text/html\r\n\
         \r\n\
         <p>Pay now</p><script>alert(1)</script><img src=\"http://canary.example/pixel\">\
         <meta http-equiv=refresh content=\"0;url=http://canary.example/r\">\
         <style>@import url(http://canary.example/c.css);</style>\
         <form action=\"http://canary.example/f\"><input name=x></form>\r\n\
         --b\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         </textarea><script>alert(1)</script> plain\r\n\
         --b\r\n\
         Content-Type: application/octet-stream\r\n\
         Content-Disposition: attachment; filename=\"\\\"><img src=x onerror=alert(1)>\u{202e}fdp.exe\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         TVqQAAMAAAAEAAAA\r\n\
         --b--\r\n"
    )
    .as_bytes()
    .to_vec()
}

fn sighting(raw: &[u8]) -> Sighting {
    Sighting {
        id: uuid::Uuid::now_v7(),
        message_id: MessageId::of(raw),
        received_at: model::now(),
        source: SightingSource::Smtp,
        size: raw.len() as u64,
        session_id: uuid::Uuid::now_v7(),
        listener: "smtp".into(),
        peer: "192.0.2.7:40000".into(),
        local: "198.51.100.1:25".into(),
        helo: Some("<script>alert(1)</script>".into()),
        tls: None,
        envelope: Envelope {
            mail_from: MailFrom {
                raw: "MAIL FROM:<\"<img src=x onerror=alert(1)>\"@spam.example>".into(),
                address: "evil@spam.example".into(),
                params: vec![],
            },
            recipients: vec![],
        },
        anomalies: vec![],
        timings: Timings::default(),
        queue_id: "4XyZ1".into(),
        // A collector's sighting: the sensor's free-text tags are attacker-reachable text too.
        sensor: Some(model::SensorTag {
            id: "bank-nl".into(),
            sector: "<script>alert(1)</script>".into(),
            location: "\"><img src=x onerror=alert(1)>".into(),
        }),
    }
}

fn hostile_report(message_id: MessageId) -> model::Report {
    let url = |u: &str| UrlRecord {
        url: u.into(),
        defanged: u.into(),
        host: "evil.example".into(),
        ..UrlRecord::default()
    };
    model::Report {
        schema: model::report::REPORT_SCHEMA,
        engine: "test".into(),
        message_id,
        size: 1,
        headers: Headers {
            from: Some(Mailbox {
                name: Some("<script>alert(1)</script>".into()),
                address: Some("evil@spam.example".into()),
            }),
            subject: Some(
                "<script>alert(1)</script> \"><img src=x onerror=alert(1)> </textarea> \u{202e}fdp.exe"
                    .into(),
            ),
            ..Headers::default()
        },
        bodies: vec![],
        urls: vec![
            url("javascript:alert(1)"),
            url("http://evil.example/\"><script>alert(1)</script>"),
        ],
        artifacts: vec![Artifact {
            path: HOSTILE_FILENAME.into(),
            name: Some(HOSTILE_FILENAME.into()),
            kind: "exe".into(),
            size: 12,
            name_tricks: vec!["rtlo".into()],
            ..Artifact::default()
        }],
        auth: None,
        scans: vec![],
        findings: vec![],
        indicators: vec![
            Indicator {
                kind: IndicatorKind::Url,
                value: "javascript:alert(1)".into(),
                at: "urls[0]".into(),
            },
            Indicator {
                kind: IndicatorKind::Url,
                value: "http://evil.example/\"><script>alert(1)</script>".into(),
                at: "urls[1]".into(),
            },
            Indicator {
                kind: IndicatorKind::Domain,
                value: "evil.example".into(),
                at: "urls[1]".into(),
            },
            Indicator {
                kind: IndicatorKind::Filename,
                value: HOSTILE_FILENAME.into(),
                at: "artifacts[0]".into(),
            },
        ],
        trap_addresses: vec![],
        anomalies: vec![],
        verdict: Verdict {
            class: VerdictClass::Malware,
            score: 90,
            reasons: vec![Reason {
                rule: "rtlo-name".into(),
                class: VerdictClass::Malware,
                weight: 50,
                description: "<script>alert(1)</script> in a rule text".into(),
                evidence: vec!["artifacts[0]".into()],
            }],
        },
        budget: BudgetUse::default(),
    }
}

fn hostile_alert(campaign: i64) -> Alert {
    Alert {
        id: uuid::Uuid::now_v7(),
        rule: "new-malicious-campaign".into(),
        severity: Severity::High,
        campaign: Some(campaign),
        campaign_uuid: None,
        title: "<script>alert(1)</script> new campaign".into(),
        summary: "\"><img src=x onerror=alert(1)>".into(),
        evidence: vec![],
        indicators: vec![],
        triggered_at: model::now(),
        created_at: model::now(),
        dedup_key: format!("t/{}", uuid::Uuid::now_v7()),
    }
}

/// Captures `raw`, saves its report and (optionally) puts it in a new campaign with an alert.
fn capture(store: &Store, raw: Vec<u8>, campaign: bool) -> uuid::Uuid {
    capture_to(store, raw, campaign, &[])
}

/// The harvester of the corpus: a bait page visitor whose request headers are payloads.
const HARVESTER: &str = "192.0.2.66";

/// A bait visit with hostile user agent, referer and path, its seeds, and a manual seed with
/// a hostile label; returns the seeds (the visit's first, the manual one last).
fn plant_seeds(store: &Store) -> Vec<store::SeedRecord> {
    use model::{BaitForm, BaitVisit, NewSeed, SeedOrigin};
    let visit = BaitVisit {
        id: uuid::Uuid::now_v7(),
        at: model::now() - time::Duration::hours(1),
        ip: HARVESTER.into(),
        user_agent: "<script>alert(1)</script>\u{202e}".into(),
        referer: "javascript:alert(1)//\"><img src=x onerror=alert(1)>".into(),
        path: "/\"><svg/onload=alert(1)>".into(),
    };
    let page: Vec<NewSeed> = BaitForm::ALL
        .into_iter()
        .map(|f| NewSeed::mint("trap.example", SeedOrigin::Visit, Some(f), "</textarea>"))
        .collect();
    let mut seeds = store.record_bait_visit(&visit, &page).expect("visit");
    seeds.extend(
        store
            .mint_seeds(&[NewSeed::mint(
                "trap.example",
                SeedOrigin::Manual,
                None,
                "\"><img src=x onerror=alert(1)>\u{202e}",
            )])
            .expect("mint"),
    );
    seeds
}

/// [`capture`], addressed to `rcpts` (accepted).
fn capture_to(store: &Store, raw: Vec<u8>, campaign: bool, rcpts: &[String]) -> uuid::Uuid {
    let mut sighting = sighting(&raw);
    sighting.envelope.recipients = rcpts
        .iter()
        .map(|a| model::Recipient {
            raw: format!("RCPT TO:<{a}>"),
            address: a.clone(),
            verdict: model::RcptVerdict::Accepted,
            reply: "250 ok".into(),
            quiet: false,
        })
        .collect();
    let captured = store
        .capture(raw.clone(), sighting)
        .wait()
        .expect("capture");
    let s = store
        .sighting(captured.sighting_id)
        .expect("read")
        .expect("sighting");
    store
        .save_reports(&[ReportSave {
            job: None,
            sighting: &s,
            report: &hostile_report(captured.message_id),
        }])
        .expect("save");
    if campaign {
        store
            .cluster(|tx| -> Result<(), StoreError> {
                for u in tx.pending(100)? {
                    let id = tx.create(u.sighting.received_at, &Default::default())?;
                    tx.assign(
                        u.seq,
                        id,
                        u.sighting.received_at,
                        VerdictClass::Malware,
                        &[
                            ("url", "javascript:alert(1)".to_string()),
                            ("subject", "<script>alert(1)</script>".to_string()),
                        ],
                    )?;
                    tx.raise(&hostile_alert(id), &["hook".to_string()])?;
                }
                Ok(())
            })
            .expect("cluster");
    }
    captured.sighting_id
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

struct Site {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    router: Router,
    sighting: uuid::Uuid,
    /// Seed numbers: the harvester's first seed and the manual one.
    seeds: Vec<i64>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(StoreConfig::new(dir.path().join("data"))).expect("open"));
        store
            .create_token("t", Role::Reader, &web::principal::digest(TOKEN))
            .expect("token");
        let s = store.clone();
        let (sighting, seeds) = std::thread::spawn(move || {
            let seeds = plant_seeds(&s);
            let to = [&seeds[0], &seeds[seeds.len() - 1]];
            let rcpts: Vec<String> = to.iter().map(|r| r.address.clone()).collect();
            let ids = to.iter().map(|r| r.id).collect();
            (capture_to(&s, hostile_mail(), true, &rcpts), ids)
        })
        .join()
        .expect("populate");
        let console = Arc::new(Console::new(store.clone(), ConsoleSettings::default()));
        Site {
            _dir: dir,
            store,
            router: web::app(console),
            sighting,
            seeds,
        }
    }

    async fn get_as(&self, uri: &str, auth: Option<&str>) -> Reply {
        let mut b = Request::get(uri);
        if let Some(token) = auth {
            b = b.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let resp = self
            .router
            .clone()
            .oneshot(b.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, uri: &str) -> Reply {
        self.get_as(uri, Some(TOKEN)).await
    }

    fn campaign_id(&self) -> i64 {
        self.store
            .campaigns(&store::CampaignQuery::default())
            .expect("campaigns")
            .first()
            .expect("a campaign")
            .id
    }

    /// Every page that shows the hostile message's data.
    fn pages(&self) -> Vec<String> {
        let id = self.sighting;
        vec![
            "/".into(),
            "/messages".into(),
            "/messages?q=fdp".into(),
            format!("/messages/{id}"),
            format!("/campaigns/{}", self.campaign_id()),
            "/campaigns".into(),
            "/indicators".into(),
            "/indicators?kind=filename".into(),
            "/indicators/url/javascript%3Aalert%281%29".into(),
            format!("/indicators/filename/{}", enc(HOSTILE_FILENAME)),
            "/alerts".into(),
            "/feeds".into(),
            "/seeds".into(),
            format!("/seeds/{}", self.seeds[0]),
            format!("/seeds/{}", self.seeds[1]),
            "/harvesters".into(),
            format!("/harvesters/{HARVESTER}"),
            "/domains".into(),
        ]
    }
}

#[tokio::test]
async fn pages_render_with_data() {
    let site = Site::new();
    for page in site.pages() {
        let r = site.get(&page).await;
        assert_eq!(r.status, StatusCode::OK, "{page}: {}", r.text());
        assert!(
            r.header("content-type").starts_with("text/html"),
            "{page}: {}",
            r.header("content-type")
        );
        let body = r.text();
        assert!(body.contains("<nav aria-label=\"Console\">"), "{page}");
        assert!(body.contains("action=\"/logout\""), "{page}");
    }
    let message = site
        .get(&format!("/messages/{}", site.sighting))
        .await
        .text();
    for expected in [
        "malware",
        "192.0.2.7:40000",
        "MIME tree",
        "application/octet-stream",
        "hxxp://evil[.]example/",
        "rtlo-name",
        &format!("/api/v1/messages/{}/raw", site.sighting),
    ] {
        assert!(
            message.contains(expected),
            "message page lacks {expected:?}"
        );
    }
    let dashboard = site.get("/").await.text();
    assert!(
        dashboard.contains("<h2>Sensors</h2>") && dashboard.contains("<code>bank-nl</code>"),
        "dashboard lists the sensor"
    );
    assert!(
        dashboard.contains("<svg class=\"chart\""),
        "dashboard chart"
    );
    assert!(dashboard.contains("<rect "), "dashboard chart has bars");
    let list = site.get("/messages").await.text();
    assert!(list.contains(&format!("/messages/{}", site.sighting)));
    let none = site
        .get("/messages?q=subject:nothing-like-this")
        .await
        .text();
    assert!(!none.contains(&format!("/messages/{}", site.sighting)));
    let bad = site.get("/messages?q=colour:red").await.text();
    assert!(
        bad.contains("role=\"alert\""),
        "an unknown key is explained"
    );
}

#[tokio::test]
async fn hostile_text_is_escaped_on_every_page() {
    let site = Site::new();
    for page in site.pages() {
        let body = site.get(&page).await.text();
        for payload in PAYLOADS {
            assert!(
                !body.contains(payload),
                "{page} contains the raw payload {payload:?}"
            );
        }
        assert!(!body.contains("href=\"javascript"), "{page}");
        assert!(!body.contains("href=\"http://evil"), "{page}");
    }
    let message = site
        .get(&format!("/messages/{}", site.sighting))
        .await
        .text();
    // The payloads are there, as text.
    // askama writes numeric character references.
    assert!(message.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
    assert!(message.contains("&#34;&#62;&#60;img src=x onerror=alert(1)&#62;"));
    assert!(message.contains("&#60;/textarea&#62;"));
    assert!(
        message.contains("&#60;svg/onload=alert(1)&#62;"),
        "header values"
    );
    assert!(message.contains("[U+202E]fdp.exe"), "RTLO is made visible");
    assert!(message.contains("javascript[:]alert(1)"), "defanged");
    // The harvester's headers and the seed label, as text, on the message and seed pages.
    assert!(message.contains("Harvested by"), "attribution shown");
    assert!(message.contains("&#60;script&#62;alert(1)&#60;/script&#62;[U+202E]"));
    let seed = site.get(&format!("/seeds/{}", site.seeds[0])).await.text();
    assert!(
        seed.contains("javascript[:]alert(1)//&#34;&#62;&#60;img"),
        "referer defanged"
    );
    assert!(
        seed.contains("/&#34;&#62;&#60;svg/onload=alert(1)&#62;"),
        "path as text"
    );
    let manual = site.get(&format!("/seeds/{}", site.seeds[1])).await.text();
    assert!(manual.contains("&#34;&#62;&#60;img src=x onerror=alert(1)&#62;[U+202E]"));
}

#[tokio::test]
async fn the_html_body_is_framed_sandboxed_and_served_inert() {
    let site = Site::new();
    let page = site
        .get(&format!("/messages/{}", site.sighting))
        .await
        .text();
    let frame = format!(
        "<iframe class=\"mailbody\" sandbox src=\"/messages/{}/body\"",
        site.sighting
    );
    assert!(page.contains(&frame), "sandboxed frame: {page}");
    assert!(!page.contains("allow-"), "no sandbox exception");
    assert!(!page.contains("<script>"), "no inline script in pages");
    assert!(!page.contains(" onclick="), "no inline handlers");

    let r = site.get(&format!("/messages/{}/body", site.sighting)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-security-policy"),
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:"
    );
    assert_eq!(r.header("x-frame-options"), "SAMEORIGIN");
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    let body = r.text();
    assert!(body.contains("Pay now"), "{body}");
    for gone in [
        "<script",
        "http://canary",
        "http-equiv",
        "@import",
        "url(",
        "action=",
    ] {
        assert!(!body.contains(gone), "{gone:?} left in {body}");
    }
    let anon = site
        .get_as(&format!("/messages/{}/body", site.sighting), None)
        .await;
    assert_eq!(anon.status, StatusCode::SEE_OTHER, "body needs a login");
}

#[tokio::test]
async fn anonymous_visitors_are_sent_to_the_login_page() {
    let site = Site::new();
    for page in ["/", "/messages", "/alerts", "/events"] {
        let r = site.get_as(page, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{page}");
        assert!(r.header("location").starts_with("/login"), "{page}");
    }
}

#[tokio::test]
async fn bad_ids_get_clear_4xx() {
    let site = Site::new();
    let r = site.get("/messages/not-a-uuid").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("sighting UUID"));
    let r = site.get(&format!("/messages/{}", uuid::Uuid::nil())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = site.get("/campaigns/x").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = site.get("/indicators/colour/red").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = site.get("/indicators?kind=colour").await;
    assert!(r.text().contains("unknown indicator kind"));
}

fn unzip(zip: &[u8]) -> (String, Vec<u8>) {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    assert_eq!(archive.len(), 1);
    assert!(
        archive.by_index(0).is_err(),
        "the entry must not open without the password"
    );
    let mut entry = archive
        .by_index_decrypt(0, b"infected")
        .expect("opens with the password");
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes).expect("read");
    (entry.name().expect("name").into_owned(), bytes)
}

#[tokio::test]
async fn downloads_are_password_zips_with_safe_names() {
    let site = Site::new();
    let raw = site
        .get(&format!("/api/v1/messages/{}/raw", site.sighting))
        .await;
    assert_eq!(raw.status, StatusCode::OK, "{}", raw.text());
    assert_eq!(raw.header("content-type"), "application/zip");
    assert_eq!(raw.header("x-content-type-options"), "nosniff");
    let (name, bytes) = unzip(&raw.body);
    assert_eq!(bytes, hostile_mail());
    assert!(
        name.starts_with("message-") && name.ends_with(".eml"),
        "{name}"
    );
    assert_eq!(
        raw.header("content-disposition"),
        format!("attachment; filename=\"{name}.zip\"")
    );

    // By message SHA-256 too.
    let sha = MessageId::of(&hostile_mail()).to_hex();
    let by_sha = site.get(&format!("/api/v1/messages/{sha}/raw")).await;
    assert_eq!(by_sha.status, StatusCode::OK);

    // Part 3: the attachment (0 multipart, 1 html, 2 text).
    let att = site
        .get(&format!("/api/v1/messages/{}/attachments/3", site.sighting))
        .await;
    assert_eq!(att.status, StatusCode::OK, "{}", att.text());
    let (name, bytes) = unzip(&att.body);
    assert_eq!(&bytes[..2], b"MZ");
    assert_eq!(name, "img_src_x_onerror_alert_1_fdp.exe");
    assert!(
        name.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    );
    assert_eq!(
        att.header("content-disposition"),
        "attachment; filename=\"img_src_x_onerror_alert_1_fdp.exe.zip\""
    );

    for (uri, status) in [
        (
            format!("/api/v1/messages/{}/attachments/0", site.sighting),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/v1/messages/{}/attachments/99", site.sighting),
            StatusCode::NOT_FOUND,
        ),
        (
            format!("/api/v1/messages/{}/attachments/-1", site.sighting),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/v1/messages/nonsense/raw".to_string(),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/v1/messages/{}/raw", uuid::Uuid::nil()),
            StatusCode::NOT_FOUND,
        ),
    ] {
        let r = site.get(&uri).await;
        assert_eq!(r.status, status, "{uri}: {}", r.text());
        assert!(r.text().contains("\"description\""), "{uri}: JSON error");
    }
    let anon = site
        .get_as(&format!("/api/v1/messages/{}/raw", site.sighting), None)
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn static_assets_have_types_and_cache_lifetimes() {
    let site = Site::new();
    let css = site.get_as("/static/console.css", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(css.header("cache-control").contains("max-age="));
    let js = site.get_as("/static/console.js", None).await;
    assert_eq!(js.header("content-type"), "text/javascript; charset=utf-8");
    assert_eq!(js.header("x-content-type-options"), "nosniff");
    assert!(!js.text().contains("innerHTML"), "script writes text only");
    let missing = site.get_as("/static/../Cargo.toml", None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn open_events(router: &Router) -> axum::response::Response {
    let req = Request::get("/events")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("request");
    router.clone().oneshot(req).await.expect("infallible")
}

#[tokio::test(start_paused = true)]
async fn new_messages_and_alerts_arrive_as_server_sent_events() {
    let site = Site::new();
    let resp = open_events(&site.router).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body().into_data_stream();

    let store = site.store.clone();
    let mut raw = hostile_mail();
    raw.extend_from_slice(b"another arrival\r\n");
    let new_id = tokio::task::spawn_blocking(move || capture(&store, raw, true))
        .await
        .expect("capture");

    // Paused time runs the one-second poll as fast as the store answers; bound by real time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut seen = String::new();
    while !(seen.contains(&new_id.to_string()) && seen.contains("event: alert-raised")) {
        assert!(
            std::time::Instant::now() < deadline,
            "no live update arrived: {seen}"
        );
        match body.next().await {
            Some(Ok(chunk)) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("stream ended: {other:?} after {seen}"),
        }
    }
    assert!(seen.contains("event: message-captured"), "{seen}");
    // The earlier message was on the page already: not announced.
    assert!(!seen.contains(&site.sighting.to_string()), "{seen}");
}

#[tokio::test]
async fn live_update_streams_are_bounded() {
    let site = Site::new();
    let mut open = Vec::new();
    for _ in 0..web::console::events::MAX_SSE_CLIENTS {
        let r = open_events(&site.router).await;
        assert_eq!(r.status(), StatusCode::OK);
        open.push(r);
    }
    let refused = open_events(&site.router).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    open.pop();
    // A closed stream frees its place.
    let again = open_events(&site.router).await;
    assert_eq!(again.status(), StatusCode::OK);
}
