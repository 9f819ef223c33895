//! Helpers shared by the store's integration tests.
#![allow(dead_code)]

use model::{Envelope, MailFrom, MessageId, Sighting, SightingSource, Timestamp, Timings};
use store::{Store, StoreConfig};

/// A plausible SMTP sighting of `raw`.
pub fn sighting_at(raw: &[u8], received_at: Timestamp) -> Sighting {
    Sighting {
        id: uuid::Uuid::now_v7(),
        message_id: MessageId::of(raw),
        received_at,
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

pub fn sighting(raw: &[u8]) -> Sighting {
    sighting_at(raw, model::now())
}

/// A message of about 4 KiB, unique per `(a, b)`.
pub fn message(a: usize, b: usize) -> Vec<u8> {
    let mut m = format!("From: x@spam.example\r\nSubject: offer {a}/{b}\r\n\r\n").into_bytes();
    while m.len() < 4096 {
        m.extend_from_slice(b"Buy now, limited offer! \r\n");
    }
    m
}

/// The PostgreSQL server the suite runs against, when `SPAMHATTAN_TEST_POSTGRES` names one (a
/// libpq URL such as `postgresql://postgres@127.0.0.1/spamhattan_test`). `.ci/run` runs the
/// store's tests twice: without it (SQLite) and with it.
pub fn postgres_url() -> Option<String> {
    std::env::var("SPAMHATTAN_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A store configuration for a test: SQLite in `dir`, or, under `SPAMHATTAN_TEST_POSTGRES`,
/// a schema of its own in that database (named after nothing shared, so tests run in parallel).
pub fn config(dir: &std::path::Path) -> StoreConfig {
    let mut cfg = StoreConfig::new(dir);
    if let Some(url) = postgres_url() {
        let mut pg = store::PgConfig::new(url);
        pg.schema = Some(format!("t_{}", uuid::Uuid::new_v4().simple()));
        cfg.postgres = Some(pg);
    }
    cfg
}

/// A connection of the test's own to the store's PostgreSQL schema, for reading or editing
/// rows behind the store's back. Panics when the store is not on PostgreSQL.
pub fn pg_client(cfg: &StoreConfig) -> postgres::Client {
    let pg = cfg.postgres.as_ref().expect("a PostgreSQL store");
    let mut c = postgres::Client::connect(&pg.url, postgres::NoTls).expect("connect");
    let schema = pg.schema.as_deref().expect("the test's own schema");
    c.batch_execute(&format!("SET search_path TO {schema}"))
        .expect("schema");
    c
}

/// True (and says so) when the suite runs against PostgreSQL and the test is about something
/// only the SQLite store has (its journal, segments, a sensor's spool): the caller returns.
pub fn sqlite_only(why: &str) -> bool {
    if postgres_url().is_some() {
        eprintln!("skipped on PostgreSQL: {why}");
        return true;
    }
    false
}

pub fn open(dir: &std::path::Path) -> Store {
    Store::open(config(dir)).expect("open store")
}

pub fn capture(store: &Store, raw: &[u8]) -> store::Captured {
    store
        .capture(raw.to_vec(), sighting(raw))
        .wait()
        .expect("capture")
}

/// A finished session record with fixed facts; `helo` as given.
pub fn session_record(helo: Option<&str>) -> model::SessionRecord {
    model::SessionRecord {
        id: uuid::Uuid::now_v7(),
        started_at: model::now(),
        ended_at: model::now(),
        listener: "smtp".into(),
        peer: "192.0.2.9:1234".into(),
        local: "198.51.100.1:25".into(),
        helo: helo.map(str::to_owned),
        tls: None,
        auth_attempts: vec![],
        anomalies: vec![],
        sightings: vec![],
        commands: 4,
        errors: 0,
        end: "quit".into(),
        transcript: model::Transcript::default(),
    }
}

/// A minimal analysis report of `message_id` with the given verdict and indicators.
pub fn report(
    message_id: MessageId,
    class: model::VerdictClass,
    indicators: &[(model::report::IndicatorKind, &str)],
) -> model::Report {
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
                value: v.to_string(),
                at: "urls[0]".into(),
            })
            .collect(),
        trap_addresses: vec!["trap@trap.example".into()],
        anomalies: vec![],
        verdict: Verdict {
            class,
            score: 40,
            reasons: vec![],
        },
        budget: BudgetUse::default(),
    }
}
