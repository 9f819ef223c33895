//! Shared fixtures: a real store with campaigns and indicators, three audiences, and a small
//! fake STIX renderer (paging and auth must not depend on the STIX writer's output).
#![allow(dead_code)]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use feeds::intel::policy::BasicUser;
use feeds::intel::stix::StixObject;
use feeds::intel::stix::ids::{SLOT_INDICATES, campaign_stix_id, malware_id, slot, stix_id};
use feeds::intel::{
    Audience, FeedMeta, Format, IntelCampaign, Ioc, Producer, Redactor, SharingPolicy, Tlp,
};
use model::report::IndicatorKind;
use model::{Envelope, MailFrom, MessageId, Sighting, SightingSource, Timings, VerdictClass};
use std::path::PathBuf;
use std::sync::Arc;
use store::{ReportSave, Store, StoreConfig, StoreError};
use tower::ServiceExt;
use web::FeedService;

pub const CERT_TOKEN: &str = "cert-token-0123456789";
pub const TAXII: &str = "application/taxii+json;version=2.1";

pub fn basic(user: &str, password: &str) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {b}")
}

pub fn cert() -> String {
    basic("cert", "cert-password")
}
pub fn bank() -> String {
    basic("bank", "bank-password")
}

/// `cert` (amber, user + token), `bank` (green, user, only some formats), `public`
/// (clear, anonymous). The policy marks everything green: `public` sees only the preamble.
pub fn audiences() -> Vec<Audience> {
    let mut cert = Audience::local(Tlp::Amber);
    cert.name = "cert".into();
    cert.tokens = vec![CERT_TOKEN.into()];
    cert.users = vec![BasicUser {
        user: "cert".into(),
        password: "cert-password".into(),
    }];
    let mut bank = Audience::local(Tlp::Green);
    bank.name = "bank".into();
    bank.formats = vec![Format::Stix, Format::TxtUrls, Format::Misp];
    bank.users = vec![BasicUser {
        user: "bank".into(),
        password: "bank-password".into(),
    }];
    let mut public = Audience::local(Tlp::Clear);
    public.name = "public".into();
    public.anonymous = true;
    vec![cert, bank, public]
}

pub fn producer() -> Producer {
    Producer {
        name: "Example CERT spamtrap".into(),
        contact: "cert@cert.example".into(),
        uuid: uuid::Uuid::from_u128(0x5f6e4d3c_2b1a_4098_8765_43210fedcba9),
        secret: [42; 32],
    }
}

pub fn policy() -> SharingPolicy {
    let mut p = SharingPolicy::new(
        Tlp::Green,
        Redactor::new(
            &["trap.example".into()],
            &["mx.trap.example".into()],
            [42; 32],
        ),
    );
    p.include_expired = true;
    p
}

fn ms(t: model::Timestamp) -> model::Timestamp {
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t)
}

fn obj(kind: &'static str, id: String, version: model::Timestamp) -> StixObject {
    let json = serde_json::json!({"type": kind, "id": id, "spec_version": "2.1"}).to_string();
    StixObject {
        id,
        kind,
        version: ms(version),
        json,
    }
}

/// Enough STIX-shaped objects to exercise paging: ids as the real writer derives them, and a
/// malware object shared by every campaign of a family (the de-duplication case).
#[derive(Debug)]
pub struct FakeRender;

impl web::Render for FakeRender {
    fn preamble(&self, meta: &FeedMeta) -> Vec<StixObject> {
        let t = time::macros::datetime!(2016-01-01 00:00 UTC);
        vec![
            obj("identity", stix_id("identity", meta.producer.uuid), t),
            obj("marking-definition", Tlp::Green.stix_marking_id().into(), t),
        ]
    }
    fn campaign(&self, c: &IntelCampaign, meta: &FeedMeta) -> Vec<StixObject> {
        let mut v = vec![obj(
            "campaign",
            campaign_stix_id(c.brief.uuid),
            c.brief.changed_at,
        )];
        for f in &c.brief.families {
            let t = time::macros::datetime!(2016-01-01 00:00 UTC);
            v.push(obj("malware", malware_id(&meta.producer.secret, f), t));
        }
        v
    }
    fn ioc(&self, ioc: &Ioc, _: &FeedMeta) -> Vec<StixObject> {
        vec![
            obj("indicator", stix_id("indicator", ioc.uuid), ioc.changed_at),
            obj(
                "relationship",
                stix_id("relationship", slot(ioc.uuid, SLOT_INDICATES)),
                ioc.changed_at,
            ),
        ]
    }
}

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    pub router: Router,
    pub service: Arc<FeedService>,
}

impl Fixture {
    /// A store with `campaigns` campaigns (family `locky`) of `messages` messages, each
    /// message with a URL and a domain indicator.
    pub fn new(campaigns: usize, messages: usize) -> Fixture {
        Fixture::with_render(campaigns, messages, Arc::new(FakeRender))
    }

    /// The same, rendered by `render` (the real STIX writer for end-to-end checks).
    pub fn with_render(campaigns: usize, messages: usize, render: Arc<dyn web::Render>) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(StoreConfig::new(dir.path().join("data"))).expect("open"));
        // The store's capture blocks on its writer: keep it off the test's runtime thread.
        let s = store.clone();
        std::thread::spawn(move || {
            for c in 0..campaigns {
                populate_campaign(&s, c, messages);
            }
        })
        .join()
        .expect("populate");
        let published = dir.path().join("published");
        let service = Arc::new(FeedService::with_render(
            store.clone(),
            policy(),
            producer(),
            audiences(),
            Some(published),
            render,
        ));
        Fixture {
            router: web::router(service.clone()),
            dir,
            store,
            service,
        }
    }

    pub fn published(&self) -> PathBuf {
        self.dir.path().join("published")
    }

    pub fn collection_id(&self, audience: usize) -> String {
        self.service
            .collection_id_of(audience)
            .expect("audience")
            .hyphenated()
            .to_string()
    }

    pub fn objects_url(&self, audience: usize) -> String {
        format!(
            "/taxii2/spamhattan/collections/{}/objects/",
            self.collection_id(audience)
        )
    }

    pub async fn get(&self, uri: &str, auth: Option<&str>) -> Reply {
        self.request("GET", uri, auth, &[]).await
    }

    pub async fn request(
        &self,
        method: &str,
        uri: &str,
        auth: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            b = b.header("authorization", a);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(Body::empty()).expect("request");
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
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
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
        helo: Some("spam.example".into()),
        tls: None,
        envelope: Envelope {
            mail_from: MailFrom {
                raw: "MAIL FROM:<bulk@spam.example>".into(),
                address: "bulk@spam.example".into(),
                params: vec![],
            },
            recipients: vec![],
        },
        anomalies: vec![],
        timings: Timings::default(),
        queue_id: "4XyZ1".into(),
        sensor: None,
    }
}

fn report(message_id: MessageId, indicators: &[(IndicatorKind, String)]) -> model::Report {
    use model::report::{BudgetUse, Headers, Indicator, Verdict};
    model::Report {
        schema: model::report::REPORT_SCHEMA,
        engine: "test".into(),
        message_id,
        size: 1,
        headers: Headers::default(),
        bodies: vec![],
        urls: vec![],
        artifacts: vec![],
        auth: None,
        scans: vec![],
        findings: vec![],
        indicators: indicators
            .iter()
            .map(|(k, v)| Indicator {
                kind: *k,
                value: v.clone(),
                at: "urls[0]".into(),
            })
            .collect(),
        trap_addresses: vec![],
        anomalies: vec![],
        verdict: Verdict {
            class: VerdictClass::Malware,
            score: 80,
            reasons: vec![],
        },
        budget: BudgetUse::default(),
    }
}

/// Captures `messages` analysed messages and clusters them into one new campaign.
fn populate_campaign(store: &Store, c: usize, messages: usize) {
    for m in 0..messages {
        let raw = format!("From: x@spam.example\r\nSubject: invoice {c}/{m}\r\n\r\nbody\r\n");
        let raw = raw.into_bytes();
        let captured = store
            .capture(raw.clone(), sighting(&raw))
            .wait()
            .expect("capture");
        let s = store
            .sighting(captured.sighting_id)
            .expect("read")
            .expect("sighting");
        let r = report(
            captured.message_id,
            &[
                (
                    IndicatorKind::Url,
                    format!("http://c{c}m{m}.example/invoice.js"),
                ),
                (IndicatorKind::Domain, format!("c{c}m{m}.example")),
            ],
        );
        store
            .save_reports(&[ReportSave {
                job: None,
                sighting: &s,
                report: &r,
            }])
            .expect("save");
    }
    store
        .cluster(|tx| -> Result<(), StoreError> {
            let pending = tx.pending(1000)?;
            let Some(first) = pending.first() else {
                return Ok(());
            };
            let id = tx.create(first.sighting.received_at, &Default::default())?;
            for u in &pending {
                tx.assign(
                    u.seq,
                    id,
                    u.sighting.received_at,
                    VerdictClass::Malware,
                    &[("family", "locky".to_string())],
                )?;
            }
            Ok(())
        })
        .expect("cluster");
}
