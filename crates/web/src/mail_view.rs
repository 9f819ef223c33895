//! A stored mail as the console shows it: headers, MIME tree, HTML and text bodies, and the
//! bytes of one part, read from the raw message with `mail-parser`.
//!
//! The raw bytes are hostile. Everything here is bounded by a named limit, and the parser runs
//! under `catch_unwind` (it has panicked on crafted input before, see
//! `docs/DEPENDENCIES.md`): when it fails the view keeps the raw header block and says why.
//! mail-parser is guarded as the analysis guards it (`analysis::mail_guards`): a part bomb is
//! cut before it is parsed, with a note saying where, and a parsed message is dropped level by
//! level (`parse`). Nothing here escapes HTML; the templates do.

use analysis::mail_guards::{drop_flat, part_bomb_cut};
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders, PartType};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Header fields listed; a mail with more is shown cut with a note. Real mail has 10–60; a
/// few hundred covers long Received chains, and a page stays readable.
pub const MAX_HEADERS_SHOWN: usize = 300;

/// Characters of one header value shown. Long enough for DKIM signatures and folded
/// recipient lists; a megabyte-long crafted value would only slow the page down.
pub const MAX_HEADER_VALUE_CHARS: usize = 8 * 1024;

/// MIME parts listed in the tree. mail-parser keeps every part; legitimate mail has a handful,
/// and a page listing thousands helps nobody.
pub const MAX_PARTS_SHOWN: usize = 500;

/// Deepest multipart nesting walked when drawing the tree; deeper parts are not listed
/// (the analysis report lists them). Also stops a crafted cycle of part ids.
pub const MAX_TREE_DEPTH: usize = 32;

/// Bytes of an HTML or text body the console shows; the rest is cut with a note. The whole
/// mail can always be downloaded.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Bytes of the raw header block shown when the parser failed.
pub const MAX_RAW_HEADER_BYTES: usize = 64 * 1024;

/// Lines starting with `--` given to mail-parser; the message is cut before the next one.
/// mail-parser keeps a record of every part (about 160 bytes each, more with headers): a
/// million empty parts in 9 MB cost 333 MiB on one view (measured, debug build; 10 MB of
/// four-byte header fields cost 490 MiB before the header-line cut). Every MIME delimiter
/// line starts with `--`; 16 per listed part (8,000), as the analysis allows with its default
/// `max_mime_parts` (`DELIMITER_LINES_PER_PART` in `crates/analysis/src/mime.rs`), cuts only
/// part bombs. (Past 100,000 lines that look like header fields, `part_bomb_cut` cuts too.)
pub const MAX_DELIMITER_LINES: usize = 16 * MAX_PARTS_SHOWN;

/// Attached messages (`message/rfc822`, `message/global`) given to mail-parser; the message is
/// cut at the line naming the next one. Each is kept inside its parent, about 1.3 KB a level:
/// a chain of 10,000 in 500 KB cost 112 MiB in the analysis. The view lists attached messages
/// as single parts, so the parts listed bound it ([`MAX_PARTS_SHOWN`], as the analysis's
/// default `max_mime_parts`).
pub const MAX_ATTACHED_MESSAGES: usize = MAX_PARTS_SHOWN;

/// One header field, unfolded as received (encoded words are left as they are: evidence).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderLine {
    pub name: String,
    pub value: String,
}

/// One MIME part in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// Index in mail-parser's part list: the `{part}` of the attachment download URL.
    pub index: usize,
    pub depth: usize,
    pub content_type: String,
    /// File name as declared (decoded), if any.
    pub name: Option<String>,
    /// Decoded size in bytes.
    pub size: usize,
    /// A leaf part (not multipart) whose bytes can be downloaded.
    pub leaf: bool,
}

/// What the console shows of one mail.
#[derive(Debug, Clone, Default)]
pub struct MailView {
    pub headers: Vec<HeaderLine>,
    pub parts: Vec<PartInfo>,
    /// The first HTML body (cut at [`MAX_BODY_BYTES`]).
    pub html: Option<String>,
    /// The first text body (cut at [`MAX_BODY_BYTES`]).
    pub text: Option<String>,
    /// Why the view is incomplete (parser failure, limits hit), for the analyst.
    pub notes: Vec<String>,
}

impl MailView {
    /// Adds `note` unless it is there already: a limit hit once per part would otherwise say
    /// so once per part (a part bomb made thousands of notes).
    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

/// Reads `raw`. Never panics; on parser failure the view has the raw headers and a note.
pub fn read(raw: &[u8]) -> MailView {
    match catch_unwind(AssertUnwindSafe(|| read_parsed(raw))) {
        Ok(Some(view)) => view,
        Ok(None) => fallback(raw, "the MIME parser could not read this message"),
        Err(_) => fallback(raw, "the MIME parser failed on this message (caught)"),
    }
}

/// The decoded bytes of part `index` and its declared file name. `None` for a multipart
/// container, an unknown index, or a mail the parser cannot read. The message is cut as for
/// [`read`], so the indices are those of the tree shown.
pub fn part_bytes(raw: &[u8], index: usize) -> Option<(Vec<u8>, Option<String>)> {
    catch_unwind(AssertUnwindSafe(|| {
        let (raw, _) = bounded(raw);
        parse(raw, |message| {
            let part = message.parts.get(index)?;
            if part.is_multipart() {
                return None;
            }
            Some((
                part.contents().to_vec(),
                part.attachment_name().map(str::to_owned),
            ))
        })
        .flatten()
    }))
    .ok()
    .flatten()
}

/// `raw` as mail-parser may be given it: cut before a part bomb (`part_bomb_cut`, at
/// [`MAX_DELIMITER_LINES`], [`MAX_ATTACHED_MESSAGES`] or 100,000 header-like lines), with a
/// note for the analyst when it was cut.
fn bounded(raw: &[u8]) -> (&[u8], Option<String>) {
    match part_bomb_cut(raw, MAX_DELIMITER_LINES, MAX_ATTACHED_MESSAGES) {
        Some((end, _, why)) => (
            raw.get(..end).unwrap_or(raw),
            Some(format!(
                "MIME parsing stopped at byte {end} of {}: {why}; the parts after it are not \
                 shown, download the mail for all of it",
                raw.len()
            )),
        ),
        None => (raw, None),
    }
}

/// Parses `raw`, hands the message to `f`, and drops it level by level (`drop_flat`): Rust
/// drops nested attached messages recursively, and a deep enough chain overflows the stack,
/// which aborts `serve` (`catch_unwind` cannot stop it). `None` when mail-parser finds no
/// message.
fn parse<T>(raw: &[u8], f: impl FnOnce(&Message<'_>) -> T) -> Option<T> {
    let message = MessageParser::default().parse(raw)?;
    let out = f(&message);
    drop_flat(message);
    Some(out)
}

/// The decoded `Subject:` of a mail, read from its header block alone (for a message not
/// analysed yet, whose subject the store does not know). Never panics.
pub fn subject(raw: &[u8]) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| {
        let mut head = raw_header_block(raw).to_vec();
        head.extend_from_slice(b"\r\n\r\n");
        // At most MAX_RAW_HEADER_BYTES and no body: no part bomb fits, but it is dropped
        // as every parsed message is.
        parse(&head, |message| {
            message
                .subject()
                .map(|s| visible(&cut_chars(s, MAX_HEADER_VALUE_CHARS)))
        })
        .flatten()
    }))
    .ok()
    .flatten()
}

fn read_parsed(raw: &[u8]) -> Option<MailView> {
    let (raw, cut) = bounded(raw);
    let mut view = parse(raw, view_of)?;
    view.notes.splice(0..0, cut);
    Some(view)
}

fn view_of(message: &Message<'_>) -> MailView {
    let mut view = MailView::default();
    for (name, value) in message.headers_raw() {
        if view.headers.len() == MAX_HEADERS_SHOWN {
            view.notes.push(format!(
                "only the first {MAX_HEADERS_SHOWN} header fields are shown"
            ));
            break;
        }
        view.headers.push(HeaderLine {
            name: visible(&cut_chars(name, MAX_HEADER_VALUE_CHARS)),
            value: visible(&cut_chars(&unfold(value), MAX_HEADER_VALUE_CHARS)),
        });
    }
    walk(&message.parts, 0, 0, &mut view);
    if let Some(html) = message.body_html(0) {
        view.html = Some(cut_body(&html, "HTML", &mut view.notes));
    }
    // `body_text` converts an HTML-only mail to text; keep only a real text part.
    if let Some(part) = message.text_bodies().next()
        && let PartType::Text(text) = &part.body
    {
        view.text = Some(cut_body(text, "text", &mut view.notes));
    }
    view
}

/// Lists part `index` and its children, depth first, within the limits.
fn walk(parts: &[MessagePart<'_>], index: usize, depth: usize, view: &mut MailView) {
    let Some(part) = parts.get(index) else { return };
    if view.parts.len() >= MAX_PARTS_SHOWN {
        view.note(format!(
            "only the first {MAX_PARTS_SHOWN} MIME parts are listed"
        ));
        return;
    }
    view.parts.push(PartInfo {
        index,
        depth,
        content_type: content_type(part),
        name: part.attachment_name().map(|n| visible(&cut_chars(n, 255))),
        size: part.len(),
        leaf: !part.is_multipart(),
    });
    if let PartType::Multipart(children) = &part.body {
        if depth + 1 >= MAX_TREE_DEPTH {
            view.note(format!(
                "MIME parts deeper than {MAX_TREE_DEPTH} levels are not listed"
            ));
            return;
        }
        for &child in children {
            // A child id at or before its parent would be a cycle; mail-parser numbers
            // children after their parent.
            if (child as usize) > index {
                walk(parts, child as usize, depth + 1, view);
            }
            if view.parts.len() >= MAX_PARTS_SHOWN {
                view.note(format!(
                    "only the first {MAX_PARTS_SHOWN} MIME parts are listed"
                ));
                return;
            }
        }
    }
}

fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => cut_chars(&format!("{}/{}", ct.ctype(), sub), 255),
            None => cut_chars(ct.ctype(), 255),
        },
        None => match part.body {
            PartType::Html(_) => "text/html".into(),
            PartType::Text(_) => "text/plain".into(),
            PartType::Message(_) => "message/rfc822".into(),
            PartType::Multipart(_) => "multipart/mixed".into(),
            _ => "application/octet-stream".into(),
        },
    }
}

fn fallback(raw: &[u8], why: &str) -> MailView {
    let block = raw_header_block(raw);
    let headers = String::from_utf8_lossy(block)
        .lines()
        .take(MAX_HEADERS_SHOWN)
        .map(|l| HeaderLine {
            name: String::new(),
            value: visible(&cut_chars(l, MAX_HEADER_VALUE_CHARS)),
        })
        .collect();
    MailView {
        headers,
        notes: vec![format!(
            "{why}; the raw header block is shown, and the raw mail can be downloaded"
        )],
        ..MailView::default()
    }
}

/// The bytes before the first empty line, at most [`MAX_RAW_HEADER_BYTES`].
fn raw_header_block(raw: &[u8]) -> &[u8] {
    let head = &raw[..raw.len().min(MAX_RAW_HEADER_BYTES)];
    let end = head
        .windows(2)
        .position(|w| w == b"\n\n")
        .into_iter()
        .chain(head.windows(4).position(|w| w == b"\r\n\r\n"))
        .min()
        .unwrap_or(head.len());
    &head[..end]
}

/// `s` with the characters that hide or reorder text shown as `[U+202E]`: bidirectional
/// controls (the right-to-left override that turns `exe.pdf` into `fdp.exe`), zero-width
/// characters and C0/C1 controls other than tab. Escaping makes attacker text harmless as
/// markup; this makes it honest as text.
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let hidden = matches!(c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
            | '\u{061C}' | '\u{FEFF}' | '\u{00AD}')
            || (c.is_control() && c != '\t');
        if hidden {
            out.push_str(&format!("[U+{:04X}]", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn unfold(value: &str) -> String {
    value
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn cut_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

fn cut_body(body: &str, what: &str, notes: &mut Vec<String>) -> String {
    if body.len() <= MAX_BODY_BYTES {
        return body.to_owned();
    }
    let mut end = MAX_BODY_BYTES;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    notes.push(format!(
        "the {what} body is cut at {MAX_BODY_BYTES} bytes; download the mail for all of it"
    ));
    body[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &[u8] = b"From: A <a@x.example>\r\nSubject: hi\r\n there\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--b\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA==\r\n--b--\r\n";

    #[test]
    fn tree_bodies_and_parts_are_read() {
        let v = read(MAIL);
        assert!(v.notes.is_empty(), "{:?}", v.notes);
        assert!(
            v.headers
                .iter()
                .any(|h| h.name == "Subject" && h.value == "hi there")
        );
        assert_eq!(v.parts.len(), 3);
        assert_eq!(v.parts[0].content_type, "multipart/mixed");
        assert_eq!(v.parts[2].name.as_deref(), Some("a.zip"));
        assert_eq!(v.parts[2].depth, 1);
        assert_eq!(v.html.as_deref().map(str::trim), Some("<p>hello</p>"));
        let (bytes, name) = part_bytes(MAIL, 2).expect("part");
        assert_eq!(bytes, b"PK\x03\x04");
        assert_eq!(name.as_deref(), Some("a.zip"));
        assert!(part_bytes(MAIL, 0).is_none(), "multipart has no bytes");
        assert!(part_bytes(MAIL, 99).is_none());
    }

    #[test]
    fn the_subject_is_read_from_the_header_block() {
        assert_eq!(subject(MAIL).as_deref(), Some("hi there"));
        assert_eq!(
            subject(b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\r\nbody").as_deref(),
            Some("café")
        );
        assert_eq!(subject(b"no headers"), None);
    }

    #[test]
    fn garbage_never_panics() {
        for raw in [
            &b""[..],
            b"\r\n\r\n",
            b"\xff\xfe\x00",
            b"Content-Type: multipart/x; boundary=\r\n\r\n--\r\n--",
        ] {
            let v = read(raw);
            let _ = part_bytes(raw, 0);
            assert!(v.parts.len() <= MAX_PARTS_SHOWN);
        }
    }

    #[test]
    fn a_deep_chain_parsed_uncut_is_dropped_on_a_small_stack() {
        // `parse` alone, without the cut: mail-parser keeps all 10,000 attached messages, one
        // inside the other. Dropped recursively, they overflowed even a 2 MiB stack in a debug
        // build (an abort); `drop_flat` takes one level at a time.
        let mut raw = String::new();
        for i in 0..10_000 {
            raw.push_str(&format!(
                "Subject: level {i}\r\nContent-Type: message/rfc822\r\n\r\n"
            ));
        }
        raw.push_str("Subject: innermost\r\n\r\ninnermost\r\n");
        let subject = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || parse(raw.as_bytes(), |m| m.subject().map(str::to_owned)))
            .expect("spawn")
            .join()
            .expect("no panic");
        assert_eq!(subject, Some(Some("level 0".to_owned())));
    }

    #[test]
    fn a_part_bomb_is_cut_with_a_note_and_the_indices_stay() {
        let mut raw = String::from(
            "Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n\
             --b\r\nContent-Type: text/plain\r\n\r\nfirst\r\n",
        );
        for _ in 0..MAX_DELIMITER_LINES {
            raw.push_str("--b\r\n\r\n\r\n");
        }
        let v = read(raw.as_bytes());
        assert_eq!(v.notes.len(), 2, "{:?}", v.notes);
        assert!(
            v.notes[0].starts_with("MIME parsing stopped at byte ")
                && v.notes[0].contains(&format!(
                    "more than {MAX_DELIMITER_LINES} lines start with --"
                )),
            "{}",
            v.notes[0]
        );
        assert_eq!(
            v.notes[1],
            format!("only the first {MAX_PARTS_SHOWN} MIME parts are listed")
        );
        assert_eq!(v.parts.len(), MAX_PARTS_SHOWN);
        let (first, _) = part_bytes(raw.as_bytes(), 1).expect("part 1");
        assert_eq!(first, b"first");
    }

    #[test]
    fn hidden_characters_are_shown() {
        assert_eq!(visible("a\u{202e}fdp.exe\u{0}"), "a[U+202E]fdp.exe[U+0000]");
        assert_eq!(visible("tab\tok é"), "tab\tok é");
    }

    #[test]
    fn long_values_are_cut() {
        let raw = format!(
            "Subject: {}\r\n\r\nx",
            "a".repeat(MAX_HEADER_VALUE_CHARS + 10)
        );
        let v = read(raw.as_bytes());
        let s = &v.headers[0].value;
        assert_eq!(s.chars().count(), MAX_HEADER_VALUE_CHARS + 1);
    }
}
