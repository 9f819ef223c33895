//! `/api/v1` driven through the router with a real store: auth, every endpoint, paging,
//! filters, clear 4xx, and the OpenAPI document against the route table.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use model::report::{Indicator, IndicatorKind, Mailbox};
use model::{Envelope, MailFrom, MessageId, RcptVerdict, Recipient, Sighting, SightingSource};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use store::{ReportSave, Role, Store, StoreConfig};
use tower::ServiceExt;
use web::{Console, ConsoleSettings};

const TOKEN: &str = "secret-token";

struct Api {
    app: Router,
    store: Arc<Store>,
    _dir: tempfile::TempDir,
}

impl Api {
    fn new() -> Api {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Arc::new(Store::open(StoreConfig::new(dir.path())).expect("store"));
        store
            .create_token("t", Role::Reader, &web::principal::digest(TOKEN))
            .expect("token");
        let console = Arc::new(Console::new(store.clone(), ConsoleSettings::default()));
        Api {
            app: web::app(console),
            store,
            _dir: dir,
        }
    }

    async fn get_as(&self, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.send("GET", uri, token).await
    }

    async fn send(&self, method: &str, uri: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .expect("body");
        let v = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, v)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.get_as(uri, Some(TOKEN)).await
    }

    /// Captures a message to `rcpt`; analysed with `subject` and `class` when given.
    async fn mail(
        &self,
        n: usize,
        rcpt: &str,
        analysed: Option<(&str, model::VerdictClass)>,
    ) -> Sighting {
        let raw = format!("Subject: m{n}\r\n\r\nbody {n}\r\n").into_bytes();
        let s = Sighting {
            id: uuid::Uuid::now_v7(),
            message_id: MessageId::of(&raw),
            received_at: model::now(),
            source: SightingSource::Smtp,
            size: raw.len() as u64,
            session_id: uuid::Uuid::nil(),
            listener: "smtp".into(),
            peer: "192.0.2.7:4000".into(),
            local: "198.51.100.1:25".into(),
            helo: Some("h.example".into()),
            tls: None,
            envelope: Envelope {
                mail_from: MailFrom {
                    raw: "MAIL FROM:<a@spam.example>".into(),
                    address: "a@spam.example".into(),
                    params: vec![],
                },
                recipients: vec![Recipient {
                    raw: format!("RCPT TO:<{rcpt}>"),
                    address: rcpt.into(),
                    verdict: RcptVerdict::Accepted,
                    reply: "250 ok".into(),
                    quiet: false,
                }],
            },
            anomalies: vec![],
            timings: Default::default(),
            queue_id: "q".into(),
            sensor: None,
        };
        self.store.capture(raw, s.clone()).await.expect("capture");
        if let Some((subject, class)) = analysed {
            let mut r: model::Report = serde_json::from_value(serde_json::json!({
                "schema": model::report::REPORT_SCHEMA, "engine": "test",
                "message_id": s.message_id, "size": 1, "headers": {},
                "verdict": {"class": class, "score": 50, "reasons": []},
                "budget": model::report::BudgetUse::default()
            }))
            .expect("report");
            r.headers.subject = Some(subject.into());
            r.headers.from = Some(Mailbox {
                name: Some("<script>alert(1)</script>".into()),
                address: Some("x@spam.example".into()),
            });
            r.indicators = vec![Indicator {
                kind: IndicatorKind::Url,
                value: format!("http://evil.example/{n}"),
                at: "urls[0]".into(),
            }];
            self.store
                .save_reports(&[ReportSave {
                    job: None,
                    sighting: &s,
                    report: &r,
                }])
                .expect("save");
        }
        s
    }
}

fn description(v: &Value) -> &str {
    v["error"]["description"].as_str().unwrap_or("")
}

#[tokio::test]
async fn openapi_document_and_route_table_agree() {
    let api = Api::new();
    let (status, doc) = api.get_as("/api/v1/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK, "public");
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let served: BTreeSet<String> = web::api::ROUTES
        .iter()
        .map(|(p, _)| p.to_string())
        .chain(web::api::DOWNLOAD_ROUTES.iter().map(|p| p.to_string()))
        .collect();
    assert_eq!(documented, served);
    // Every documented operation is really served: without credentials it answers 401 (the
    // fallback would say 404, a missing method 405), except the document itself.
    for path in &served {
        let uri = path
            .replace("{id}", "00000000-0000-7000-8000-000000000000")
            .replace("{kind}", "url")
            .replace("{value}", "x")
            .replace("{part}", "1");
        let methods = doc["paths"][path].as_object().expect("operations");
        assert!(!methods.is_empty(), "{path}");
        for method in methods.keys() {
            let (status, body) = api.send(&method.to_uppercase(), &uri, None).await;
            let want = if path.ends_with("openapi.json") {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            assert_eq!(status, want, "{method} {uri}: {body}");
            assert!(
                doc["paths"][path][method]["responses"][status.as_str()].is_object(),
                "{method} {path} documents {status}"
            );
        }
    }
}

#[tokio::test]
async fn every_endpoint_wants_credentials_and_refuses_a_wrong_token() {
    let api = Api::new();
    for uri in [
        "/api/v1/messages",
        "/api/v1/campaigns",
        "/api/v1/indicators",
        "/api/v1/alerts",
        "/api/v1/sensors",
        "/api/v1/stats",
    ] {
        assert_eq!(
            api.get_as(uri, None).await.0,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
        assert_eq!(
            api.get_as(uri, Some("wrong")).await.0,
            StatusCode::UNAUTHORIZED,
            "{uri}"
        );
        assert_eq!(api.get(uri).await.0, StatusCode::OK, "{uri}");
    }
}

#[tokio::test]
async fn messages_list_search_page_and_detail() {
    let api = Api::new();
    let pending = api.mail(0, "a@trap.example", None).await;
    let mut analysed = Vec::new();
    for n in 1..=7 {
        let class = if n % 2 == 0 {
            model::VerdictClass::Malware
        } else {
            model::VerdictClass::Spam
        };
        let subject = format!("Invoice {n}");
        analysed.push(api.mail(n, "b@trap.example", Some((&subject, class))).await);
    }
    let (status, v) = api.get("/api/v1/messages").await;
    assert_eq!(status, StatusCode::OK);
    let rows = v["messages"].as_array().expect("rows");
    assert_eq!(rows.len(), 8);
    assert_eq!(rows[7]["sighting"], pending.id.to_string());
    assert!(rows[7]["verdict"].is_null(), "pending analysis");
    assert_eq!(
        rows[0]["from"],
        "<script>alert(1)</script> <x@spam.example>"
    );
    assert!(v.get("next_cursor").is_none());

    let (_, v) = api.get("/api/v1/messages?q=verdict:malware").await;
    assert_eq!(v["messages"].as_array().expect("rows").len(), 3);
    let (_, v) = api
        .get("/api/v1/messages?q=subject:%22invoice%203%22")
        .await;
    let rows = v["messages"].as_array().expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["sighting"], analysed[2].id.to_string());
    let (_, v) = api
        .get("/api/v1/messages?q=ioc:http://evil.example/4")
        .await;
    assert_eq!(v["messages"][0]["sighting"], analysed[3].id.to_string());

    // Paging: every message exactly once.
    let mut seen = Vec::new();
    let mut uri = "/api/v1/messages?limit=3".to_string();
    loop {
        let (status, v) = api.get(&uri).await;
        assert_eq!(status, StatusCode::OK);
        for r in v["messages"].as_array().expect("rows") {
            seen.push(r["sighting"].as_str().expect("id").to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/messages?limit=3&cursor={c}"),
            None => break,
        }
    }
    let unique: BTreeSet<_> = seen.iter().collect();
    assert_eq!((seen.len(), unique.len()), (8, 8));

    let (status, v) = api
        .get(&format!("/api/v1/messages/{}", analysed[0].id))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["sighting"]["id"], analysed[0].id.to_string());
    assert_eq!(v["report"]["headers"]["subject"], "Invoice 1");
    assert!(v["session"].is_null());
    let (_, v) = api.get(&format!("/api/v1/messages/{}", pending.id)).await;
    assert!(v["report"].is_null());
}

#[tokio::test]
async fn bad_requests_say_what_is_wrong() {
    let api = Api::new();
    for (uri, status, needle) in [
        (
            "/api/v1/messages?q=colour:red",
            400,
            "unknown search key `colour:`",
        ),
        ("/api/v1/messages?q=verdict:nasty", 400, "unknown verdict"),
        (
            "/api/v1/messages?limit=0",
            400,
            "limit must be between 1 and 500",
        ),
        (
            "/api/v1/messages?limit=501",
            400,
            "limit must be between 1 and 500",
        ),
        ("/api/v1/messages?limit=x", 400, "limit"),
        ("/api/v1/messages?cursor=bogus", 400, "cursor"),
        ("/api/v1/messages?page=2", 400, "unknown field `page`"),
        ("/api/v1/messages/not-a-uuid", 400, "sighting UUID"),
        (
            "/api/v1/messages/00000000-0000-7000-8000-000000000000",
            404,
            "",
        ),
        ("/api/v1/campaigns?cursor=c0", 400, "cursor"),
        ("/api/v1/campaigns/abc", 400, "positive number"),
        ("/api/v1/campaigns/99", 404, ""),
        (
            "/api/v1/indicators?kind=colour",
            400,
            "unknown indicator kind",
        ),
        ("/api/v1/indicators?cursor=i1", 400, "cursor"),
        ("/api/v1/indicators/colour/x", 400, "unknown indicator kind"),
        ("/api/v1/indicators/url/nothing", 404, ""),
        ("/api/v1/alerts?since=yesterday", 400, "RFC 3339"),
        ("/api/v1/stats?hours=0", 400, "hours must be between"),
        ("/api/v1/stats?hours=100000", 400, "hours must be between"),
    ] {
        let (got, v) = api.get(uri).await;
        assert_eq!(got.as_u16(), status, "{uri}: {v}");
        assert!(description(&v).contains(needle), "{uri}: {v}");
        assert_eq!(v["error"]["status"], status, "{uri}");
    }
}

#[tokio::test]
async fn indicators_campaigns_alerts_sensors_and_stats() {
    let api = Api::new();
    for n in 0..5 {
        api.mail(
            n,
            "a@trap.example",
            Some(("s", model::VerdictClass::Phishing)),
        )
        .await;
    }
    let (_, v) = api.get("/api/v1/indicators?kind=url&limit=2").await;
    let first = v["indicators"].as_array().expect("rows").len();
    assert_eq!(first, 2);
    let c = v["next_cursor"].as_str().expect("more").to_string();
    let (_, v2) = api
        .get(&format!("/api/v1/indicators?kind=url&limit=10&cursor={c}"))
        .await;
    assert_eq!(v2["indicators"].as_array().expect("rows").len(), 3);
    assert!(v2.get("next_cursor").is_none());
    let (_, v) = api.get("/api/v1/indicators?q=EVIL.example/3").await;
    assert_eq!(v["indicators"][0]["value"], "http://evil.example/3");
    let (_, v) = api.get("/api/v1/indicators?kind=domain").await;
    assert_eq!(v["indicators"].as_array().expect("rows").len(), 0);
    let (status, v) = api
        .get("/api/v1/indicators/url/http:%2F%2Fevil.example%2F2")
        .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["count"], 1);
    assert_eq!(v["sightings"].as_array().expect("ids").len(), 1);

    let (_, v) = api.get("/api/v1/campaigns").await;
    assert_eq!(v["campaigns"].as_array().expect("list").len(), 0);
    let (_, v) = api
        .get("/api/v1/alerts?limit=5&since=2020-01-01T00:00:00Z")
        .await;
    assert_eq!(v["alerts"].as_array().expect("list").len(), 0);

    let (_, v) = api.get("/api/v1/sensors").await;
    assert_eq!(v["sensors"][0]["name"], "local");
    assert_eq!(v["sensors"][0]["kind"], "local");
    assert_eq!(v["sensors"][0]["sightings"], 5);
    assert_eq!(v["sensors"].as_array().expect("list").len(), 1);
    assert_eq!(v["totals"]["reports"], 5);

    let (status, v) = api.get("/api/v1/stats?hours=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["volume"].as_array().expect("hours").len(), 2);
    assert_eq!(
        v["by_verdict"][0],
        serde_json::json!({"key": "phishing", "count": 5})
    );
    assert_eq!(v["by_trap_domain"][0]["key"], "trap.example");
    assert_eq!(
        v["top_networks"][0],
        serde_json::json!({"key": "192.0.2.0/24", "count": 5})
    );
}
