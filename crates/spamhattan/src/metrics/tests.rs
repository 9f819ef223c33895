//! Events in, exposition text out, through a recorder of our own (not the process-wide one).

use super::*;
use model::{Event, EventKind};
use trap::{EventSink, MemorySink};

/// One sample of the text format: name, sorted labels, value.
#[derive(Debug, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// A strict reader of what our exporter writes (the e2e test uses Prometheus's own parser).
fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("sample line has a value");
        let value: f64 = value.parse().expect("numeric value");
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("closing brace");
                let mut labels: Vec<(String, String)> = body
                    .split(',')
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').expect("label pair");
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .expect("quoted");
                        (k.to_string(), v.to_string())
                    })
                    .collect();
                labels.sort();
                (name, labels)
            }
        };
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{line}"
        );
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut want: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    want.sort();
    samples
        .iter()
        .find(|s| s.name == name && s.labels == want)
        .map(|s| s.value)
}

fn ev(kind: EventKind) -> Event {
    Event::new(kind, Some(uuid::Uuid::now_v7()))
}

/// Runs `f` with a fresh recorder (described and zeroed as `serve` does) and returns what
/// `/metrics` would show.
fn rendered(f: impl FnOnce()) -> String {
    let recorder = recorder().expect("recorder");
    let handle = recorder.handle();
    ::metrics::with_local_recorder(&recorder, || {
        describe_all();
        f();
    });
    handle.render()
}

#[test]
fn smtp_events_become_counters() {
    let inner = Arc::new(MemorySink::default());
    let text = rendered(|| {
        let sink = CountingSink::new(inner.clone());
        sink.emit(ev(EventKind::SessionConnect));
        sink.emit(ev(EventKind::SessionConnect));
        sink.emit(ev(EventKind::SessionRcpt).field("verdict", "accepted"));
        sink.emit(ev(EventKind::SessionRcpt).field("verdict", "relay-denied"));
        sink.emit(ev(EventKind::SessionRcpt).field("verdict", "relay-denied"));
        sink.emit(
            ev(EventKind::MessageStored)
                .field("size", 1000)
                .field("duplicate", false),
        );
        sink.emit(
            ev(EventKind::MessageStored)
                .field("size", 2345)
                .field("duplicate", true),
        );
        sink.emit(ev(EventKind::MessageStoreFailed).field("size", 9));
        sink.emit(ev(EventKind::SessionAnomaly).field("kind", "bare-lf"));
        sink.emit(Event::new(EventKind::SessionRefused, None).field("limit", "per-ip"));
        sink.emit(ev(EventKind::SessionStarttls));
        sink.emit(ev(EventKind::SessionClosed).field("end", "idle-timeout"));
    });
    assert_eq!(
        inner.events().len(),
        12,
        "every event reaches the event log"
    );
    let s = parse(&text);
    assert_eq!(value(&s, names::SMTP_SESSIONS, &[]), Some(2.0));
    assert_eq!(value(&s, names::SMTP_RECIPIENTS, &[]), Some(1.0));
    assert_eq!(value(&s, names::SMTP_MESSAGES, &[]), Some(2.0));
    assert_eq!(value(&s, names::SMTP_MESSAGE_BYTES, &[]), Some(3345.0));
    assert_eq!(value(&s, names::SMTP_DUPLICATES, &[]), Some(1.0));
    let refusal = |stage, reason| {
        value(
            &s,
            names::SMTP_REFUSALS,
            &[("stage", stage), ("reason", reason)],
        )
    };
    assert_eq!(refusal("rcpt", "relay-denied"), Some(2.0));
    assert_eq!(refusal("connect", "per-ip-limit"), Some(1.0));
    assert_eq!(refusal("data", "store-failed"), Some(1.0));
    assert_eq!(
        refusal("rcpt", "unknown-user"),
        Some(0.0),
        "zero series exist"
    );
    assert_eq!(
        value(&s, names::SMTP_ANOMALIES, &[("kind", "bare-lf")]),
        Some(1.0)
    );
    assert_eq!(value(&s, names::SMTP_TLS, &[("outcome", "ok")]), Some(1.0));
    assert_eq!(
        value(&s, names::SMTP_SESSIONS_CLOSED, &[("end", "idle-timeout")]),
        Some(1.0)
    );
    assert!(text.contains("# TYPE spamhattan_smtp_messages_total counter"));
    assert!(text.contains("# HELP spamhattan_smtp_messages_total Messages made durable"));
}

#[test]
fn hostile_field_values_never_become_label_values() {
    let text = rendered(|| {
        let sink = CountingSink::new(Arc::new(trap::NullSink));
        for hostile in [
            "x\"} 1\nspamhattan_injected_total 7",
            "<img src=x onerror=alert(1)>",
            &"k".repeat(10_000),
        ] {
            sink.emit(ev(EventKind::SessionAnomaly).field("kind", hostile));
            sink.emit(ev(EventKind::SessionRcpt).field("verdict", hostile));
            sink.emit(ev(EventKind::SessionClosed).field("end", hostile));
            sink.emit(Event::new(EventKind::SessionRefused, None).field("limit", hostile));
            sink.emit(ev(EventKind::MessageAnalyzed).field("class", hostile));
            sink.emit(Event::new(EventKind::AlertRaised, None).field("severity", hostile));
        }
        // A field of the wrong type counts, with `other` or nothing, and never panics.
        sink.emit(ev(EventKind::SessionAnomaly).field("kind", 42));
        sink.emit(ev(EventKind::MessageStored).field("size", "big"));
    });
    let s = parse(&text);
    assert!(!text.contains("injected") && !text.contains("onerror") && !text.contains("kkk"));
    assert_eq!(
        value(&s, names::SMTP_ANOMALIES, &[("kind", "other")]),
        Some(4.0)
    );
    assert_eq!(
        value(
            &s,
            names::SMTP_REFUSALS,
            &[("stage", "rcpt"), ("reason", "other")]
        ),
        Some(3.0)
    );
    assert_eq!(
        value(&s, names::SMTP_SESSIONS_CLOSED, &[("end", "other")]),
        Some(3.0)
    );
    assert_eq!(
        value(&s, names::ANALYZED, &[("verdict", "other")]),
        Some(3.0)
    );
    assert_eq!(
        value(&s, names::ALERTS_RAISED, &[("severity", "other")]),
        Some(3.0)
    );
    assert_eq!(value(&s, names::SMTP_MESSAGE_BYTES, &[]), Some(0.0));
    for sample in &s {
        for (_, v) in &sample.labels {
            assert!(v.len() <= 32, "{sample:?}");
        }
    }
}

#[test]
fn analysis_alerts_and_feeds_are_counted_and_timed() {
    let text = rendered(|| {
        let sink = CountingSink::new(Arc::new(trap::NullSink));
        sink.emit(
            ev(EventKind::MessageAnalyzed)
                .field("class", "malware")
                .field("elapsed_us", 1500),
        );
        sink.emit(Event::new(EventKind::CampaignCreated, None));
        sink.emit(Event::new(EventKind::AlertRaised, None).field("severity", "high"));
        sink.emit(Event::new(EventKind::AlertDelivered, None));
        sink.emit(Event::new(EventKind::AlertFailed, None).field("retry", true));
        sink.emit(Event::new(EventKind::AlertFailed, None).field("retry", false));
        report_saved(model::now() - time::Duration::seconds(3));
        report_saved(model::now() - time::Duration::milliseconds(50));
        feeds_published(
            [feeds::intel::Format::Stix, feeds::intel::Format::Misp],
            Duration::from_millis(700),
        );
        feeds_failed(Duration::from_secs(2));
    });
    let s = parse(&text);
    assert_eq!(
        value(&s, names::ANALYZED, &[("verdict", "malware")]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, names::ANALYZED, &[("verdict", "spam")]),
        Some(0.0)
    );
    assert_eq!(value(&s, names::CAMPAIGNS_CREATED, &[]), Some(1.0));
    assert_eq!(
        value(&s, names::ALERTS_RAISED, &[("severity", "high")]),
        Some(1.0)
    );
    for outcome in ["delivered", "retry", "failed"] {
        assert_eq!(
            value(&s, names::ALERT_DELIVERIES, &[("outcome", outcome)]),
            Some(1.0),
            "{outcome}"
        );
    }
    let latency = |suffix: &str, le: Option<&str>| {
        let name = format!("{}{suffix}", names::ANALYSIS_LATENCY);
        match le {
            Some(le) => value(&s, &name, &[("le", le)]),
            None => value(&s, &name, &[]),
        }
    };
    assert_eq!(latency("_count", None), Some(2.0));
    assert_eq!(latency("_bucket", Some("0.1")), Some(1.0), "the 50 ms one");
    assert_eq!(latency("_bucket", Some("2.5")), Some(1.0));
    assert_eq!(latency("_bucket", Some("5")), Some(2.0), "the 3 s one");
    assert_eq!(latency("_bucket", Some("+Inf")), Some(2.0));
    let sum = latency("_sum", None).unwrap_or(0.0);
    assert!((3.04..3.5).contains(&sum), "{sum}");
    let engine = format!("{}_bucket", names::ANALYSIS_ENGINE);
    assert_eq!(value(&s, &engine, &[("le", "0.001")]), Some(0.0));
    assert_eq!(value(&s, &engine, &[("le", "0.0025")]), Some(1.0));
    assert_eq!(
        value(&s, names::FEED_PUBLICATIONS, &[("outcome", "ok")]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, names::FEED_PUBLICATIONS, &[("outcome", "failed")]),
        Some(1.0)
    );
    assert_eq!(
        value(&s, names::FEED_FILES, &[("format", "misp")]),
        Some(1.0)
    );
    let count = format!("{}_count", names::FEED_DURATION);
    assert_eq!(value(&s, &count, &[]), Some(2.0));
    assert!(value(&s, names::FEED_LAST_SUCCESS, &[]).is_some_and(|t| t > 1.7e9));
}

#[test]
fn names_follow_the_prometheus_rules() {
    for d in names::ALL {
        assert!(
            d.name.starts_with("spamhattan_") || d.name == names::START_TIME,
            "{}",
            d.name
        );
        match d.kind {
            Kind::Counter => assert!(d.name.ends_with("_total"), "{}", d.name),
            Kind::Histogram => assert!(d.name.ends_with("_seconds"), "{}", d.name),
            Kind::Gauge => assert!(!d.name.ends_with("_total"), "{}", d.name),
        }
        assert!(!d.help.is_empty() && !d.help.contains('\n'));
    }
    let mut all: Vec<&str> = names::ALL.iter().map(|d| d.name).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), names::ALL.len(), "unique names");
}

/// `docs/METRICS.md` documents every metric with its type and labels.
#[test]
fn the_metrics_document_lists_every_metric() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/METRICS.md");
    let doc = std::fs::read_to_string(path).expect("docs/METRICS.md");
    for d in names::ALL {
        let kind = match d.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let row = doc
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", d.name)))
            .unwrap_or_else(|| panic!("no row for {} in docs/METRICS.md", d.name));
        assert!(row.contains(&format!("| {kind} |")), "{row}");
        for label in d.labels {
            assert!(row.contains(&format!("`{label}`")), "{row}: label {label}");
        }
    }
}
