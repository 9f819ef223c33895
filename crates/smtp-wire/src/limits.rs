//! Named limits for every attacker-controlled quantity the wire layer sees.
//!
//! Each value is a *default*: callers pass the limit they were configured with, so
//! a trap can imitate a different MTA persona. The doc comment of each constant says
//! why that value was chosen.

/// Longest SMTP command line (bytes of content, terminator excluded) that
/// [`scan_line`](crate::scan_line) accepts before answering `TooLong`.
///
/// 2048 is Postfix's `line_length_limit`. RFC 5321 §4.5.3.1.4 only guarantees
/// 512 bytes, but a trap that refuses what Postfix accepts would fingerprint
/// itself, and a larger limit only lets a client buffer more garbage per line.
pub const DEFAULT_MAX_COMMAND_LINE: usize = 2048;

/// Line length (bytes of content, terminator excluded) above which a DATA line is
/// recorded as a [`LineTooLong`](crate::WireAnomalyKind::LineTooLong) anomaly.
///
/// RFC 5321 §4.5.3.1.6 caps a text line at 1000 bytes including CRLF, yet plenty of
/// real mail (and nearly all spam) breaks that, so using the RFC value would flag
/// half the corpus. One megabyte is far beyond any legitimate line and marks a
/// deliberate attempt to stress a receiver. The line is never cut: the trap keeps
/// the evidence as sent.
pub const DEFAULT_MAX_DATA_LINE: usize = 1_000_000;

/// The RFC 5321 §4.5.3.1.6 text-line limit: 998 bytes of content plus CRLF.
///
/// Exposed so a caller that wants RFC-strict anomaly reporting can pass
/// `RFC_MAX_TEXT_LINE - 2` as the DATA line limit.
pub const RFC_MAX_TEXT_LINE: usize = 1000;

/// Default message size limit in bytes, as advertised in the EHLO `SIZE` keyword.
///
/// 10,240,000 is Postfix's default `message_size_limit`; matching it keeps the
/// persona plausible. Bytes beyond it are swallowed and counted, never buffered.
pub const DEFAULT_MAX_MESSAGE_SIZE: u64 = 10_240_000;

/// Most distinct anomaly records a [`DataReceiver`](crate::DataReceiver) keeps.
///
/// Anomalies are tallied per kind (and per byte sequence for smuggling), so a
/// message with a million bare LFs costs one record with a count, not a million.
/// There are at most 12 distinct keys today (4 plain kinds + 8 smuggling
/// sequences); 16 leaves headroom while still bounding memory.
pub const MAX_ANOMALIES: usize = 16;
