//! The counting event sink: every event the trap, the analysis pool and the outbox emit passes
//! through here on its way to the event log, and becomes counter increments. This is why the
//! `trap` crate needs no metrics dependency: its events already say what happened.

use super::labels::{self, OTHER};
use super::names::*;
use ::metrics::{counter, histogram};
use model::{AnomalyKind, Event, EventKind, Severity, VerdictClass};
use std::sync::Arc;
use trap::EventSink;

/// Counts each event, then hands it to `inner`.
pub struct CountingSink {
    inner: Arc<dyn EventSink>,
}

impl std::fmt::Debug for CountingSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CountingSink")
    }
}

impl CountingSink {
    pub fn new(inner: Arc<dyn EventSink>) -> CountingSink {
        CountingSink { inner }
    }
}

impl EventSink for CountingSink {
    fn emit(&self, event: Event) {
        count(&event);
        self.inner.emit(event);
    }
}

/// The increments one event stands for, recorded in the current recorder. Fields are read
/// only for the kinds that need one (a re-parse of a few hundred bytes).
fn count(event: &Event) {
    match event.kind {
        EventKind::SessionConnect => counter!(SMTP_SESSIONS).increment(1),
        EventKind::SessionRefused => {
            let f = event.fields();
            let reason = labels::connection_limit(f["limit"].as_str());
            refusal("connect", reason);
        }
        EventKind::SessionStarttls => counter!(SMTP_TLS, "outcome" => "ok").increment(1),
        EventKind::SessionTlsFailed => counter!(SMTP_TLS, "outcome" => "failed").increment(1),
        EventKind::SessionAuth => counter!(SMTP_AUTH).increment(1),
        EventKind::SessionRcpt => {
            let f = event.fields();
            match f["verdict"].as_str() {
                Some("accepted") => counter!(SMTP_RECIPIENTS).increment(1),
                other => refusal("rcpt", labels::rcpt_refusal(other)),
            }
        }
        EventKind::SessionAnomaly => {
            let f = event.fields();
            let kind = labels::variant::<AnomalyKind>(f["kind"].as_str());
            counter!(SMTP_ANOMALIES, "kind" => kind).increment(1);
        }
        EventKind::SessionClosed => {
            let f = event.fields();
            let end = labels::session_end(f["end"].as_str());
            counter!(SMTP_SESSIONS_CLOSED, "end" => end).increment(1);
        }
        EventKind::MessageStored => {
            let f = event.fields();
            counter!(SMTP_MESSAGES).increment(1);
            counter!(SMTP_MESSAGE_BYTES).increment(f["size"].as_u64().unwrap_or(0));
            if f["duplicate"].as_bool() == Some(true) {
                counter!(SMTP_DUPLICATES).increment(1);
            }
        }
        EventKind::MessageStoreFailed => refusal("data", "store-failed"),
        EventKind::MessageAnalyzed => {
            let f = event.fields();
            let verdict = labels::variant::<VerdictClass>(f["class"].as_str());
            counter!(ANALYZED, "verdict" => verdict).increment(1);
            if let Some(us) = f["elapsed_us"].as_u64() {
                histogram!(ANALYSIS_ENGINE).record(us as f64 / 1e6);
            }
        }
        EventKind::CampaignCreated => counter!(CAMPAIGNS_CREATED).increment(1),
        EventKind::CampaignMerged => counter!(CAMPAIGNS_MERGED).increment(1),
        EventKind::AlertRaised => {
            let f = event.fields();
            let severity = labels::variant::<Severity>(f["severity"].as_str());
            counter!(ALERTS_RAISED, "severity" => severity).increment(1);
        }
        EventKind::AlertDelivered => {
            counter!(ALERT_DELIVERIES, "outcome" => "delivered").increment(1);
        }
        EventKind::AlertFailed => {
            let f = event.fields();
            let outcome = match f["retry"].as_bool() {
                Some(true) => "retry",
                Some(false) => "failed",
                None => OTHER,
            };
            counter!(ALERT_DELIVERIES, "outcome" => outcome).increment(1);
        }
        EventKind::StoreRetention => {
            let f = event.fields();
            counter!(RETENTION_FREED).increment(f["freed_bytes"].as_u64().unwrap_or(0));
        }
        EventKind::BaitVisit => counter!(BAIT_VISITS).increment(1),
        EventKind::SessionHelo
        | EventKind::SessionMailFrom
        | EventKind::MessageImported
        | EventKind::CampaignGrew => {}
    }
}

fn refusal(stage: &'static str, reason: &'static str) {
    counter!(SMTP_REFUSALS, "stage" => stage, "reason" => reason).increment(1);
}
