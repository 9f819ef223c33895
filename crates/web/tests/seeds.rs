//! Seeds, harvesters and trap domains through the real router and a real store: a bait visit
//! hands out addresses, mail comes back to one of them, and the API and the console attribute
//! it to the visit; minting checks role, CSRF and domain; per-domain statistics add exact
//! domains up under their configured pattern; visitor values render as text.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use model::{BaitForm, BaitVisit, DomainState, Envelope, MailFrom, MessageId, NewSeed};
use model::{RcptVerdict, Recipient, SeedOrigin, Sighting, SightingSource, TrapDomain};
use model::{Timestamp, VerdictClass};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use store::{ReportSave, Role, SeedRecord, Store, StoreConfig, StoreError};
use time::Duration;
use tower::ServiceExt;
use web::{Console, ConsoleSettings};

const READER: &str = "reader-token-0123456789";
const ADMIN: &str = "admin-token-0123456789";
const COOKIE: &str = "session-value-0123456789";
const CSRF: &str = "csrf-0123456789";
const HARVESTER: &str = "203.0.113.9";
const OTHER: &str = "2001:db8::7";

/// What a harvester may send; every value must come out as text.
const HOSTILE_AGENT: &str = "<script>alert(1)</script> javascript:alert(2)";
const HOSTILE_REFERER: &str = "javascript:alert(3)//\"><img src=x onerror=alert(4)>";
const HOSTILE_PATH: &str = "/team\"><svg/onload=alert(5)>";
const HOSTILE_LABEL: &str = "\"><img src=x onerror=alert(6)> javascript:x";

struct Site {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    app: Router,
    /// The four seeds of the harvester's visit (mailto, text, obfuscated, entities).
    visit_seeds: Vec<SeedRecord>,
    /// A manual seed with a hostile label.
    manual: SeedRecord,
    /// The message to the mailto seed, and the one to the manual seed.
    to_visit: Sighting,
    to_manual: Sighting,
    visited_at: Timestamp,
}

fn settings() -> ConsoleSettings {
    let today = model::now().date();
    ConsoleSettings {
        trap_domains: vec![
            TrapDomain {
                active_from: Some(today - Duration::days(10)),
                aging_from: Some(today - Duration::days(20)),
                sector: "finance".into(),
                ..TrapDomain::active("trap.example")
            },
            TrapDomain {
                state: Some(DomainState::New),
                ..TrapDomain::active("quiet.example")
            },
            TrapDomain {
                retired_from: Some(today - Duration::days(1)),
                ..TrapDomain::active("old.example")
            },
            TrapDomain::active("*.lists.example"),
        ],
        ..ConsoleSettings::default()
    }
}

fn sighting(n: usize, rcpts: &[&str], at: Timestamp, peer: &str) -> (Vec<u8>, Sighting) {
    let raw = format!("Subject: offer {n}\r\n\r\nbody {n}\r\n").into_bytes();
    let s = Sighting {
        id: uuid::Uuid::now_v7(),
        message_id: MessageId::of(&raw),
        received_at: at,
        source: SightingSource::Smtp,
        size: raw.len() as u64,
        session_id: uuid::Uuid::nil(),
        listener: "smtp".into(),
        peer: peer.into(),
        local: "198.51.100.1:25".into(),
        helo: Some("bulk.example".into()),
        tls: None,
        envelope: Envelope {
            mail_from: MailFrom {
                raw: "MAIL FROM:<a@spam.example>".into(),
                address: "a@spam.example".into(),
                params: vec![],
            },
            recipients: rcpts
                .iter()
                .map(|a| Recipient {
                    raw: format!("RCPT TO:<{a}>"),
                    address: (*a).into(),
                    verdict: RcptVerdict::Accepted,
                    reply: "250 ok".into(),
                    quiet: false,
                })
                .collect(),
        },
        anomalies: vec![],
        timings: Default::default(),
        queue_id: "q".into(),
        sensor: None,
    };
    (raw, s)
}

/// Captures and analyses message `n` (class spam); returns its sighting.
fn mail(store: &Store, n: usize, rcpts: &[&str], at: Timestamp, peer: &str) -> Sighting {
    let (raw, s) = sighting(n, rcpts, at, peer);
    store.capture(raw, s.clone()).wait().expect("capture");
    let r: model::Report = serde_json::from_value(serde_json::json!({
        "schema": model::report::REPORT_SCHEMA, "engine": "test",
        "message_id": s.message_id, "size": 1, "headers": {"subject": format!("offer {n}")},
        "verdict": {"class": VerdictClass::Spam, "score": 50, "reasons": []},
        "budget": model::report::BudgetUse::default()
    }))
    .expect("report");
    store
        .save_reports(&[ReportSave {
            job: None,
            sighting: &s,
            report: &r,
        }])
        .expect("save");
    s
}

/// Every analysed message not yet in a campaign goes into one new campaign.
fn cluster(store: &Store) {
    store
        .cluster(|tx| -> Result<(), StoreError> {
            let pending = tx.pending(100)?;
            let Some(first) = pending.first() else {
                return Ok(());
            };
            let id = tx.create(first.sighting.received_at, &Default::default())?;
            for u in &pending {
                tx.assign(u.seq, id, u.sighting.received_at, VerdictClass::Spam, &[])?;
            }
            Ok(())
        })
        .expect("cluster");
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Arc::new(Store::open(StoreConfig::new(dir.path().join("data"))).expect("open"));
        store
            .create_token("reader", Role::Reader, &web::principal::digest(READER))
            .expect("token");
        store
            .create_token("admin", Role::Admin, &web::principal::digest(ADMIN))
            .expect("token");
        store
            .put_user("ana", Role::Admin, "$argon2id$unused")
            .expect("user");
        store
            .create_web_session(
                &web::principal::digest(COOKIE),
                "ana",
                CSRF,
                model::now() + Duration::hours(1),
            )
            .expect("session");
        let now = model::now();
        let visited_at = now - Duration::hours(3);
        let s = store.clone();
        // The store's capture blocks on its writer: keep it off the test's runtime thread.
        let (visit_seeds, manual, to_visit, to_manual) = std::thread::spawn(move || {
            let visit = BaitVisit {
                id: uuid::Uuid::now_v7(),
                at: visited_at,
                ip: HARVESTER.into(),
                user_agent: HOSTILE_AGENT.into(),
                referer: HOSTILE_REFERER.into(),
                path: HOSTILE_PATH.into(),
            };
            let seeds: Vec<NewSeed> = BaitForm::ALL
                .into_iter()
                .map(|f| NewSeed::mint("trap.example", SeedOrigin::Visit, Some(f), "team page"))
                .collect();
            let visit_seeds = s.record_bait_visit(&visit, &seeds).expect("visit");
            let other = BaitVisit {
                id: uuid::Uuid::now_v7(),
                at: visited_at - Duration::hours(1),
                ip: OTHER.into(),
                user_agent: "Crawler/1.0".into(),
                referer: String::new(),
                path: "/contact".into(),
            };
            let one = [NewSeed::mint(
                "trap.example",
                SeedOrigin::Visit,
                Some(BaitForm::Text),
                "contact page",
            )];
            s.record_bait_visit(&other, &one).expect("other visit");
            let manual = s
                .mint_seeds(&[NewSeed::mint(
                    "trap.example",
                    SeedOrigin::Manual,
                    None,
                    HOSTILE_LABEL,
                )])
                .expect("mint")
                .remove(0);
            let to_visit = mail(
                &s,
                1,
                &[&visit_seeds[0].address, "info@trap.example"],
                now - Duration::hours(1),
                "198.51.100.20:4000",
            );
            let to_manual = mail(
                &s,
                2,
                &[&manual.address],
                now - Duration::minutes(30),
                "198.51.100.21:4000",
            );
            cluster(&s);
            mail(&s, 3, &["x@a.lists.example"], now, "192.0.2.1:25");
            mail(&s, 4, &["y@gone.example"], now, "192.0.2.1:25");
            (visit_seeds, manual, to_visit, to_manual)
        })
        .join()
        .expect("populate");
        let console = Arc::new(Console::new(store.clone(), settings()));
        Site {
            _dir: dir,
            store,
            app: web::app(console),
            visit_seeds,
            manual,
            to_visit,
            to_manual,
            visited_at,
        }
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, Vec<u8>) {
        let mut b = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let resp = self
            .app
            .clone()
            .oneshot(b.body(Body::from(body.to_string())).expect("request"))
            .await
            .expect("response");
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .expect("body");
        (status, bytes.to_vec())
    }

    async fn api(&self, uri: &str) -> (StatusCode, Value) {
        let auth = format!("Bearer {READER}");
        let (status, body) = self.send("GET", uri, &[("authorization", &auth)], "").await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn ok(&self, uri: &str) -> Value {
        let (status, v) = self.api(uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {v}");
        v
    }

    async fn mint(&self, headers: &[(&str, &str)], body: &str) -> (StatusCode, Value) {
        let mut all = vec![("content-type", "application/json")];
        all.extend_from_slice(headers);
        let (status, body) = self.send("POST", "/api/v1/seeds", &all, body).await;
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    async fn page(&self, uri: &str) -> String {
        let auth = format!("Bearer {READER}");
        let (status, body) = self.send("GET", uri, &[("authorization", &auth)], "").await;
        let text = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(status, StatusCode::OK, "{uri}: {text}");
        text
    }
}

fn description(v: &Value) -> &str {
    v["error"]["description"].as_str().unwrap_or("")
}

fn ids(v: &Value) -> Vec<i64> {
    v["seeds"]
        .as_array()
        .expect("seeds")
        .iter()
        .map(|s| s["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn seeds_are_listed_filtered_and_paged() {
    let site = Site::new();
    let all = site.ok("/api/v1/seeds").await;
    assert_eq!(all.get("next_cursor"), None, "one page holds all");
    let every = ids(&all);
    assert_eq!(
        every.len(),
        6,
        "four visit seeds, one of another visit, one manual"
    );
    assert!(every.windows(2).all(|w| w[0] > w[1]), "newest first");

    let manual = site.ok("/api/v1/seeds?origin=manual").await;
    assert_eq!(ids(&manual), vec![site.manual.id]);
    assert_eq!(manual["seeds"][0]["label"], HOSTILE_LABEL);
    assert_eq!(manual["seeds"][0]["form"], Value::Null);

    let hit: BTreeSet<i64> = ids(&site.ok("/api/v1/seeds?hit=true").await)
        .into_iter()
        .collect();
    assert_eq!(
        hit,
        BTreeSet::from([site.visit_seeds[0].id, site.manual.id])
    );
    let harvested = site.ok(&format!("/api/v1/seeds?visitor={HARVESTER}")).await;
    let mut want: Vec<i64> = site.visit_seeds.iter().map(|s| s.id).collect();
    want.reverse();
    assert_eq!(ids(&harvested), want);
    let labelled = site.ok("/api/v1/seeds?label=contact%20page").await;
    assert_eq!(ids(&labelled).len(), 1);
    let six = site
        .ok("/api/v1/seeds?visitor=2001:db8:0:0:0:0:0:7&origin=visit")
        .await;
    assert_eq!(ids(&six).len(), 1, "IPv6 visitors match in any spelling");

    // Pages of two walk through all six, without duplicates.
    let mut seen = Vec::new();
    let mut uri = "/api/v1/seeds?limit=2".to_string();
    for _ in 0..10 {
        let page = site.ok(&uri).await;
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(n) => uri = format!("/api/v1/seeds?limit=2&cursor={n}"),
            None => break,
        }
    }
    assert_eq!(seen, every);

    for (uri, needle) in [
        ("/api/v1/seeds?origin=bait", "origin"),
        ("/api/v1/seeds?visitor=not-an-ip", "visitor"),
        ("/api/v1/seeds?hit=maybe", "query"),
        ("/api/v1/seeds?cursor=0", "cursor"),
        ("/api/v1/seeds?cursor=x", "cursor"),
        ("/api/v1/seeds?limit=501", "limit"),
        ("/api/v1/seeds?colour=red", "query"),
    ] {
        let (status, v) = site.api(uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {v}");
        assert!(description(&v).contains(needle), "{uri}: {v}");
    }
    let long = format!("/api/v1/seeds?label={}", "x".repeat(201));
    assert_eq!(site.api(&long).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        site.send("GET", "/api/v1/seeds", &[], "").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_seed_is_found_by_number_address_or_token_with_its_visit_and_hits() {
    let site = Site::new();
    let mailto = &site.visit_seeds[0];
    let by_id = site.ok(&format!("/api/v1/seeds/{}", mailto.id)).await;
    assert_eq!(by_id["seed"]["address"], mailto.address.as_str());
    assert_eq!(by_id["seed"]["form"], "mailto");
    assert_eq!(by_id["seed"]["hits"], 1);
    assert_eq!(by_id["visit"]["ip"], HARVESTER);
    assert_eq!(by_id["visit"]["user_agent"], HOSTILE_AGENT);
    assert_eq!(
        by_id["hits"][0]["sighting"],
        site.to_visit.id.hyphenated().to_string()
    );
    assert!(by_id["hits"][0]["campaign"].is_string(), "{by_id}");
    let after = by_id["first_spam_after_secs"].as_i64().expect("delay");
    assert!((7190..=7210).contains(&after), "two hours: {after}");
    for key in [
        mailto.address.to_uppercase(),
        mailto.token.clone(),
        mailto.address.replace('@', "%40"),
    ] {
        let v = site.ok(&format!("/api/v1/seeds/{key}")).await;
        assert_eq!(v["seed"]["id"], mailto.id, "{key}");
    }
    let unused = site
        .ok(&format!("/api/v1/seeds/{}", site.visit_seeds[1].id))
        .await;
    assert_eq!(unused["hits"], Value::Array(vec![]));
    assert_eq!(unused["first_spam_after_secs"], Value::Null);

    assert_eq!(
        site.api("/api/v1/seeds/999999").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        site.api("/api/v1/seeds/info@trap.example").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        site.api("/api/v1/seeds/99999999999999999999999").await.0,
        StatusCode::BAD_REQUEST
    );
    let long = format!("/api/v1/seeds/{}", "a".repeat(321));
    assert_eq!(site.api(&long).await.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn minting_needs_an_admin_a_csrf_token_for_sessions_and_a_live_trap_domain() {
    let site = Site::new();
    let admin = format!("Bearer {ADMIN}");
    let reader = format!("Bearer {READER}");
    let cookie = format!("spamhattan_session={COOKIE}");
    let body = r#"{"label":"forum signature","count":3}"#;

    assert_eq!(site.mint(&[], body).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        site.mint(&[("authorization", &reader)], body).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, v) = site.mint(&[("cookie", &cookie)], body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{v}");
    assert!(description(&v).contains("CSRF"));
    let (status, v) = site
        .mint(&[("cookie", &cookie), ("x-csrf-token", CSRF)], body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["seeds"].as_array().map(Vec::len), Some(3));

    let (status, v) = site.mint(&[("authorization", &admin)], body).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let items = v["seeds"].as_array().expect("seeds");
    for s in items {
        assert_eq!(s["domain"], "trap.example", "the first active domain");
        assert_eq!(s["origin"], "manual");
        assert_eq!(s["label"], "forum signature");
        let address = s["address"].as_str().expect("address");
        assert_eq!(
            model::seed::token_of(address).as_deref(),
            s["token"].as_str()
        );
    }
    let stored = site
        .store
        .seeds(&store::SeedFilter {
            label: Some("forum signature".into()),
            ..Default::default()
        })
        .expect("seeds");
    assert_eq!(stored.len(), 6, "both requests are stored");

    let (status, v) = site
        .mint(
            &[("authorization", &admin)],
            r#"{"label":"list canary","domain":"Canary.Lists.Example."}"#,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["seeds"][0]["domain"], "canary.lists.example");
    assert!(
        v["seeds"][0]["address"]
            .as_str()
            .is_some_and(|a| a.ends_with("@canary.lists.example"))
    );

    for (body, needle) in [
        (r#"{"label":"x","domain":"quiet.example"}"#, "new today"),
        (r#"{"label":"x","domain":"old.example"}"#, "retired today"),
        (
            r#"{"label":"x","domain":"evil.example"}"#,
            "not a configured",
        ),
        (r#"{"label":"x","domain":"a b.lists.example"}"#, "host name"),
        (r#"{"label":""}"#, "label"),
        (r#"{"label":"a\u0007b"}"#, "control"),
        (r#"{"label":"x","count":0}"#, "count"),
        (r#"{"label":"x","count":101}"#, "count"),
    ] {
        let (status, v) = site.mint(&[("authorization", &admin)], body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        assert!(description(&v).contains(needle), "{body}: {v}");
    }
    let long = format!(r#"{{"label":"{}"}}"#, "é".repeat(51));
    assert_eq!(
        site.mint(&[("authorization", &admin)], &long).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    for body in [
        r#"{"label":"x","colour":"red"}"#,
        r#"{"label":"x","count":-1}"#,
        r#"{"count":1}"#,
        "not json",
        "",
    ] {
        let (status, v) = site.mint(&[("authorization", &admin)], body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
    }
    let huge = format!(r#"{{"label":"x","domain":"{}"}}"#, "a".repeat(5000));
    assert_eq!(
        site.mint(&[("authorization", &admin)], &huge).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn harvesters_are_listed_paged_and_told_apart() {
    let site = Site::new();
    let all = site.ok("/api/v1/harvesters").await;
    let items = all["harvesters"].as_array().expect("harvesters");
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["ip"], HARVESTER, "latest visit first");
    assert_eq!(items[0]["visits"], 1);
    assert_eq!(items[0]["seeds"], 4);
    assert_eq!(items[0]["seeds_hit"], 1);
    assert_eq!(items[0]["messages"], 1);
    assert_eq!(items[0]["last_user_agent"], HOSTILE_AGENT);
    assert_eq!(all.get("next_cursor"), None, "one page holds all");

    let first = site.ok("/api/v1/harvesters?limit=1").await;
    assert_eq!(first["harvesters"][0]["ip"], HARVESTER);
    let next = first["next_cursor"].as_str().expect("a next page");
    let second = site
        .ok(&format!("/api/v1/harvesters?limit=1&cursor={next}"))
        .await;
    assert_eq!(second["harvesters"][0]["ip"], OTHER);
    assert_eq!(second.get("next_cursor"), None);

    let h = site.ok(&format!("/api/v1/harvesters/{HARVESTER}")).await;
    assert_eq!(h["harvester"]["ip"], HARVESTER);
    assert_eq!(h["forms_hit"][0]["key"], "mailto");
    assert_eq!(h["campaigns"].as_array().map(Vec::len), Some(1));
    assert_eq!(h["networks"][0]["count"], 1);
    assert_eq!(h["visits"][0]["path"], HOSTILE_PATH);
    assert_eq!(h["seeds"].as_array().map(Vec::len), Some(4));
    let min = h["first_spam_min_secs"].as_i64().expect("min");
    assert!((7190..=7210).contains(&min), "{min}");
    let v6 = site.ok("/api/v1/harvesters/2001:db8:0::7").await;
    assert_eq!(v6["harvester"]["ip"], OTHER, "any spelling of the address");

    assert_eq!(
        site.api("/api/v1/harvesters/192.0.2.200").await.0,
        StatusCode::NOT_FOUND
    );
    let (status, v) = site.api("/api/v1/harvesters/evil.example").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert!(description(&v).contains("IPv4 or IPv6"));
    assert_eq!(
        site.api("/api/v1/harvesters?cursor=yesterday").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn domains_add_exact_domains_up_under_their_pattern() {
    let site = Site::new();
    let v = site.ok("/api/v1/domains").await;
    assert_eq!(v["days"], 30);
    let domains = v["domains"].as_array().expect("domains");
    let patterns: Vec<&str> = domains
        .iter()
        .map(|d| d["pattern"].as_str().expect("pattern"))
        .collect();
    assert_eq!(
        patterns,
        vec![
            "trap.example",
            "quiet.example",
            "old.example",
            "*.lists.example",
            "gone.example"
        ]
    );
    let trap = &domains[0];
    assert_eq!(trap["state"], "active");
    assert_eq!(trap["sector"], "finance");
    assert_eq!(trap["messages"], 2);
    assert_eq!(trap["by_class"][0]["key"], "spam");
    assert_eq!(trap["by_class"][0]["count"], 2);
    assert_eq!(trap["campaigns"], 1);
    assert!(trap["by_sensor"][0]["count"].as_u64() == Some(2), "{trap}");
    assert!(
        trap["first_after_activation"].is_string(),
        "mail after activation: {trap}"
    );
    let secs = trap["first_after_activation_secs"].as_i64().expect("secs");
    assert!(secs > 9 * 86_400 && secs < 11 * 86_400, "{secs}");
    assert_eq!(domains[1]["state"], "new");
    assert_eq!(domains[1]["messages"], 0);
    assert_eq!(domains[2]["state"], "retired");
    assert_eq!(domains[3]["messages"], 1, "a.lists.example counts here");
    assert_eq!(domains[3]["exact_domains"][0], "a.lists.example");
    assert_eq!(domains[4]["state"], Value::Null, "not configured");
    assert_eq!(domains[4]["messages"], 1);

    for bad in ["days=0", "days=367", "days=x", "week=1"] {
        assert_eq!(
            site.api(&format!("/api/v1/domains?{bad}")).await.0,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    assert_eq!(site.ok("/api/v1/domains?days=366").await["days"], 366);
}

#[tokio::test]
async fn a_message_names_the_visit_that_harvested_its_address() {
    let site = Site::new();
    let d = site
        .ok(&format!("/api/v1/messages/{}", site.to_visit.id))
        .await;
    let seeds = d["seeds"].as_array().expect("seeds");
    assert_eq!(seeds.len(), 1, "info@ is no seed: {d}");
    assert_eq!(seeds[0]["seed"]["id"], site.visit_seeds[0].id);
    assert_eq!(seeds[0]["visit"]["ip"], HARVESTER);
    let after = seeds[0]["after_secs"].as_i64().expect("after");
    assert!((7190..=7210).contains(&after), "{after}");
    let m = site
        .ok(&format!("/api/v1/messages/{}", site.to_manual.id))
        .await;
    assert_eq!(m["seeds"][0]["visit"], Value::Null);
    assert_eq!(m["seeds"][0]["seed"]["origin"], "manual");

    let page = site.page(&format!("/messages/{}", site.to_visit.id)).await;
    assert!(page.contains("Harvested by"), "{page}");
    assert!(page.contains(&format!("href=\"/harvesters/{HARVESTER}\"")));
    assert!(page.contains(&format!("href=\"/seeds/{}\"", site.visit_seeds[0].id)));
    assert!(
        page.contains("2 h 0 min before this message"),
        "delay shown"
    );
    assert!(page.contains("(shown as mailto)"));
    let manual = site.page(&format!("/messages/{}", site.to_manual.id)).await;
    assert!(manual.contains("Manual seed"), "{manual}");
    assert!(!manual.contains("Harvested by"));
    // A message to no seed has no attribution section.
    let visited = site.visited_at;
    let s = site.store.clone();
    let plain = tokio::task::spawn_blocking(move || {
        mail(&s, 9, &["nobody@trap.example"], visited, "192.0.2.9:25")
    })
    .await
    .expect("mail");
    let page = site.page(&format!("/messages/{}", plain.id)).await;
    assert!(!page.contains("Attribution"));
}

#[tokio::test]
async fn console_pages_show_seeds_harvesters_and_domains_as_text() {
    let site = Site::new();
    let ipv6 = "/harvesters/2001%3Adb8%3A%3A7";
    let pages = [
        "/seeds".to_string(),
        "/seeds?origin=manual".to_string(),
        "/seeds?hit=1&label=team+page".to_string(),
        format!("/seeds/{}", site.visit_seeds[0].id),
        format!("/seeds/{}", site.manual.id),
        format!("/seeds/{}", site.visit_seeds[0].token),
        "/harvesters".to_string(),
        format!("/harvesters/{HARVESTER}"),
        ipv6.to_string(),
        "/domains".to_string(),
        "/domains?days=7".to_string(),
        format!("/messages/{}", site.to_visit.id),
        format!("/messages/{}", site.to_manual.id),
    ];
    for uri in &pages {
        let html = site.page(uri).await;
        assert!(html.contains("<nav aria-label=\"Console\">"), "{uri}");
        for raw in [
            "<script>",
            "<img src=x",
            "<svg/onload",
            "href=\"javascript",
            "src=\"javascript",
        ] {
            assert!(!html.contains(raw), "{uri} contains {raw:?}");
        }
    }
    let seed = site
        .page(&format!("/seeds/{}", site.visit_seeds[0].id))
        .await;
    assert!(
        seed.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
        "agent as text"
    );
    assert!(seed.contains("javascript[:]alert(3)"), "referer defanged");
    assert!(
        seed.contains("/team&#34;&#62;&#60;svg/onload=alert(5)&#62;"),
        "path as text"
    );
    assert!(seed.contains(&format!("href=\"/harvesters/{HARVESTER}\"")));
    assert!(seed.contains("/campaigns/"), "hit's campaign linked");
    let manual = site.page(&format!("/seeds/{}", site.manual.id)).await;
    assert!(manual.contains("&#34;&#62;&#60;img src=x onerror=alert(6)&#62;"));
    let list = site.page("/seeds?origin=manual").await;
    assert!(list.contains(&site.manual.address));
    assert!(!list.contains(&site.visit_seeds[0].address), "filtered");
    assert!(
        !list.contains("action=\"/seeds/mint\""),
        "readers get no mint form"
    );
    let harvester = site.page(&format!("/harvesters/{HARVESTER}")).await;
    for part in ["mailto", "/campaigns/", "198.51.100.0/24", "2 h 0 min"] {
        assert!(harvester.contains(part), "harvester page lacks {part}");
    }
    let harvesters = site.page("/harvesters").await;
    assert!(harvesters.contains("href=\"/harvesters/2001%3Adb8%3A%3A7\""));
    let domains = site.page("/domains").await;
    for part in [
        "*.lists.example",
        "gone.example",
        "not configured",
        "<svg class=\"mix\"",
        "finance",
    ] {
        assert!(domains.contains(part), "domains page lacks {part}");
    }
    let bad = site.page("/domains?days=9999").await;
    assert!(bad.contains("role=\"alert\""));
    let auth = format!("Bearer {READER}");
    for (uri, want) in [
        ("/harvesters/not-an-ip", StatusCode::BAD_REQUEST),
        ("/harvesters/192.0.2.200", StatusCode::NOT_FOUND),
        ("/seeds/999999", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(
            site.send("GET", uri, &[("authorization", &auth)], "")
                .await
                .0,
            want,
            "{uri}"
        );
    }
    let (status, _) = site.send("GET", "/seeds", &[], "").await;
    assert!(
        status.is_redirection(),
        "anonymous visitors go to the login page"
    );
}

#[tokio::test]
async fn the_mint_form_works_for_admin_sessions_only() {
    let site = Site::new();
    let cookie = format!("spamhattan_session={COOKIE}");
    let post = |body: String, cookie: String| {
        let app = site.app.clone();
        async move {
            let req = Request::post("/seeds/mint")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, cookie)
                .body(Body::from(body))
                .expect("request");
            let resp = app.oneshot(req).await.expect("response");
            let status = resp.status();
            let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
                .await
                .expect("body");
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };
    // The list shows the form to an admin session, with its token and the mintable domains.
    let (status, form) = {
        let req = Request::get("/seeds")
            .header(header::COOKIE, cookie.clone())
            .body(Body::empty())
            .expect("request");
        let resp = site.app.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    };
    assert_eq!(status, StatusCode::OK);
    assert!(form.contains("action=\"/seeds/mint\""));
    assert!(form.contains(&format!("value=\"{CSRF}\"")));
    assert!(form.contains("<option value=\"trap.example\">"));
    assert!(
        !form.contains("<option value=\"quiet.example\">"),
        "new domains bounce"
    );

    let (status, _) = post(
        "csrf=wrong&label=paste&domain=trap.example&count=2".into(),
        cookie.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, html) = post(
        format!("csrf={CSRF}&label=paste+site+%3Cb%3E&domain=trap.example&count=2"),
        cookie.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{html}");
    let minted = site
        .store
        .seeds(&store::SeedFilter {
            label: Some("paste site <b>".into()),
            ..Default::default()
        })
        .expect("seeds");
    assert_eq!(minted.len(), 2);
    for s in &minted {
        assert!(html.contains(&s.address), "new address shown");
    }
    assert!(html.contains("paste site &#60;b&#62;"));
    let (status, html) = post(
        format!("csrf={CSRF}&label=x&domain=old.example&count=1"),
        cookie.clone(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("retired today"), "{html}");
    let (status, _) = post(format!("csrf={CSRF}&label=x&count=many"), cookie.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    site.store
        .put_user("bo", Role::Reader, "$argon2id$unused")
        .expect("user");
    site.store
        .create_web_session(
            &web::principal::digest("bo-cookie-0123456789"),
            "bo",
            "bo-csrf",
            model::now() + Duration::hours(1),
        )
        .expect("session");
    let (status, _) = post(
        "csrf=bo-csrf&label=x".into(),
        "spamhattan_session=bo-cookie-0123456789".into(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}
