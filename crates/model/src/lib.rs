//! The shared vocabulary of spamhattan.
//!
//! Every other crate speaks in these types: a captured message is identified by its
//! [`MessageId`] (the SHA-256 of its raw bytes), each arrival of it is a [`Sighting`] with the
//! [`Envelope`] and the facts of the SMTP session that delivered it, the whole conversation is a
//! [`SessionRecord`], and everything observable is announced as an [`Event`] with a stable id.
//!
//! Layout: `message_id.rs` (content ids), `envelope.rs` (MAIL/RCPT as sent and as parsed),
//! `session.rs` (TLS, AUTH, transcript, session record), `anomaly.rs` (protocol and content
//! anomalies), `sighting.rs` (one arrival of one message), `sensor.rs` (the sensor that captured it), `event.rs` (the event log contract),
//! `report/` (what the analysis found: headers, URLs, artefacts, verdict), `campaign.rs`
//! (campaigns and what clustering compares), `alert.rs` (early-warning alerts), `intel.rs` (indicator rows and campaign briefs for the
//! feeds), `seed.rs` (minted trap addresses, bait visits), `domain.rs` (trap domains and their
//! lifecycle).
//!
//! This crate has no I/O and depends on no other crate of the workspace.

pub mod alert;
mod anomaly;
pub mod campaign;
mod client;
pub mod domain;
mod envelope;
mod event;
pub mod intel;
mod message_id;
pub mod report;
pub mod seed;
mod sensor;
mod session;
mod sighting;

pub use alert::{Alert, Severity};
pub use anomaly::{Anomaly, AnomalyKind};
pub use campaign::{Campaign, CampaignId, CampaignProfile, CampaignStatus, Features};
pub use client::client_key;
pub use domain::{DomainState, TrapDomain};
pub use envelope::{Envelope, MailFrom, RcptVerdict, Recipient};
pub use event::{Event, EventKind};
pub use message_id::{MessageId, ParseMessageIdError};
pub use report::{Report, VerdictClass};
pub use seed::{BaitForm, BaitVisit, NewSeed, SeedOrigin};
pub use sensor::{MAX_SENSOR_TAG, SensorTag, SensorTagError, valid_sensor_id};
pub use session::{AuthAttempt, Direction, SessionRecord, TlsInfo, Transcript, TranscriptLine};
pub use sighting::{Sighting, SightingSource, Timings};

/// Time stamps are UTC, serialised as RFC 3339 with sub-second precision.
pub type Timestamp = time::OffsetDateTime;

/// Current time as a [`Timestamp`].
pub fn now() -> Timestamp {
    time::OffsetDateTime::now_utc()
}
