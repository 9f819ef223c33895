//! The bait site through its real router: every view mints one address per form, stored with
//! the visit; the forms read back as a harvester reads them; trusted proxies, the throttle,
//! robots.txt, HEAD and hostile requests.

mod common;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use common::Reply;
use model::seed::MAX_VISIT_FIELD;
use model::{BaitForm, BaitVisit};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use store::{SeedDetail, Store, StoreConfig};
use tower::ServiceExt;
use web::bait::{Bait, BaitSettings, VisitObserver};

const PROXY: &str = "127.0.0.1";

#[derive(Debug, Default)]
struct Seen(Mutex<Vec<(BaitVisit, usize)>>);

impl VisitObserver for Seen {
    fn visited(&self, visit: &BaitVisit, seeds: &[store::SeedRecord]) {
        self.0
            .lock()
            .expect("observer")
            .push((visit.clone(), seeds.len()));
    }
}

struct Site {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    router: Router,
    seen: Arc<Seen>,
}

impl Site {
    fn new(tune: impl FnOnce(&mut BaitSettings)) -> Site {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(StoreConfig::new(dir.path())).expect("open"));
        let mut settings = BaitSettings {
            domains: vec!["trap.example".into()],
            trusted_proxies: vec![PROXY.parse().expect("ip")],
            ..BaitSettings::default()
        };
        tune(&mut settings);
        let seen = Arc::new(Seen::default());
        let bait = Bait::new(store.clone(), settings).with_observer(seen.clone());
        Site {
            _dir: dir,
            store,
            router: web::bait::app(Arc::new(bait)),
            seen,
        }
    }

    async fn request(
        &self,
        method: &str,
        uri: &str,
        peer: &str,
        headers: &[(&str, &[u8])],
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let mut req = b.body(Body::empty()).expect("request");
        let peer: SocketAddr = format!("{peer}:40000").parse().expect("peer");
        req.extensions_mut().insert(ConnectInfo(peer));
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
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

    async fn get(&self, uri: &str, peer: &str, headers: &[(&str, &[u8])]) -> (Reply, String) {
        let r = self.request("GET", uri, peer, headers).await;
        let html = String::from_utf8(r.body.clone()).expect("utf-8 page");
        (r, html)
    }

    fn stored_visits(&self) -> u64 {
        self.store
            .bait_visits_since(time::OffsetDateTime::UNIX_EPOCH)
            .expect("count")
    }

    fn seed(&self, address: &str) -> SeedDetail {
        self.store
            .seed_by_address(address)
            .expect("read")
            .unwrap_or_else(|| panic!("{address} is not a stored seed"))
    }
}

/// The addresses a harvester reads in a page, by form.
fn harvest(html: &str) -> Vec<(BaitForm, String)> {
    let mut out = Vec::new();
    for part in html.split("mailto:").skip(1) {
        let address = part.split(['"', '?']).next().unwrap_or("");
        out.push((BaitForm::Mailto, address.to_string()));
    }
    // Text outside tags: plain addresses, and the `[at]`/`[dot]` form.
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push('\n');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    for line in text.lines().map(str::trim) {
        if line.contains(" [at] ") {
            let address = line.replace(" [at] ", "@").replace(" [dot] ", ".");
            out.push((BaitForm::Obfuscated, address));
        } else {
            for word in line.split_whitespace().filter(|w| w.contains('@')) {
                out.push((BaitForm::Text, word.to_string()));
            }
        }
    }
    // Runs of decimal character references.
    for run in html.split(|c: char| !(c.is_ascii_digit() || c == '&' || c == '#' || c == ';')) {
        if run.matches("&#").count() > 3 {
            let decoded: String = run
                .split(';')
                .filter_map(|r| r.strip_prefix("&#")?.parse::<u32>().ok())
                .filter_map(char::from_u32)
                .collect();
            out.push((BaitForm::Entities, decoded));
        }
    }
    out
}

#[tokio::test]
async fn two_visits_show_eight_stored_addresses_one_per_form() {
    let site = Site::new(|_| {});
    let mut all = BTreeSet::new();
    let mut visits = BTreeSet::new();
    for (n, path) in ["/team/sales", "/contact"].iter().enumerate() {
        let agent = format!("Harvester/{n}");
        let (r, html) = site
            .get(path, "192.0.2.10", &[("user-agent", agent.as_bytes())])
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(html.contains("<meta name=\"robots\" content=\"noindex,nofollow\">"));
        let found = harvest(&html);
        let forms: BTreeSet<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(found.len(), 4, "{found:?}\n{html}");
        assert_eq!(forms.len(), 4, "one address per form: {found:?}");
        for (form, address) in &found {
            let d = site.seed(address);
            assert_eq!(d.seed.form, Some(*form), "{address}");
            assert_eq!(d.seed.domain, "trap.example");
            let v = d.visit.expect("a visit seed has its visit");
            assert_eq!(v.ip, "192.0.2.10");
            assert_eq!(v.user_agent, agent);
            assert_eq!(v.path, *path);
            visits.insert(v.id);
            all.insert(address.clone());
        }
    }
    assert_eq!(all.len(), 8, "fresh addresses per visit");
    assert_eq!(visits.len(), 2);
    assert_eq!(site.stored_visits(), 2);
    let seen = site.seen.0.lock().expect("seen");
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|(_, seeds)| *seeds == 4));
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let site = Site::new(|_| {});
    let (_, via_proxy) = site
        .get("/", PROXY, &[("x-forwarded-for", b"10.9.9.9, 203.0.113.5")])
        .await;
    let (_, direct) = site
        .get("/", "198.51.100.9", &[("x-forwarded-for", b"203.0.113.6")])
        .await;
    let (_, garbage) = site
        .get("/", PROXY, &[("x-forwarded-for", b"203.0.113.7, nonsense")])
        .await;
    for (html, ip) in [
        (via_proxy, "203.0.113.5"),
        (direct, "198.51.100.9"),
        (garbage, PROXY),
    ] {
        let (_, address) = &harvest(&html)[0];
        assert_eq!(site.seed(address).visit.expect("visit").ip, ip);
    }
}

#[tokio::test]
async fn a_busy_visitor_sees_its_addresses_again_and_nothing_is_stored() {
    let site = Site::new(|s| s.visits_per_ip_hour = 2);
    let mut pages = Vec::new();
    for _ in 0..4 {
        let (r, html) = site.get("/directory", "192.0.2.20", &[]).await;
        assert_eq!(r.status, StatusCode::OK);
        pages.push(harvest(&html));
    }
    assert_ne!(pages[0], pages[1]);
    assert_eq!(pages[2], pages[1], "the latest addresses again");
    assert_eq!(pages[3], pages[1]);
    assert_eq!(site.stored_visits(), 2);
    assert_eq!(site.seen.0.lock().expect("seen").len(), 2);
    // Someone else still gets addresses of their own.
    let (_, other) = site.get("/directory", "192.0.2.21", &[]).await;
    assert_ne!(harvest(&other), pages[1]);
    assert_eq!(site.stored_visits(), 3);
}

#[tokio::test]
async fn past_the_daily_cap_pages_show_the_latest_addresses_issued() {
    let site = Site::new(|s| s.visits_per_day = 1);
    let (_, first) = site.get("/team", "192.0.2.30", &[]).await;
    let (r, second) = site.get("/team", "192.0.2.31", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(harvest(&second), harvest(&first));
    assert_eq!(site.stored_visits(), 1);
}

#[tokio::test]
async fn robots_txt_keeps_honest_crawlers_out() {
    let site = Site::new(|_| {});
    let r = site.request("GET", "/robots.txt", "192.0.2.1", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, b"User-agent: *\nDisallow: /\n");
    let r = site.request("GET", "/favicon.ico", "192.0.2.1", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(site.stored_visits(), 0);
}

#[tokio::test]
async fn head_mints_nothing_and_other_methods_are_refused() {
    let site = Site::new(|_| {});
    let r = site.request("HEAD", "/team", "192.0.2.1", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.is_empty());
    for method in ["POST", "PUT", "DELETE", "PROPFIND"] {
        let r = site.request(method, "/team", "192.0.2.1", &[]).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
    }
    assert_eq!(site.stored_visits(), 0);
}

#[tokio::test]
async fn hostile_requests_get_a_page_and_are_recorded_cut_to_size() {
    let site = Site::new(|_| {});
    let agent = "A".repeat(10 * 1024);
    let long_path = format!("/{}", "p".repeat(8000));
    for path in [
        "/../../etc/passwd",
        "/%00",
        "/a%ff%fe?x=%00",
        long_path.as_str(),
    ] {
        let (r, html) = site
            .get(path, "192.0.2.40", &[("user-agent", agent.as_bytes())])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let found = harvest(&html);
        assert_eq!(found.len(), 4, "{path}");
        let v = site.seed(&found[0].1).visit.expect("visit");
        assert_eq!(v.user_agent.len(), MAX_VISIT_FIELD);
        assert!(v.path.len() <= MAX_VISIT_FIELD);
        assert!(path.starts_with(&v.path), "{path} recorded as {}", v.path);
    }
    // Header bytes that are not UTF-8 are kept, lossily.
    let (_, html) = site
        .get("/", "192.0.2.41", &[("user-agent", b"Bot\xff\xfe/1")])
        .await;
    let v = site.seed(&harvest(&html)[0].1).visit.expect("visit");
    assert_eq!(v.user_agent, "Bot\u{fffd}\u{fffd}/1");
    // Past the request limits: refused before any handler.
    let too_long = format!("/{}", "p".repeat(web::MAX_URI_BYTES));
    let r = site.request("GET", &too_long, "192.0.2.42", &[]).await;
    assert_eq!(r.status, StatusCode::URI_TOO_LONG);
}

#[tokio::test]
async fn request_values_never_reach_the_page() {
    let site = Site::new(|_| {});
    let evil = b"<script>alert(1)</script>\"><img src=x onerror=alert(2)>";
    let (r, html) = site
        .get(
            "/team/%3Cscript%3Ealert(3)%3C%2Fscript%3E?q=%22%3E%3Cb%3E",
            "192.0.2.50",
            &[("user-agent", evil), ("referer", evil)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    for needle in ["script", "alert", "onerror", "%3C", "<b>", "q="] {
        assert!(!html.contains(needle), "{needle} reflected:\n{html}");
    }
    assert_eq!(
        r.header("content-security-policy"),
        Some(web::bait::BAIT_CSP)
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // It is evidence all the same: stored as received.
    let v = site.seed(&harvest(&html)[0].1).visit.expect("visit");
    assert_eq!(v.user_agent.as_bytes(), evil);
    assert_eq!(v.referer.as_bytes(), evil);
}

#[tokio::test]
async fn a_page_links_to_more_pages_that_are_pages_too() {
    let site = Site::new(|_| {});
    let (_, html) = site.get("/", "192.0.2.60", &[]).await;
    let links: BTreeSet<String> = html
        .split("<a href=\"/")
        .skip(1)
        .filter_map(|p| p.split('"').next())
        .map(|p| format!("/{p}"))
        .collect();
    assert!(links.len() >= 4, "{links:?}");
    assert!(links.len() <= 3 + web::bait::MORE_LINKS);
    let (_, again) = site.get("/", "192.0.2.61", &[]).await;
    assert!(again.contains(&format!(
        "<a href=\"{}\"",
        links.iter().next().expect("link")
    )));
    for link in links {
        let (r, html) = site.get(&link, "192.0.2.62", &[]).await;
        assert_eq!(r.status, StatusCode::OK, "{link}");
        assert_eq!(harvest(&html).len(), 4, "{link}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_views_cannot_overshoot_the_limit() {
    let site = Arc::new(Site::new(|s| s.visits_per_ip_hour = 5));
    let views = (0..20).map(|_| {
        let site = site.clone();
        tokio::spawn(async move { site.get("/team", "192.0.2.80", &[]).await.0.status })
    });
    for status in futures_util::future::join_all(views).await {
        assert_eq!(status.expect("task"), StatusCode::OK);
    }
    assert_eq!(site.stored_visits(), 5);
}
