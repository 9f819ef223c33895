//! Syslog lines: RFC 5424 with structured data, CEF inside a 5424 frame, and the framing
//! of each transport (RFC 5426 datagrams, RFC 6587 octet counting).
//!
//! Control characters (newlines included) in alert text become spaces in the 5424 fields and
//! `\n`/`\r` escapes in CEF, so a hostile subject cannot forge a second record at a receiver
//! that splits on newlines.

use model::{Alert, Severity, Timestamp};
use time::macros::format_description;

/// The SD-ID of spamhattan's structured-data element (enterprise number 32473 is the one
/// RFC 5612 reserves for documentation; a deployment with its own PEN can rename it later).
pub const SD_ID: &str = "spamhattan@32473";
/// MSGID of every alert record.
pub const MSG_ID: &str = "alert";
/// Largest UDP datagram: RFC 5426 §3.2 says receivers SHOULD take 2048 octets, and larger
/// datagrams risk IP fragmentation and silent loss.
pub const MAX_UDP_MESSAGE: usize = 2048;
/// Largest message over TCP: rsyslog's and syslog-ng's default maximum is 8 KiB; longer
/// records are cut by the receiver anyway, better to cut them cleanly here.
pub const MAX_TCP_MESSAGE: usize = 8192;

/// Who the record says it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogOrigin {
    /// 0..=23.
    pub facility: u8,
    pub hostname: String,
    pub app_name: String,
}

/// One RFC 5424 record: PRI, VERSION 1, timestamp with microseconds, HOSTNAME, APP-NAME,
/// PROCID `-`, MSGID `alert`, the `spamhattan@32473` element, then the title as MSG.
pub fn format_rfc5424(alert: &Alert, origin: &SyslogOrigin) -> String {
    let mut sd = format!("[{SD_ID}");
    push_param(&mut sd, "rule", &alert.rule);
    push_param(&mut sd, "severity", alert.severity.as_str());
    if let Some(campaign) = alert.campaign {
        push_param(&mut sd, "campaign", &campaign.to_string());
    }
    push_param(&mut sd, "id", &alert.id.to_string());
    sd.push(']');
    format!(
        "{} {sd} {}",
        header(alert, origin),
        message(&plain(&alert.title))
    )
}

/// CEF (`CEF:0|spamhattan|spamhattan|VERSION|rule|title|severity|extension`) as the MSG of an
/// RFC 5424 frame without structured data.
pub fn format_cef(alert: &Alert, origin: &SyslogOrigin) -> String {
    format!(
        "{} - {}",
        header(alert, origin),
        message(&cef_message(alert))
    )
}

/// The CEF record alone.
pub fn cef_message(alert: &Alert) -> String {
    let mut ext = String::new();
    push_ext(&mut ext, "externalId", &alert.id.to_string());
    let millis = alert.created_at.unix_timestamp_nanos() / 1_000_000;
    push_ext(&mut ext, "rt", &millis.to_string());
    push_ext(&mut ext, "cat", &alert.rule);
    push_ext(&mut ext, "msg", &alert.summary);
    if let Some(campaign) = alert.campaign {
        push_ext(&mut ext, "cn1Label", "campaign");
        push_ext(&mut ext, "cn1", &campaign.to_string());
    }
    if let Some(uuid) = alert.campaign_uuid {
        push_ext(&mut ext, "cs1Label", "campaignUuid");
        push_ext(&mut ext, "cs1", &uuid.to_string());
    }
    push_ext(&mut ext, "cs2Label", "dedupKey");
    push_ext(&mut ext, "cs2", &alert.dedup_key);
    format!(
        "CEF:0|spamhattan|spamhattan|{}|{}|{}|{}|{ext}",
        cef_header(env!("CARGO_PKG_VERSION")),
        cef_header(&alert.rule),
        cef_header(&alert.title),
        cef_severity(alert.severity),
    )
}

/// CEF severity 0..=10 (3 and below low, 4-6 medium, 7-8 high, 9-10 very high).
pub fn cef_severity(severity: Severity) -> u8 {
    match severity {
        Severity::Info => 1,
        Severity::Low => 3,
        Severity::Medium => 5,
        Severity::High => 8,
        Severity::Critical => 10,
    }
}

/// One UDP datagram: the record cut to [`MAX_UDP_MESSAGE`] bytes on a character boundary.
pub fn udp_datagram(record: &str) -> Vec<u8> {
    truncate_bytes(record, MAX_UDP_MESSAGE).as_bytes().to_vec()
}

/// One RFC 6587 §3.4.1 octet-counted frame (`LEN SP record`), record cut to [`MAX_TCP_MESSAGE`].
pub fn tcp_frame(record: &str) -> Vec<u8> {
    let record = truncate_bytes(record, MAX_TCP_MESSAGE);
    let mut frame = format!("{} ", record.len()).into_bytes();
    frame.extend_from_slice(record.as_bytes());
    frame
}

/// The longest prefix of `text` that fits in `max` bytes without splitting a character.
pub fn truncate_bytes(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

fn header(alert: &Alert, origin: &SyslogOrigin) -> String {
    let pri = u16::from(origin.facility.min(23)) * 8 + u16::from(alert.severity.syslog());
    format!(
        "<{pri}>1 {} {} {} - {MSG_ID}",
        timestamp(alert.created_at),
        token(&origin.hostname, 255),
        token(&origin.app_name, 48),
    )
}

/// RFC 3339 in UTC with microseconds (RFC 5424 allows at most six fractional digits).
fn timestamp(at: Timestamp) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_else(|_| "-".to_owned())
}

/// A header field: printable US-ASCII only, bounded, `-` (NILVALUE) when empty.
fn token(value: &str, max: usize) -> String {
    let clean: String = value
        .chars()
        .map(|c| if ('!'..='~').contains(&c) { c } else { '_' })
        .take(max)
        .collect();
    if clean.is_empty() {
        "-".to_owned()
    } else {
        clean
    }
}

/// MSG: plain ASCII as is; UTF-8 text starts with the BOM RFC 5424 §6.4 asks for.
fn message(text: &str) -> String {
    if text.is_ascii() {
        text.to_owned()
    } else {
        format!("\u{feff}{text}")
    }
}

/// Control characters become spaces.
fn plain(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// ` name="value"` with `"`, `\` and `]` escaped as RFC 5424 §6.3.3 requires.
fn push_param(sd: &mut String, name: &str, value: &str) {
    sd.push(' ');
    sd.push_str(name);
    sd.push_str("=\"");
    for c in value.chars() {
        match c {
            '"' | '\\' | ']' => {
                sd.push('\\');
                sd.push(c);
            }
            c if c.is_control() => sd.push(' '),
            c => sd.push(c),
        }
    }
    sd.push('"');
}

/// CEF header fields: `\` and `|` escaped, line breaks are not allowed there.
fn cef_header(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' | '|' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// ` key=value` (leading space after the first) with `\`, `=` escaped and line breaks as `\n`.
fn push_ext(ext: &mut String, key: &str, value: &str) {
    if !ext.is_empty() {
        ext.push(' ');
    }
    ext.push_str(key);
    ext.push('=');
    for c in value.chars() {
        match c {
            '\\' | '=' => {
                ext.push('\\');
                ext.push(c);
            }
            '\n' => ext.push_str("\\n"),
            '\r' => ext.push_str("\\r"),
            c if c.is_control() => ext.push(' '),
            c => ext.push(c),
        }
    }
}
