//! A sighting: one arrival of one message, with where and how it came.

use crate::{Anomaly, Envelope, MessageId, SensorTag, Timestamp, TlsInfo};
use serde::{Deserialize, Serialize};

/// How the message reached the trap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SightingSource {
    /// Received over SMTP by a listener of this trap.
    Smtp,
    /// Read from a file by `spamhattan import`.
    Import { path: String },
}

/// Time spent in the session up to the capture, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// From connect to the end of the message data.
    pub session_ms: u64,
    /// From the DATA/first BDAT command to the end of the data.
    pub data_ms: u64,
}

/// One arrival of a message. Identical messages share a [`MessageId`] (and one stored blob) but
/// every arrival has its own sighting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    /// UUIDv7: time-ordered, unique per arrival.
    pub id: uuid::Uuid,
    pub message_id: MessageId,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: Timestamp,
    pub source: SightingSource,
    /// Size of the raw message in bytes.
    pub size: u64,
    /// The session that delivered it (nil for imports).
    pub session_id: uuid::Uuid,
    /// Listener name; empty for imports.
    #[serde(default)]
    pub listener: String,
    /// Peer `ip:port`; empty for imports.
    #[serde(default)]
    pub peer: String,
    /// Local `ip:port`; empty for imports.
    #[serde(default)]
    pub local: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    pub envelope: Envelope,
    /// Anomalies seen in this transaction (DATA framing, smuggling, size, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Anomaly>,
    #[serde(default)]
    pub timings: Timings,
    /// Queue id the persona announced in the `250` reply (Postfix-like), empty for imports.
    #[serde(default)]
    pub queue_id: String,
    /// The sensor that accepted it when it came over the bus from `spamhattan sensor`; `None`
    /// for mail this process captured itself (`serve`) and for imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor: Option<SensorTag>,
}

impl Sighting {
    /// The sender address (`""` for the null sender).
    pub fn sender(&self) -> &str {
        &self.envelope.mail_from.address
    }
}
