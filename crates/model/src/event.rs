//! The event log contract: one JSON object per line, each with a stable `eventid`.
//!
//! These ids are what Elastic, Splunk and Cowrie-style pipelines key on, so they never change
//! meaning; new events get new ids. `docs/EVENTS.md` documents every id and a test checks the
//! document, this enum and the emitters agree.
//!
//! Events are made on the SMTP hot path (about eight per message), so their fields are rendered
//! to JSON once, when the event is built, straight from the values: no intermediate
//! `serde_json::Value` maps, no second serialisation when the line is written.

use crate::Timestamp;
use serde::Serialize;
use std::io::Write as _;

/// Every kind of event spamhattan emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    SessionConnect,
    SessionRefused,
    SessionHelo,
    SessionStarttls,
    SessionTlsFailed,
    SessionAuth,
    SessionMailFrom,
    SessionRcpt,
    SessionAnomaly,
    SessionClosed,
    MessageStored,
    MessageStoreFailed,
    MessageImported,
    MessageAnalyzed,
    CampaignCreated,
    CampaignGrew,
    CampaignMerged,
    AlertRaised,
    AlertDelivered,
    AlertFailed,
    StoreRetention,
    BaitVisit,
}

impl EventKind {
    /// All kinds, in documentation order.
    pub const ALL: [EventKind; 22] = [
        EventKind::SessionConnect,
        EventKind::SessionRefused,
        EventKind::SessionHelo,
        EventKind::SessionStarttls,
        EventKind::SessionTlsFailed,
        EventKind::SessionAuth,
        EventKind::SessionMailFrom,
        EventKind::SessionRcpt,
        EventKind::SessionAnomaly,
        EventKind::SessionClosed,
        EventKind::MessageStored,
        EventKind::MessageStoreFailed,
        EventKind::MessageImported,
        EventKind::MessageAnalyzed,
        EventKind::CampaignCreated,
        EventKind::CampaignGrew,
        EventKind::CampaignMerged,
        EventKind::AlertRaised,
        EventKind::AlertDelivered,
        EventKind::AlertFailed,
        EventKind::StoreRetention,
        EventKind::BaitVisit,
    ];

    /// The stable string id.
    pub const fn id(self) -> &'static str {
        match self {
            EventKind::SessionConnect => "spamhattan.session.connect",
            EventKind::SessionRefused => "spamhattan.session.refused",
            EventKind::SessionHelo => "spamhattan.session.helo",
            EventKind::SessionStarttls => "spamhattan.session.starttls",
            EventKind::SessionTlsFailed => "spamhattan.session.tls_failed",
            EventKind::SessionAuth => "spamhattan.session.auth",
            EventKind::SessionMailFrom => "spamhattan.session.mail_from",
            EventKind::SessionRcpt => "spamhattan.session.rcpt",
            EventKind::SessionAnomaly => "spamhattan.session.anomaly",
            EventKind::SessionClosed => "spamhattan.session.closed",
            EventKind::MessageStored => "spamhattan.message.stored",
            EventKind::MessageStoreFailed => "spamhattan.message.store_failed",
            EventKind::MessageImported => "spamhattan.message.imported",
            EventKind::MessageAnalyzed => "spamhattan.message.analyzed",
            EventKind::CampaignCreated => "spamhattan.campaign.created",
            EventKind::CampaignGrew => "spamhattan.campaign.grew",
            EventKind::CampaignMerged => "spamhattan.campaign.merged",
            EventKind::AlertRaised => "spamhattan.alert.raised",
            EventKind::AlertDelivered => "spamhattan.alert.delivered",
            EventKind::AlertFailed => "spamhattan.alert.failed",
            EventKind::StoreRetention => "spamhattan.store.retention",
            EventKind::BaitVisit => "spamhattan.bait.visit",
        }
    }
}

/// Keys every event line starts with; fields may not use them.
const RESERVED: [&str; 3] = ["eventid", "timestamp", "session"];

/// One event: its kind, when, the session it belongs to (if any) and kind-specific fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub timestamp: Timestamp,
    pub session: Option<uuid::Uuid>,
    /// The fields as rendered JSON members (`"a":1,"b":"x"`), without braces. Always UTF-8:
    /// serde_json writes nothing else.
    fields: Vec<u8>,
}

impl Event {
    /// Starts an event stamped now; add fields with [`Event::field`].
    pub fn new(kind: EventKind, session: Option<uuid::Uuid>) -> Self {
        Self {
            kind,
            timestamp: crate::now(),
            session,
            fields: Vec::new(),
        }
    }

    /// Adds one field. Reserved keys (`eventid`, `timestamp`, `session`) are ignored so a
    /// field can never forge the envelope; a value that cannot be rendered becomes `null`.
    pub fn field(mut self, key: &str, value: impl Serialize) -> Self {
        if RESERVED.contains(&key) {
            return self;
        }
        if !self.fields.is_empty() {
            self.fields.push(b',');
        }
        push_json(&mut self.fields, &key);
        self.fields.push(b':');
        push_json(&mut self.fields, &value);
        self
    }

    /// Adds every member of a serialisable struct or map as a field.
    pub fn fields_of(mut self, value: impl Serialize) -> Self {
        if let Ok(serde_json::Value::Object(map)) = serde_json::to_value(value) {
            for (k, v) in map {
                self = self.field(&k, v);
            }
        }
        self
    }

    /// The fields as a JSON object (parsed again: for tests and in-memory consumers).
    pub fn fields(&self) -> serde_json::Value {
        let mut object = Vec::with_capacity(self.fields.len() + 2);
        object.push(b'{');
        object.extend_from_slice(&self.fields);
        object.push(b'}');
        serde_json::from_slice(&object).unwrap_or(serde_json::Value::Null)
    }

    /// The event as one line of JSON (no trailing newline).
    pub fn to_json_line(&self) -> String {
        let mut line = Vec::new();
        self.write_json_line(&mut line);
        line.pop();
        String::from_utf8_lossy(&line).into_owned()
    }

    /// Appends the event as one line of JSON and its `\n` to `line`: the event log's path,
    /// with no intermediate string.
    pub fn write_json_line(&self, line: &mut Vec<u8>) {
        line.reserve(96 + self.fields.len());
        line.extend_from_slice(b"{\"eventid\":\"");
        line.extend_from_slice(self.kind.id().as_bytes());
        line.extend_from_slice(b"\",\"timestamp\":\"");
        let ts = self.timestamp;
        let _ = write!(
            line,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z\"",
            ts.year(),
            u8::from(ts.month()),
            ts.day(),
            ts.hour(),
            ts.minute(),
            ts.second(),
            ts.microsecond()
        );
        if let Some(session) = self.session {
            let _ = write!(line, ",\"session\":\"{session}\"");
        }
        if !self.fields.is_empty() {
            line.push(b',');
            line.extend_from_slice(&self.fields);
        }
        line.extend_from_slice(b"}\n");
    }
}

/// Renders `value` as JSON at the end of `out` (`null` if it cannot be rendered).
fn push_json(out: &mut Vec<u8>, value: &impl Serialize) {
    let mark = out.len();
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.truncate(mark);
        out.extend_from_slice(b"null");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_namespaced() {
        let mut ids: Vec<_> = EventKind::ALL.iter().map(|k| k.id()).collect();
        assert!(ids.iter().all(|id| id.starts_with("spamhattan.")));
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), EventKind::ALL.len());
    }

    #[test]
    fn fields_cannot_overwrite_the_envelope_keys() {
        let ev = Event::new(EventKind::SessionHelo, None)
            .field("eventid", "spoofed")
            .field("helo", "x");
        let v: serde_json::Value = serde_json::from_str(&ev.to_json_line()).unwrap_or_default();
        assert_eq!(v["eventid"], "spamhattan.session.helo");
        assert_eq!(v["helo"], "x");
    }

    #[test]
    fn a_line_is_valid_json_whatever_the_values_hold() {
        let session = uuid::Uuid::now_v7();
        let ev = Event::new(EventKind::SessionRcpt, Some(session))
            .field("address", "\"quoted\"\n\u{202e}@x")
            .field("n", 3)
            .fields_of(serde_json::json!({"list": ["a", "b"]}));
        let v: serde_json::Value = serde_json::from_str(&ev.to_json_line()).unwrap_or_default();
        assert_eq!(v["address"], "\"quoted\"\n\u{202e}@x");
        assert_eq!(v["n"], 3);
        assert_eq!(v["list"][1], "b");
        assert_eq!(v["session"], session.to_string());
        assert_eq!(ev.fields()["n"], 3);
        // RFC 3339 UTC with microseconds, as log shippers parse it.
        let ts = v["timestamp"].as_str().unwrap_or_default();
        assert_eq!(ts.len(), "2026-12-04T17:00:00.000000Z".len(), "{ts}");
        assert!(
            time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339).is_ok()
        );
    }
}
