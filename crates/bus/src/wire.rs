//! The bus payload: a small versioned frame around a sighting (with its raw message) or a
//! session record. Bytes in, [`BusMessage`] out; no I/O, never panics (fuzzed as `bus_decode`).
//!
//! Layout, all of it attacker-reachable once a sensor is compromised:
//!
//! ```text
//! "SHB"  version '1'  kind 'C'|'S'  u32 BE json_len  json (json_len bytes)  raw (capture only)
//! ```
//!
//! The JSON is a [`Sighting`] (kind `C`, followed by the raw message to the end of the payload)
//! or a [`SessionRecord`] (kind `S`, nothing after it). The raw bytes are not inside the JSON
//! so a 10 MB message is neither base64-inflated nor parsed as text.

use model::{MessageId, SessionRecord, Sighting};
use std::fmt;

/// First bytes of every payload; a payload without them is foreign.
pub const MAGIC: &[u8; 3] = b"SHB";
/// Format version written after the magic. A reader refuses versions it does not know, so a
/// future format change is a new byte here, never a silent reinterpretation.
pub const VERSION: u8 = b'1';
const KIND_CAPTURE: u8 = b'C';
const KIND_SESSION: u8 = b'S';
/// Magic, version, kind, JSON length.
pub const HEADER_LEN: usize = MAGIC.len() + 1 + 1 + 4;

/// Longest sighting or session-record JSON. A session record is bounded by its transcript
/// (16 KiB of text, up to 6× when every byte needs a `\u00XX` escape) and a sighting by its
/// envelope (1,000 recipients of at most a few hundred bytes): 1 MiB leaves room for both
/// without letting one payload make the collector parse an unbounded document.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// Largest raw message. Same value as `store::MAX_MESSAGE_BYTES` (crates/store/src/config.rs),
/// repeated rather than imported so the bus does not depend on the store: the collector could
/// not store a larger message anyway, so the bus refuses it before anyone hashes or buffers it.
pub const MAX_RAW_BYTES: usize = 64 * 1024 * 1024;

/// Largest payload [`decode`] accepts.
pub const MAX_PAYLOAD_BYTES: usize = HEADER_LEN + MAX_JSON_BYTES + MAX_RAW_BYTES;

/// Longest detail kept from a JSON error: serde's messages can quote input.
const MAX_DETAIL: usize = 160;

/// What travels from a sensor to the collectors.
#[derive(Clone, PartialEq, Eq)]
pub enum BusMessage {
    /// One accepted message: its sighting (with the sensor's tag) and the exact raw bytes.
    Capture { sighting: Sighting, raw: Vec<u8> },
    /// An SMTP session that ended, with or without captures.
    Session(SessionRecord),
}

impl fmt::Debug for BusMessage {
    /// Names the ids and the raw length, never the raw bytes (megabytes of attacker text).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusMessage::Capture { sighting, raw } => f
                .debug_struct("Capture")
                .field("sighting", &sighting.id)
                .field("message_id", &sighting.message_id)
                .field("raw_len", &raw.len())
                .finish(),
            BusMessage::Session(record) => f.debug_tuple("Session").field(&record.id).finish(),
        }
    }
}

/// Why a payload was refused. `Display` starts with a short token (`truncated: ...`) that
/// becomes the dead-letter subject's last token; the rest is for the log and the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// No `SHB` magic: not a bus payload at all.
    Foreign,
    /// The payload ends inside its header or its JSON.
    Truncated,
    /// A format version this build does not read.
    Version(u8),
    /// A kind byte other than capture or session.
    Kind(u8),
    /// The declared JSON length is over [`MAX_JSON_BYTES`].
    JsonTooLarge(usize),
    /// The raw message is over [`MAX_RAW_BYTES`].
    RawTooLarge(usize),
    /// Bytes after a session record.
    Trailing(usize),
    /// The JSON is not a sighting / session record (serde's reason, shortened).
    Json(String),
    /// The sighting's `size` is not the raw message's length.
    Size { declared: u64, actual: usize },
    /// The sighting's `message_id` is not the SHA-256 of the raw message.
    MessageId,
    /// A capture without a sensor tag.
    NoSensor,
    /// A sensor tag that fails [`model::SensorTag::validate`].
    BadSensor(model::SensorTagError),
    /// The subject names one sensor, the sighting another: a sensor posing as another.
    SensorMismatch { subject: String, tagged: String },
    /// A capture on a session subject or the other way round.
    KindMismatch { subject: String },
    /// A subject that is not `<prefix>.capture|session.<valid sensor id>`.
    Subject(String),
}

impl WireError {
    /// The short, stable token naming this refusal (`[a-z-]`, usable as a subject token).
    pub fn token(&self) -> &'static str {
        match self {
            WireError::Foreign => "foreign",
            WireError::Truncated => "truncated",
            WireError::Version(_) => "version",
            WireError::Kind(_) => "kind",
            WireError::JsonTooLarge(_) | WireError::RawTooLarge(_) => "too-large",
            WireError::Trailing(_) => "trailing",
            WireError::Json(_) => "json",
            WireError::Size { .. } => "size",
            WireError::MessageId => "message-id",
            WireError::NoSensor => "no-sensor",
            WireError::BadSensor(_) => "bad-sensor",
            WireError::SensorMismatch { .. } => "sensor-mismatch",
            WireError::KindMismatch { .. } => "kind-mismatch",
            WireError::Subject(_) => "subject",
        }
    }
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.token())?;
        match self {
            WireError::Foreign => f.write_str("not a spamhattan bus payload (no SHB magic)"),
            WireError::Truncated => f.write_str("payload ends inside its frame"),
            WireError::Version(v) => write!(f, "format version {v:#04x} unknown (this reads '1')"),
            WireError::Kind(k) => write!(f, "payload kind {k:#04x} unknown"),
            WireError::JsonTooLarge(n) => write!(f, "JSON of {n} bytes (limit {MAX_JSON_BYTES})"),
            WireError::RawTooLarge(n) => {
                write!(f, "raw message of {n} bytes (limit {MAX_RAW_BYTES})")
            }
            WireError::Trailing(n) => write!(f, "{n} bytes after the session record"),
            WireError::Json(detail) => f.write_str(detail),
            WireError::Size { declared, actual } => {
                write!(
                    f,
                    "sighting says {declared} bytes, raw message has {actual}"
                )
            }
            WireError::MessageId => f.write_str("message_id is not the SHA-256 of the raw message"),
            WireError::NoSensor => f.write_str("sighting carries no sensor tag"),
            WireError::BadSensor(e) => write!(f, "{e}"),
            WireError::SensorMismatch { subject, tagged } => {
                write!(f, "sensor {subject} published a sighting tagged {tagged}")
            }
            WireError::KindMismatch { subject } => {
                write!(f, "payload kind does not match its subject {subject}")
            }
            WireError::Subject(subject) => {
                write!(f, "{subject} is not <prefix>.capture|session.<sensor id>")
            }
        }
    }
}

impl std::error::Error for WireError {}

/// The frame for `msg`. Does not check limits or consistency: [`check`] does (the publisher
/// runs both, so a sensor finds its own bad message instead of the collector's dead letters).
pub fn encode(msg: &BusMessage) -> Vec<u8> {
    let (kind, json, raw): (u8, Vec<u8>, &[u8]) = match msg {
        BusMessage::Capture { sighting, raw } => (KIND_CAPTURE, to_json(sighting), raw),
        BusMessage::Session(record) => (KIND_SESSION, to_json(record), &[]),
    };
    // A JSON over 4 GiB cannot be framed; the saturated length makes decode refuse it.
    let len = u32::try_from(json.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(HEADER_LEN + json.len() + raw.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(raw);
    out
}

/// [`check`], then [`encode`], refusing a JSON over [`MAX_JSON_BYTES`]: everything
/// [`decode`] would refuse, found on the sending side.
pub fn encode_checked(msg: &BusMessage) -> Result<Vec<u8>, WireError> {
    check(msg)?;
    let frame = encode(msg);
    let json_len = u32::from_be_bytes([frame[5], frame[6], frame[7], frame[8]]) as usize;
    if json_len > MAX_JSON_BYTES {
        return Err(WireError::JsonTooLarge(json_len));
    }
    Ok(frame)
}

/// Serialises a model type. These derive `Serialize` over plain fields with string map keys,
/// for which serde_json cannot fail; an empty document would be refused by decode anyway.
fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Parses and checks a payload: frame, limits, JSON, then [`check`].
pub fn decode(bytes: &[u8]) -> Result<BusMessage, WireError> {
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes[..magic_len] != MAGIC[..magic_len] {
        return Err(WireError::Foreign);
    }
    let Some((header, rest)) = bytes.split_at_checked(HEADER_LEN) else {
        return Err(WireError::Truncated);
    };
    let (version, kind) = (header[3], header[4]);
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    if kind != KIND_CAPTURE && kind != KIND_SESSION {
        return Err(WireError::Kind(kind));
    }
    let json_len = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
    if json_len > MAX_JSON_BYTES {
        return Err(WireError::JsonTooLarge(json_len));
    }
    let Some((json, tail)) = rest.split_at_checked(json_len) else {
        return Err(WireError::Truncated);
    };
    let msg = if kind == KIND_CAPTURE {
        if tail.len() > MAX_RAW_BYTES {
            return Err(WireError::RawTooLarge(tail.len()));
        }
        BusMessage::Capture {
            sighting: from_json(json)?,
            raw: tail.to_vec(),
        }
    } else {
        if !tail.is_empty() {
            return Err(WireError::Trailing(tail.len()));
        }
        BusMessage::Session(from_json(json)?)
    };
    check(&msg)?;
    Ok(msg)
}

fn from_json<'a, T: serde::Deserialize<'a>>(json: &'a [u8]) -> Result<T, WireError> {
    serde_json::from_slice(json).map_err(|e| WireError::Json(short_detail(&e.to_string())))
}

/// Bounds a message that may quote input, and keeps it on one printable line.
fn short_detail(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_DETAIL)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() > MAX_DETAIL {
        out.push_str("...");
    }
    out
}

/// The consistency checks of a capture: a sensor tag that validates, a size and a message id
/// that match the raw bytes. Sessions carry nothing to cross-check. Cheapest check first: the
/// SHA-256 of the raw message is last.
pub fn check(msg: &BusMessage) -> Result<(), WireError> {
    let BusMessage::Capture { sighting, raw } = msg else {
        return Ok(());
    };
    if raw.len() > MAX_RAW_BYTES {
        return Err(WireError::RawTooLarge(raw.len()));
    }
    let tag = sighting.sensor.as_ref().ok_or(WireError::NoSensor)?;
    tag.validate().map_err(WireError::BadSensor)?;
    if sighting.size != raw.len() as u64 {
        return Err(WireError::Size {
            declared: sighting.size,
            actual: raw.len(),
        });
    }
    if MessageId::of(raw) != sighting.message_id {
        return Err(WireError::MessageId);
    }
    Ok(())
}

/// The de-duplication id JetStream keeps for `duplicate_window`: `cap-<sighting id>` or
/// `ses-<session id>`. Both are UUIDs made once per arrival / session on the sensor, so a
/// retried publish carries the same id and is stored once, while two arrivals of the same
/// message (same [`MessageId`]) stay two sightings.
pub fn msg_id(msg: &BusMessage) -> String {
    match msg {
        BusMessage::Capture { sighting, .. } => format!("cap-{}", sighting.id),
        BusMessage::Session(record) => format!("ses-{}", record.id),
    }
}

/// Checks a decoded message against the subject it arrived on: the subject must be a capture
/// or session subject of `subjects` matching the payload's kind, and a capture's sensor tag
/// must be the subject's sensor. The subject is the truth (server permissions pin each sensor
/// to its own); the tag is what the sensor claims.
pub fn check_subject(
    subjects: &crate::Subjects,
    subject: &str,
    msg: &BusMessage,
) -> Result<(), WireError> {
    let short = || short_detail(subject);
    let (kind, sensor) = subjects
        .parse(subject)
        .ok_or_else(|| WireError::Subject(short()))?;
    let kind_ok = matches!(
        (kind, msg),
        (crate::SubjectKind::Capture, BusMessage::Capture { .. })
            | (crate::SubjectKind::Session, BusMessage::Session(_))
    );
    if !kind_ok {
        return Err(WireError::KindMismatch { subject: short() });
    }
    match tagged_sensor(msg) {
        Some(tagged) if tagged != sensor => Err(WireError::SensorMismatch {
            subject: sensor.into(),
            tagged: tagged.into(),
        }),
        _ => Ok(()),
    }
}

/// The sensor id a capture is tagged with (`None` for sessions, which carry no tag).
pub fn tagged_sensor(msg: &BusMessage) -> Option<&str> {
    match msg {
        BusMessage::Capture { sighting, .. } => sighting.sensor.as_ref().map(|t| t.id.as_str()),
        BusMessage::Session(_) => None,
    }
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
