//! The bus between sensors and collectors: NATS JetStream carrying captures and sessions.
//!
//! `spamhattan sensor` runs a trap on each host and publishes every accepted message as a
//! [`BusMessage::Capture`] (the [`model::Sighting`], tagged with the sensor's
//! [`model::SensorTag`], plus the exact raw bytes) and every finished SMTP session as a
//! [`BusMessage::Session`]. `spamhattan collector` (one or several) fetches them, stores them,
//! then acks. The bus is a transport, not a store: the collector's store stays the truth.
//!
//! **Subjects** ([`Subjects`]): `<prefix>.capture.<sensor>` and `<prefix>.session.<sensor>`
//! (prefix `spamhattan` by default). The sensor id is the last token so the server's
//! permissions can pin each sensor to its own two subjects (`contrib/nats/nats-server.conf`).
//! The collector trusts the subject, not the payload: a sighting tagged with another sensor
//! than its subject names is refused ([`WireError::SensorMismatch`]), so a compromised sensor
//! cannot pose as another.
//!
//! **Streams** ([`ensure_streams`], created by the collector only, since a sensor may lack
//! the permission): the main stream (`SPAMHATTAN`) with *work-queue* retention, so a
//! message is deleted once acked and each message goes to exactly one of the collectors
//! sharing the one durable pull consumer ([`Consumer`]); collectors scale out by fetching
//! from the same consumer, and the stream never keeps a second copy of what the store holds.
//!
//! **De-duplication**: each publish carries `Nats-Msg-Id` = [`msg_id`], built from the
//! sighting's (or session's) UUID. A sensor that did not get an ack republishes the same
//! message with the same id, and JetStream stores it once within `duplicate_window`. The
//! [`model::MessageId`] (content hash) would be wrong here: two arrivals of the same spam are
//! two sightings and must both arrive.
//!
//! **Dead letters**: a payload the collector cannot accept (foreign bytes, truncated frame,
//! bad JSON, a hash or size that does not match the raw bytes, a sensor posing as another) is
//! republished unchanged to `<prefix>.dead.<reason>` in its own stream `<STREAM>_DEAD`
//! (limits retention, bounded by bytes and age) with headers naming the reason, the original
//! subject, the sensor and the stream sequence, then terminated on the main stream. The
//! collector goes on with the next message; an operator can read the evidence later with
//! `nats stream view SPAMHATTAN_DEAD`.
//!
//! Layout: `wire.rs` (the payload frame, sans I/O, fuzzed as `bus_decode`), `subject.rs`,
//! `config.rs` ([`BusConfig`]), `error.rs`, `client.rs` ([`connect`], [`ensure_streams`]),
//! `publisher.rs` ([`Publisher`], sensor side), `consumer.rs` ([`Consumer`], [`Delivery`],
//! collector side).

//! The `nats` feature (default) brings the client side; without it only `wire`, `subject` and
//! `config` remain, with no tokio or network code (the fuzz target builds it that way).

#[cfg(feature = "nats")]
mod client;
pub mod config;
#[cfg(feature = "nats")]
mod consumer;
#[cfg(feature = "nats")]
mod error;
#[cfg(feature = "nats")]
mod publisher;
pub mod subject;
pub mod wire;

#[cfg(feature = "nats")]
pub use client::{connect, dead_stream, ensure_streams, jetstream, main_stream};
pub use config::BusConfig;
#[cfg(feature = "nats")]
pub use consumer::{Consumer, Delivery, MAX_FETCH};
#[cfg(feature = "nats")]
pub use error::BusError;
#[cfg(feature = "nats")]
pub use publisher::{PublishAck, Publisher};
pub use subject::{SubjectKind, Subjects};
pub use wire::{BusMessage, WireError, decode, encode, msg_id};

/// Dead-letter header names, for tools that read the dead-letter stream.
#[cfg(feature = "nats")]
pub mod headers {
    pub use crate::consumer::{
        HEADER_CUT, HEADER_REASON, HEADER_SENSOR, HEADER_SEQUENCE, HEADER_SUBJECT,
    };
}
