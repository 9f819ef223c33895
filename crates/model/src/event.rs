//! The event log contract: one JSON object per line, each with a stable `eventid`.
//!
//! These ids are what Elastic, Splunk and Cowrie-style pipelines key on, so they never change
//! meaning; new events get new ids. `docs/EVENTS.md` documents every id and a test checks the
//! document, this enum and the emitters agree.

use crate::Timestamp;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

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
    StoreRetention,
}

impl EventKind {
    /// All kinds, in documentation order.
    pub const ALL: [EventKind; 14] = [
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
        EventKind::StoreRetention,
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
            EventKind::StoreRetention => "spamhattan.store.retention",
        }
    }
}

/// One event: its kind, when, the session it belongs to (if any) and kind-specific fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub timestamp: Timestamp,
    pub session: Option<uuid::Uuid>,
    /// Kind-specific fields; flattened into the JSON object. A JSON object, or null for none.
    pub fields: serde_json::Value,
}

impl Event {
    /// An event stamped now.
    pub fn new(kind: EventKind, session: Option<uuid::Uuid>, fields: serde_json::Value) -> Self {
        Self {
            kind,
            timestamp: crate::now(),
            session,
            fields,
        }
    }

    /// The event as one line of JSON (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self)
            .unwrap_or_else(|e| format!(r#"{{"eventid":"{}","error":"{}"}}"#, self.kind.id(), e))
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("eventid", self.kind.id())?;
        let ts = self
            .timestamp
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(serde::ser::Error::custom)?;
        map.serialize_entry("timestamp", &ts)?;
        if let Some(session) = self.session {
            map.serialize_entry("session", &session)?;
        }
        if let serde_json::Value::Object(fields) = &self.fields {
            for (k, v) in fields {
                if k != "eventid" && k != "timestamp" && k != "session" {
                    map.serialize_entry(k, v)?;
                }
            }
        }
        map.end()
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
        let ev = Event::new(
            EventKind::SessionHelo,
            None,
            serde_json::json!({"eventid": "spoofed", "helo": "x"}),
        );
        let v: serde_json::Value = serde_json::from_str(&ev.to_json_line()).unwrap_or_default();
        assert_eq!(v["eventid"], "spamhattan.session.helo");
        assert_eq!(v["helo"], "x");
    }
}
