//! The message's own MIME attachments, decoded: what a sample-sharing service (MalwareBazaar)
//! takes as "delivered by e-mail attachment". Attachments of attached messages and archive
//! entries are not included: they were not delivered as attachments of this message.

use mail_parser::{MessageParser, MimeHeaders, PartType};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// How much [`top_level_attachments`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachmentLimits {
    /// Attachments returned, at most (the first ones in MIME order).
    pub max_count: usize,
    /// An attachment larger than this (decoded) is skipped, not cut: a truncated file would
    /// have another hash.
    pub max_bytes: usize,
    /// Decoded bytes returned in all, at most; attachments that would exceed it are skipped.
    pub max_total_bytes: usize,
}

impl Default for AttachmentLimits {
    /// 32 attachments of up to 24 MiB, 64 MiB in all: MalwareBazaar takes files up to 24 MiB,
    /// and spam rarely carries more than a few attachments.
    fn default() -> Self {
        AttachmentLimits {
            max_count: 32,
            max_bytes: 24 * 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The decoded attachments of the top-level message, each with its declared file name, within
/// `limits`. Inline text bodies without a file name are not attachments. Never panics:
/// a parser panic (caught) or a message without MIME structure gives an empty list.
pub fn top_level_attachments(
    raw: &[u8],
    limits: AttachmentLimits,
) -> Vec<(Option<String>, Vec<u8>)> {
    catch_unwind(AssertUnwindSafe(|| collect(raw, limits))).unwrap_or_default()
}

/// Lines starting with `--`, and attached messages, read before a part bomb is cut, as the
/// analysis does with its default limits (`mime.rs`, `part_bomb_cut`, which also cuts at
/// `MAX_HEADER_LINES` header-like lines): mail-parser's memory grows with every part, header
/// and message it sees, and at most `max_count` attachments are returned.
const MAX_DELIMITER_LINES: usize = 8_000;
const MAX_ATTACHED_MESSAGES: usize = 500;

fn collect(raw: &[u8], limits: AttachmentLimits) -> Vec<(Option<String>, Vec<u8>)> {
    let end = crate::mime::part_bomb_cut(raw, MAX_DELIMITER_LINES, MAX_ATTACHED_MESSAGES)
        .map_or(raw.len(), |(end, _, _)| end);
    let raw = &raw[..end];
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut total = 0usize;
    for &index in &msg.attachments {
        if out.len() >= limits.max_count {
            break;
        }
        let Some(part) = msg.parts.get(index as usize) else {
            continue;
        };
        let name = part.attachment_name().map(str::to_owned);
        let data = match &part.body {
            PartType::Multipart(_) => continue,
            // A text part the parser counts as attachment only when it is named as a file.
            PartType::Text(_) | PartType::Html(_) if name.is_none() => continue,
            _ => part.contents(),
        };
        if data.is_empty()
            || data.len() > limits.max_bytes
            || total.saturating_add(data.len()) > limits.max_total_bytes
        {
            continue;
        }
        total += data.len();
        out.push((name, data.to_vec()));
    }
    crate::mime::drop_flat(msg);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn message(parts: &str) -> Vec<u8> {
        format!(
            "From: a@example.org\r\nTo: b@example.net\r\nSubject: invoice\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n--XX\r\n\
             Content-Type: text/plain\r\n\r\nsee attached\r\n{parts}--XX--\r\n"
        )
        .into_bytes()
    }

    fn attachment(name: &str, data: &[u8]) -> String {
        format!(
            "--XX\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
             Content-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            base64::engine::general_purpose::STANDARD.encode(data)
        )
    }

    #[test]
    fn attachments_are_decoded_with_their_names_and_the_body_is_left_out() {
        let raw = message(&(attachment("a.zip", b"PK\x03\x04zip") + &attachment("b.bin", b"MZ")));
        let got = top_level_attachments(&raw, AttachmentLimits::default());
        assert_eq!(
            got,
            vec![
                (Some("a.zip".to_owned()), b"PK\x03\x04zip".to_vec()),
                (Some("b.bin".to_owned()), b"MZ".to_vec()),
            ]
        );
    }

    #[test]
    fn attachments_of_an_attached_message_are_not_top_level() {
        let inner = String::from_utf8(message(&attachment("inner.exe", b"MZinner")))
            .expect("test message is ASCII");
        let outer = format!(
            "--XX\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n",
            inner.replace("XX", "YY")
        );
        let got = top_level_attachments(&message(&outer), AttachmentLimits::default());
        assert!(
            got.iter().all(|(_, d)| d.as_slice() != b"MZinner"),
            "{got:?}"
        );
    }

    #[test]
    fn limits_skip_oversized_files_and_bound_the_count() {
        let raw = message(
            &(attachment("big.bin", &[7u8; 100])
                + &attachment("small1.bin", b"one")
                + &attachment("small2.bin", b"two")),
        );
        let limits = AttachmentLimits {
            max_count: 1,
            max_bytes: 10,
            max_total_bytes: 1000,
        };
        let got = top_level_attachments(&raw, limits);
        assert_eq!(got, vec![(Some("small1.bin".to_owned()), b"one".to_vec())]);
    }

    #[test]
    fn garbage_and_plain_messages_give_nothing() {
        assert!(top_level_attachments(b"", AttachmentLimits::default()).is_empty());
        assert!(top_level_attachments(&[0xff; 300], AttachmentLimits::default()).is_empty());
        let plain = b"From: a@example.org\r\nSubject: hi\r\n\r\nhello\r\n";
        assert!(top_level_attachments(plain, AttachmentLimits::default()).is_empty());
    }

    /// Found by the `analysis_attachments` fuzz target: the outer boundary closes a part inside
    /// two nested attached messages, a state mail-parser marks with `debug_assert!(false)`.
    /// Debug builds panic there (caught: no attachments, and the analysis records a parser
    /// panic); release builds compile the assertion out and parse on. Neither may take the
    /// process down.
    #[test]
    fn a_message_closed_inside_attached_messages_is_not_fatal() {
        let raw = b"From: a@b\r\nContent-Type: multipart/mi; boundary=\"b\"\r\n\r\n--b\r\nCnsfer-En\n--b\r\nContent-Type: message/rfc822\r\n\r\nCob\r\nContent-Type: message/rfc822\r\n\r\nS\n\n\r\nAA\n--b--\r\n";
        let found = top_level_attachments(raw, AttachmentLimits::default());
        assert!(found.len() <= AttachmentLimits::default().max_count);
        let report = crate::Engine::with_defaults().analyze(raw, &crate::Input::default());
        let panicked = report
            .anomalies
            .iter()
            .any(|a| a.kind == model::AnomalyKind::ParserPanic && a.detail.contains("mail-parser"));
        assert_eq!(panicked, cfg!(debug_assertions), "{:#?}", report.anomalies);
    }
}
