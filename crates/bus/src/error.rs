//! What can go wrong on the bus, worded for an operator reading one log line.

use crate::wire::WireError;

/// A bus failure. Texts name the setting or the server-side fix where there is one.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("bus config: {0}")]
    Config(String),
    /// The server refused the credentials: retrying will not help.
    #[error("NATS at {url} refused {method}: {detail}")]
    Auth {
        url: String,
        method: &'static str,
        detail: String,
    },
    #[error("TLS with NATS at {url} failed: {detail}")]
    Tls { url: String, detail: String },
    #[error("cannot connect to NATS at {url}: {detail}")]
    Connect { url: String, detail: String },
    /// A stream exists with settings this crate cannot adopt (other subjects or retention).
    #[error("stream {stream} {detail}; delete it or choose another bus.stream")]
    StreamConflict { stream: String, detail: String },
    /// Creating or reading a stream or consumer failed.
    #[error("JetStream setup of {what}: {detail}")]
    Setup { what: String, detail: String },
    /// No stream listens on the subject: the collector (which creates the streams) has not run.
    #[error(
        "no JetStream stream stores {subject}: start a collector first (it creates the streams) \
         or check bus.stream and bus.subject_prefix"
    )]
    NoStream { subject: String },
    /// No ack in time. A publish the server denies is dropped without an answer, so this is
    /// also what a permission problem looks like from the client.
    #[error(
        "no ack for {subject} within {ms} ms: the bus is down or slow, or this client may not \
         publish there (check its permissions)"
    )]
    AckTimeout { subject: String, ms: u64 },
    #[error(
        "payload of {bytes} bytes exceeds the server's max_payload ({max}); raise max_payload in nats-server.conf"
    )]
    TooLarge { bytes: usize, max: usize },
    /// The server stored the message in another stream than `bus.stream`.
    #[error(
        "{subject} was stored in stream {got}, not {want}: another stream overlaps the bus subjects"
    )]
    WrongStream {
        subject: String,
        got: String,
        want: String,
    },
    #[error("publish to {subject}: {detail}")]
    Publish { subject: String, detail: String },
    /// A message this side refuses to send (the collector would dead-letter it).
    #[error("refusing to publish an invalid message: {0}")]
    Invalid(WireError),
    #[error("sensor {publisher} cannot publish a sighting tagged {tagged}")]
    SensorMismatch { publisher: String, tagged: String },
    #[error("fetch from {consumer}: {detail}")]
    Fetch { consumer: String, detail: String },
    #[error("{action} of stream sequence {sequence}: {detail}")]
    Ack {
        action: &'static str,
        sequence: u64,
        detail: String,
    },
}
