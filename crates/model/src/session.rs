//! An SMTP session as the trap saw it: TLS facts, AUTH lure attempts and a bounded transcript.

use crate::{Anomaly, Timestamp};
use serde::{Deserialize, Serialize};

/// TLS facts of a session (STARTTLS or implicit TLS).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// `TLSv1_3`, `TLSv1_2`, ...
    pub version: String,
    pub cipher: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// JA4 client fingerprint computed from the ClientHello.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    /// ALPN protocol, if negotiated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    /// True for an implicit-TLS (port 465 style) listener.
    #[serde(default)]
    pub implicit: bool,
}

/// One AUTH attempt against the optional lure. All fail with 535; credentials are evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthAttempt {
    pub mechanism: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The raw (base64) exchanges as sent.
    pub raw: Vec<String>,
}

/// Who sent a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// Client to server.
    #[serde(rename = "c")]
    Client,
    /// Server to client.
    #[serde(rename = "s")]
    Server,
}

/// One line of the session transcript (DATA contents are not included: they are the message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// Milliseconds since connect.
    pub ms: u64,
    pub dir: Direction,
    /// Lossy UTF-8, truncated to the transcript line limit.
    pub line: String,
}

/// A bounded transcript: once the byte budget is spent, further lines are counted, not kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transcript {
    pub lines: Vec<TranscriptLine>,
    /// Lines that did not fit the budget.
    #[serde(default)]
    pub dropped: u64,
    #[serde(skip)]
    bytes: usize,
}

impl Transcript {
    /// Keeps at most this many bytes of transcript text per session: enough for hundreds of
    /// commands, small enough that ten thousand concurrent sessions cannot exhaust memory.
    pub const MAX_BYTES: usize = 16 * 1024;
    /// Longest line kept; longer lines are cut and marked with `...`.
    pub const MAX_LINE: usize = 512;

    /// Appends a line if the budget allows.
    pub fn push(&mut self, ms: u64, dir: Direction, bytes: &[u8]) {
        let cut = &bytes[..bytes.len().min(Self::MAX_LINE)];
        let mut line = String::from_utf8_lossy(cut).into_owned();
        if bytes.len() > Self::MAX_LINE {
            line.push_str("...");
        }
        if self.bytes + line.len() > Self::MAX_BYTES {
            self.dropped += 1;
            return;
        }
        self.bytes += line.len();
        self.lines.push(TranscriptLine { ms, dir, line });
    }
}

/// Everything known about one SMTP session, written when it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    pub id: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub ended_at: Timestamp,
    /// The listener's name (`smtp`, `submission`, `smtps`, or its address).
    pub listener: String,
    pub peer: String,
    pub local: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsInfo>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub auth_attempts: Vec<AuthAttempt>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<Anomaly>,
    /// Messages accepted in this session (their sighting ids).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sightings: Vec<uuid::Uuid>,
    pub commands: u64,
    pub errors: u64,
    /// Why the session ended: `quit`, `client-closed`, `idle-timeout`, `too-many-errors`, ...
    pub end: String,
    pub transcript: Transcript,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_stops_keeping_lines_at_its_budget() {
        let mut t = Transcript::default();
        let line = vec![b'a'; Transcript::MAX_LINE];
        for _ in 0..100 {
            t.push(0, Direction::Client, &line);
        }
        assert_eq!(t.lines.len(), Transcript::MAX_BYTES / Transcript::MAX_LINE);
        assert_eq!(t.dropped, 100 - t.lines.len() as u64);
    }

    #[test]
    fn long_lines_are_cut_and_marked() {
        let mut t = Transcript::default();
        t.push(0, Direction::Client, &vec![b'x'; 10_000]);
        assert_eq!(t.lines[0].line.len(), Transcript::MAX_LINE + 3);
        assert!(t.lines[0].line.ends_with("..."));
    }
}
