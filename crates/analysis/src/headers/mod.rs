//! Decoded headers: mailboxes, subject (and its clustering template), date, ids, mailer,
//! List-Unsubscribe, the Received chain (`received.rs`) and the message's origin. The checks
//! that compare headers with each other and with the envelope are in `consistency.rs`.

mod brands;
mod clauses;
mod consistency;
mod received;
mod subject;

pub(crate) use consistency::check_consistency;

use crate::walk::{Walk, bounded};
use mail_parser::{Address, HeaderName, Message};
use model::report::{Headers, Mailbox};

/// Bytes kept of a display name, subject or other free-text header: enough to read and to
/// cluster, while a 1 MB header cannot blow up the report.
const MAX_TEXT: usize = 512;

/// Bytes kept of an address (RFC 5321 caps a path at 256; room for broken ones).
const MAX_ADDRESS: usize = 320;

/// Mailboxes kept per To/Cc/Reply-To header: spam to 5,000 recipients needs no 5,000 entries.
const MAX_MAILBOXES: usize = 50;

/// List-Unsubscribe entries kept.
const MAX_UNSUBSCRIBE: usize = 10;

/// Header fields of a real message: a few dozen, a few hundred after many hops and list
/// servers. More is padding made to slow parsers down or to bury one field; it is recorded.
/// (mail-parser has read them all by then; every use of them here is bounded on its own.)
const MAX_HEADER_FIELDS: usize = 1_000;

/// Bytes of one header field before it is recorded as oversized. RFC 5322 §2.1.1 caps a line
/// at 998 characters; folded fields are longer, and long DKIM, ARC and recipient lists reach
/// a few KiB. 64 KiB is far past all of them.
const MAX_FIELD_BYTES: usize = 64 << 10;

/// Oversized fields named per message: one is evidence, a thousand would be noise.
const MAX_OVERSIZED_REPORTED: usize = 5;

/// Decodes the headers of the top-level message.
pub(crate) fn extract(walk: &mut Walk<'_>, msg: &Message<'_>) -> Headers {
    check_sizes(walk, msg);
    let mut h = Headers {
        from: msg.from().and_then(first),
        sender: msg.sender().and_then(first),
        reply_to: msg.reply_to().map(all).unwrap_or_default(),
        return_path: msg
            .return_address()
            .map(|a| bounded(a.trim().to_string(), MAX_ADDRESS)),
        to: msg.to().map(all).unwrap_or_default(),
        cc: msg.cc().map(all).unwrap_or_default(),
        subject: msg
            .subject()
            .map(|s| bounded(s.trim().to_string(), MAX_TEXT)),
        date: raw_text(msg, "date"),
        message_id: msg
            .message_id()
            .map(|s| bounded(s.trim().to_string(), MAX_TEXT)),
        x_mailer: raw_text(msg, "x-mailer"),
        user_agent: raw_text(msg, "user-agent"),
        ..Headers::default()
    };
    h.date_utc = msg
        .date()
        .filter(|d| d.is_valid())
        .and_then(|d| utc(d.to_timestamp()));
    if let Some(subject) = &h.subject {
        let names = recipient_names(walk, &h);
        h.subject_template = Some(subject::template(subject, &names));
    }
    for entry in list_unsubscribe(msg) {
        if !entry.to_ascii_lowercase().starts_with("mailto:") {
            walk.url(&entry, "headers.list_unsubscribe");
        }
        h.list_unsubscribe.push(entry);
    }
    h.received = received::chain(walk, msg);
    h.origin = received::origin(walk.input, &h.received);
    h
}

/// Records padded headers: too many fields, and fields past `MAX_FIELD_BYTES` (a 10 MB
/// Subject). Both are cut where they are used; this says that they were there.
fn check_sizes(walk: &mut Walk<'_>, msg: &Message<'_>) {
    let headers = msg.headers();
    if headers.len() > MAX_HEADER_FIELDS {
        walk.anomaly(
            model::AnomalyKind::MalformedContent,
            "headers",
            format!(
                "{} header fields (more than {MAX_HEADER_FIELDS})",
                headers.len()
            ),
        );
    }
    let oversized = headers.iter().filter_map(|h| {
        let len = (h.offset_end as usize).saturating_sub(h.offset_start as usize);
        (len > MAX_FIELD_BYTES).then(|| (bounded(h.name.as_str().to_string(), 64), len))
    });
    for (name, len) in oversized.take(MAX_OVERSIZED_REPORTED) {
        walk.anomaly(
            model::AnomalyKind::MalformedContent,
            "headers",
            format!("{name}: a field of {len} bytes (more than {MAX_FIELD_BYTES})"),
        );
    }
}

fn mailbox(a: &mail_parser::Addr<'_>) -> Mailbox {
    Mailbox {
        name: a
            .name()
            .map(|n| bounded(n.trim().to_string(), MAX_TEXT))
            .filter(|n| !n.is_empty()),
        address: a
            .address()
            .map(|n| bounded(n.trim().to_string(), MAX_ADDRESS))
            .filter(|n| !n.is_empty()),
    }
}

fn first(a: &Address<'_>) -> Option<Mailbox> {
    a.first().map(mailbox)
}

fn all(a: &Address<'_>) -> Vec<Mailbox> {
    a.iter().take(MAX_MAILBOXES).map(mailbox).collect()
}

/// The value of the first header `name` (lower case) as written, unfolded and bounded.
fn raw_text(msg: &Message<'_>, name: &str) -> Option<String> {
    let h = msg
        .headers()
        .iter()
        .find(|h| h.name.as_str().eq_ignore_ascii_case(name))?;
    let bytes = msg
        .raw_message
        .get(h.offset_start as usize..h.offset_end as usize)?;
    let text = String::from_utf8_lossy(bytes);
    let unfolded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    (!unfolded.is_empty()).then(|| bounded(unfolded, MAX_TEXT))
}

/// `<https://...>, <mailto:...>` entries of List-Unsubscribe.
fn list_unsubscribe(msg: &Message<'_>) -> Vec<String> {
    let Some(raw) = msg
        .headers()
        .iter()
        .find(|h| h.name == HeaderName::ListUnsubscribe)
        .and_then(|h| {
            msg.raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
        })
    else {
        return Vec::new();
    };
    let text = String::from_utf8_lossy(raw);
    text.split('<')
        .skip(1)
        .filter_map(|s| s.split('>').next())
        .map(|s| s.split_whitespace().collect::<String>())
        .filter(|s| !s.is_empty())
        .take(MAX_UNSUBSCRIBE)
        .map(|s| bounded(s, crate::urls::MAX_SOURCES * 200))
        .collect()
}

/// Local parts and display names of the recipients (the trap addresses when the envelope is
/// known, else the To header), to replace in the subject template: "Invoice for jan" and
/// "Invoice for piet" are one campaign.
fn recipient_names(walk: &Walk<'_>, h: &Headers) -> Vec<String> {
    let mut names = Vec::new();
    let envelope = walk
        .input
        .sighting
        .map(|s| {
            s.envelope
                .accepted()
                .map(|r| r.address.clone())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let header = h.to.iter().filter_map(|m| m.address.clone());
    for addr in envelope.into_iter().chain(header).take(MAX_MAILBOXES) {
        if let Some((local, _)) = addr.rsplit_once('@') {
            names.push(local.to_string());
        }
    }
    for m in h.to.iter() {
        if let Some(n) = &m.name {
            names.push(n.clone());
        }
    }
    names.retain(|n| n.chars().count() >= 3);
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    names.dedup();
    names
}

/// RFC 3339 UTC form of a Unix time stamp.
pub(crate) fn utc(ts: i64) -> Option<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(ts).ok()?;
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    ))
}
