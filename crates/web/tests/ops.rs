//! `/metrics`, `/healthz` and `/readyz` through the real router, on a real store.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use model::{Envelope, MessageId, Sighting, SightingSource, Timings};
use std::sync::{Arc, Mutex};
use store::{Store, StoreConfig};
use tower::ServiceExt;
use web::{Console, ConsoleSettings, Operations};

/// What the hosting process would say: a fixed exposition and a switchable readiness.
#[derive(Debug)]
struct FakeProcess {
    not_ready: Mutex<Option<String>>,
}

impl Operations for FakeProcess {
    fn render_metrics(&self) -> String {
        "# HELP spamhattan_smtp_messages_total Messages.\n\
         # TYPE spamhattan_smtp_messages_total counter\n\
         spamhattan_smtp_messages_total 7\n"
            .to_string()
    }

    fn ready(&self) -> Result<(), String> {
        match self.not_ready.lock().map(|n| n.clone()) {
            Ok(None) => Ok(()),
            Ok(Some(why)) => Err(why),
            Err(_) => Err("poisoned".into()),
        }
    }
}

struct Site {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    process: Arc<FakeProcess>,
    router: Router,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Site {
    fn new(settings: ConsoleSettings, with_process: bool) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(StoreConfig::new(dir.path())).expect("open"));
        let process = Arc::new(FakeProcess {
            not_ready: Mutex::new(None),
        });
        let mut console = Console::new(store.clone(), settings);
        if with_process {
            console = console.with_operations(process.clone());
        }
        Site {
            _dir: dir,
            store,
            process,
            router: web::app(Arc::new(console)),
        }
    }

    async fn get(&self, uri: &str, auth: Option<&str>) -> Reply {
        let mut b = Request::get(uri);
        if let Some(a) = auth {
            b = b.header(header::AUTHORIZATION, a);
        }
        let req = b.body(Body::empty()).expect("request");
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn capture(&self, n: usize) {
        for i in 0..n {
            let raw = format!("Subject: metrics {i}\r\n\r\nbody {i}\r\n").into_bytes();
            let sighting = Sighting {
                id: uuid::Uuid::now_v7(),
                message_id: MessageId::of(&raw),
                received_at: model::now(),
                source: SightingSource::Smtp,
                size: raw.len() as u64,
                session_id: uuid::Uuid::now_v7(),
                listener: "smtp".into(),
                peer: "192.0.2.7:40000".into(),
                local: "127.0.0.1:2525".into(),
                helo: None,
                tls: None,
                envelope: Envelope::default(),
                anomalies: vec![],
                timings: Timings::default(),
                queue_id: String::new(),
                sensor: None,
            };
            self.store.capture(raw, sighting).await.expect("capture");
        }
    }
}

/// The value of an unlabelled sample (or of a full series such as `name{a="b"}`).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_show_the_store_gauges_and_the_process_counters() {
    let site = Site::new(ConsoleSettings::default(), true);
    site.capture(3).await;
    let r = site.get("/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"text/plain; version=0.0.4; charset=utf-8"[..])
    );
    assert_eq!(
        sample(&r.body, "spamhattan_analysis_queue_depth"),
        Some(3.0)
    );
    assert_eq!(
        sample(&r.body, "spamhattan_analysis_queue_limit"),
        Some(site.store.config().max_backlog as f64)
    );
    assert_eq!(
        sample(&r.body, "spamhattan_store_pressure{state=\"normal\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&r.body, "spamhattan_store_pressure{state=\"failed\"}"),
        Some(0.0)
    );
    assert!(sample(&r.body, "spamhattan_store_spool_bytes").is_some_and(|b| b > 60.0));
    assert_eq!(
        sample(&r.body, "spamhattan_store_spool_segments"),
        Some(1.0)
    );
    assert!(sample(&r.body, "spamhattan_store_disk_free_bytes").is_some_and(|b| b > 0.0));
    assert_eq!(sample(&r.body, "spamhattan_smtp_messages_total"), Some(7.0));
    // Every family is declared once, with its type, before its samples.
    let types: Vec<&str> = r
        .body
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .collect();
    let mut names: Vec<&str> = types.iter().filter_map(|t| t.split(' ').next()).collect();
    let declared = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), declared, "a family declared twice: {types:?}");
}

#[tokio::test]
async fn metrics_without_a_process_show_the_store_alone() {
    let site = Site::new(ConsoleSettings::default(), false);
    let r = site.get("/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        sample(&r.body, "spamhattan_analysis_queue_depth"),
        Some(0.0)
    );
    assert!(!r.body.contains("spamhattan_smtp_"));
    // docs/METRICS.md documents each store gauge, with its type.
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/METRICS.md"
    ))
    .expect("docs/METRICS.md");
    for declared in r.body.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let (name, kind) = declared.split_once(' ').expect("name and type");
        assert!(
            doc.lines()
                .any(|l| l.starts_with(&format!("| `{name}` | {kind} |"))),
            "{name} ({kind}) is not documented in docs/METRICS.md"
        );
    }
}

#[tokio::test]
async fn a_metrics_token_is_required_when_configured() {
    let settings = ConsoleSettings {
        metrics_token: Some(web::principal::digest("scrape-token-0123456789")),
        ..ConsoleSettings::default()
    };
    let site = Site::new(settings, true);
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789"),
        Some("Basic c2NyYXBlOnRva2Vu"),
        Some("Bearer scrape-token-012345678"),
    ] {
        let r = site.get("/metrics", auth).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(!r.body.contains("spamhattan_"), "nothing leaks: {}", r.body);
        assert!(
            r.headers
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("Bearer")),
            "{:?}",
            r.headers
        );
    }
    let r = site
        .get("/metrics", Some("Bearer scrape-token-0123456789"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(sample(&r.body, "spamhattan_smtp_messages_total"), Some(7.0));
    // The probes stay open: orchestrators call them without credentials.
    assert_eq!(site.get("/healthz", None).await.status, StatusCode::OK);
    assert_eq!(site.get("/readyz", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn health_is_ok_and_readiness_follows_the_process() {
    let site = Site::new(ConsoleSettings::default(), true);
    let h = site.get("/healthz", None).await;
    assert_eq!((h.status, h.body.as_str()), (StatusCode::OK, "ok\n"));
    let r = site.get("/readyz", None).await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ready\n"));
    if let Ok(mut n) = site.process.not_ready.lock() {
        *n = Some("shutting down".into());
    }
    let r = site.get("/readyz", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body, "not ready: shutting down\n");
    // Liveness does not follow readiness: the process is still alive.
    assert_eq!(site.get("/healthz", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn only_get_is_served() {
    let site = Site::new(ConsoleSettings::default(), true);
    let req = Request::post("/metrics")
        .body(Body::empty())
        .expect("request");
    let resp = site.router.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// What a scrape costs on a large store, against `store stats` (which counts every table).
/// Not part of the suite (filling takes a minute):
/// `SCRAPE_BENCH_MESSAGES=1000000 cargo test -p spamhattan-web --test ops -- --ignored --nocapture`
#[test]
#[ignore = "benchmark: fills a store with a million messages"]
fn scrape_cost_on_a_large_store() {
    let n: usize = std::env::var("SCRAPE_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(StoreConfig::new(dir.path())).expect("open");
    let started = std::time::Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        let tickets: Vec<_> = chunk
            .iter()
            .map(|i| {
                let raw = format!("Subject: bench {i}\r\n\r\nbody {i}\r\n").into_bytes();
                let sighting = Sighting {
                    id: uuid::Uuid::now_v7(),
                    message_id: MessageId::of(&raw),
                    received_at: model::now(),
                    source: SightingSource::Smtp,
                    size: raw.len() as u64,
                    session_id: uuid::Uuid::now_v7(),
                    listener: "smtp".into(),
                    peer: "192.0.2.7:40000".into(),
                    local: "127.0.0.1:2525".into(),
                    helo: None,
                    tls: None,
                    envelope: Envelope::default(),
                    anomalies: vec![],
                    timings: Timings::default(),
                    queue_id: String::new(),
                    sensor: None,
                };
                store.capture(raw, sighting)
            })
            .collect();
        for t in tickets {
            t.wait().expect("capture");
        }
    }
    eprintln!(
        "filled {n} messages (all pending analysis) in {:?}",
        started.elapsed()
    );
    let time = |label: &str, f: &dyn Fn()| {
        let mut took: Vec<std::time::Duration> = (0..21)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        took.sort_unstable();
        eprintln!("{label}: median {:?}, max {:?}", took[10], took[20]);
        took[10]
    };
    let scrape = time("store gauges of /metrics", &|| {
        let text = web::ops::store_gauges(&store);
        assert!(text.contains(&format!(
            "spamhattan_analysis_queue_depth {}",
            n.min(store::MAX_COUNTED_JOBS as usize)
        )));
    });
    time("store stats (not used by /metrics)", &|| {
        store.stats().expect("stats");
    });
    assert!(
        scrape < std::time::Duration::from_millis(100),
        "a scrape must stay cheap: {scrape:?}"
    );
}
