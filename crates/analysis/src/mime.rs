//! The MIME walk: parse the message, hand text parts to `body`, everything else to
//! `Walk::add_object`. Nested `message/rfc822` parts are walked as objects of kind `eml`.

use crate::body::{self, BodyInput};
use crate::walk::{Origin, Walk};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use model::AnomalyKind;
use std::sync::LazyLock;

/// Nesting of multiparts in one message before it is recorded. Real mail nests three to five
/// levels (mixed > related > alternative); thousands are made to exhaust recursive parsers.
/// Recorded only: mail-parser keeps the tree flat and the walk below never recurses per level,
/// and parts deeper down are still analysed (within `max_mime_parts`), so that a payload
/// cannot hide beneath the limit.
const MAX_MIME_DEPTH: usize = 32;

/// Parses the top-level message and walks it.
pub(crate) fn walk_message(walk: &mut Walk<'_>, raw: &[u8]) {
    let Some(msg) = parse(walk, raw, "message") else {
        return;
    };
    if let Some(headers) = walk.guard("headers", "headers", |w| crate::headers::extract(w, &msg)) {
        walk.report.headers = headers;
    }
    walk.finding("message.parsed", "message", "");
    if msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        walk.finding("message.delivery-report", "message", "multipart/report");
    }
    walk_parts(walk, &msg, None, "");
    drop_flat(msg);
}

/// Walks a message attached to another (`message/rfc822`): its text parts become bodies, its
/// attachments children of the artefact at `index`.
pub(crate) fn walk_attached(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let at = format!("artifacts[{index}]");
    if let Some(msg) = parse(walk, data, &at) {
        walk_parts(walk, &msg, Some(index), &format!("{at}/"));
        drop_flat(msg);
    }
}

/// Drops a parsed message without recursing into its attached messages. mail-parser parses
/// nested `message/rfc822` parts iteratively but keeps each inside its parent's part, and Rust
/// drops nested values recursively: 10,000 levels (a 300 KB message of `Content-Type:
/// message/rfc822` lines) overflowed a 256 KiB stack in a debug build, and only the message
/// size bounds the depth. A stack overflow aborts the process, which `catch_unwind` cannot
/// stop. So the nested messages are moved out to a list first, and each drop is one level.
/// (`part_bomb_cut` now also stops such a chain at `max_mime_parts` messages.)
pub fn drop_flat(msg: Message<'_>) {
    let mut pending = vec![msg];
    while let Some(mut m) = pending.pop() {
        for part in &mut m.parts {
            if matches!(part.body, PartType::Message(_))
                && let PartType::Message(inner) = std::mem::take(&mut part.body)
            {
                pending.push(inner);
            }
        }
    }
}

/// Lines starting with `--` per analysed part (`max_mime_parts`) before a message is cut for
/// mail-parser. It keeps a record of about 160 bytes per part, all parts at once, and more
/// with headers: a 64 MiB message of empty parts (`--b` and a blank line, 7 bytes each) would
/// cost 1.5 GB before the walk looks at its first 500. Every delimiter line starts with `--`,
/// text rarely starts many lines so, and the walk stops at `max_mime_parts` anyway: 16 per
/// analysed part (8,000 by default) cuts only part bombs. In a `multipart/digest` every part
/// is a message by default, so this also bounds messages nested through digests.
const DELIMITER_LINES_PER_PART: usize = 16;

/// Lines that look like header fields (a field name, then `:`) anywhere in a message before
/// it is cut for mail-parser. It keeps a record of about 190 bytes for every header field of
/// every part and attached message: 10 MB of `a:` lines peaked at 481 MiB. Real parts carry
/// tens of fields, and text rarely has this many lines of that shape; 100,000 records are
/// about 19 MB for each parse, and the walk parses a nested message again at most
/// `max_depth` + 1 times: within `max_total_bytes`.
const MAX_HEADER_LINES: usize = 100_000;

/// `Content-Type` values that make mail-parser parse a part as a message of its own.
static MESSAGE_TYPE: LazyLock<Option<regex::bytes::Regex>> =
    LazyLock::new(|| regex::bytes::Regex::new(r"(?i-u)message/(?:rfc822|global)").ok());

/// Where to cut a message before mail-parser sees it, and why: at the start of the line that
/// begins with `--` for the `max_delimiters + 1`-th time, that looks like a header field for
/// the `MAX_HEADER_LINES + 1`-th time, or that names an attached message
/// (`message/rfc822`, `message/global`) for the `max_messages + 1`-th time. mail-parser keeps
/// each attached message inside its parent with all its parts and headers (about 1.3 KB per
/// level of nesting), and the walk parses each attached message again to analyse it, down to
/// `max_depth`: 10,000 nested messages in 500 KB cost 112 MiB before this cut. Two passes with
/// `memchr` and one regex; nothing is allocated.
pub fn part_bomb_cut(
    raw: &[u8],
    max_delimiters: usize,
    max_messages: usize,
) -> Option<(usize, &'static str, String)> {
    let mut cut: Option<(usize, &'static str, String)> = None;
    let (mut seen, mut fields) = (0usize, 0usize);
    let mut line = 0usize;
    // Neither count can pass its limit in a message with fewer lines than the smaller limit
    // (every message of the phishing corpus): one vectorised count of newlines decides that,
    // and the line-by-line pass below is skipped.
    let lines = memchr::memchr_iter(b'\n', raw).count() + 1;
    let short = lines <= max_delimiters.min(MAX_HEADER_LINES);
    if !short {
        loop {
            if raw[line..].starts_with(b"--") {
                seen += 1;
                if seen > max_delimiters {
                    cut = Some((
                        line,
                        "max_mime_parts",
                        format!("more than {max_delimiters} lines start with --"),
                    ));
                    break;
                }
            } else if looks_like_field(&raw[line..]) {
                fields += 1;
                if fields > MAX_HEADER_LINES {
                    cut = Some((
                        line,
                        "mime_max_header_lines",
                        format!("more than {MAX_HEADER_LINES} lines look like header fields"),
                    ));
                    break;
                }
            }
            match memchr::memchr(b'\n', &raw[line..]) {
                Some(nl) => line += nl + 1,
                None => break,
            }
        }
    }
    let searched = cut.as_ref().map_or(raw, |(at, _, _)| &raw[..*at]);
    if let Some(re) = MESSAGE_TYPE.as_ref()
        && let Some(m) = re.find_iter(searched).nth(max_messages)
    {
        let start = memchr::memrchr(b'\n', &raw[..m.start()]).map_or(0, |nl| nl + 1);
        cut = Some((
            start,
            "max_mime_parts",
            format!("more than {max_messages} attached messages"),
        ));
    }
    cut
}

/// A line starting with a header field name (RFC 5322 `ftext`: printable ASCII but `:`)
/// followed by `:`. Names longer than 76 bytes are not counted: a bomb of long names pays
/// more input for each record it makes.
fn looks_like_field(line: &[u8]) -> bool {
    let name = line
        .iter()
        .take(77)
        .position(|&b| !(b'!'..=b'~').contains(&b) || b == b':');
    matches!(name, Some(n) if n > 0 && line[n] == b':')
}

/// mail-parser never rejects input outright; `None` here means it panicked (caught) or found
/// no message at all. Either way it is recorded and the report goes on without the MIME tree.
/// A part bomb is cut first (`part_bomb_cut`), and the cut recorded.
fn parse<'m>(walk: &mut Walk<'_>, raw: &'m [u8], at: &str) -> Option<Message<'m>> {
    let max_parts = walk.engine.limits().max_mime_parts as usize;
    let max_lines = max_parts.saturating_mul(DELIMITER_LINES_PER_PART);
    let mut raw = raw;
    if let Some((end, limit, why)) = part_bomb_cut(raw, max_lines, max_parts) {
        raw = &raw[..end];
        walk.limit(limit, at);
        walk.anomaly(
            AnomalyKind::MalformedContent,
            at,
            format!("MIME parsing stopped at byte {end}: {why}"),
        );
    }
    match walk.guard(at, "mail-parser", |_| MessageParser::default().parse(raw)) {
        Some(Some(msg)) => Some(msg),
        Some(None) => {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                at,
                "no RFC 5322 message found",
            );
            None
        }
        None => None,
    }
}

fn walk_parts(walk: &mut Walk<'_>, msg: &Message<'_>, parent: Option<u32>, prefix: &str) {
    let max = walk.engine.limits().max_mime_parts as usize;
    let at = if prefix.is_empty() { "message" } else { prefix };
    if msg.parts.len() > max {
        walk.limit("max_mime_parts", at);
    }
    let depth = nesting_depth(msg);
    if depth > MAX_MIME_DEPTH {
        walk.anomaly(
            AnomalyKind::MalformedContent,
            at,
            format!("MIME parts nested {depth} levels deep (more than {MAX_MIME_DEPTH})"),
        );
    }
    for (i, part) in msg.parts.iter().enumerate().take(max) {
        if walk.out_of_time() {
            return;
        }
        let part_id = format!("{prefix}{i}");
        if part.is_encoding_problem {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                format!("part {part_id}"),
                "transfer encoding could not be decoded; raw bytes kept",
            );
        }
        let is_attachment = msg.attachments.contains(&(i as u32));
        let declared = part.content_type().map(|ct| match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        });
        let name = part.attachment_name().map(str::to_string);
        match &part.body {
            PartType::Multipart(_) => {}
            PartType::Text(text) | PartType::Html(text) if !is_attachment || name.is_none() => {
                let html = matches!(part.body, PartType::Html(_));
                let charset = part
                    .content_type()
                    .and_then(|ct| ct.attribute("charset"))
                    .map(|c| c.to_ascii_lowercase());
                let input = BodyInput {
                    part: part_id,
                    content_type: declared.clone().unwrap_or_else(|| {
                        if html { "text/html" } else { "text/plain" }.to_string()
                    }),
                    charset,
                    text,
                    html,
                };
                let visible = walk
                    .guard(&format!("part {}", input.part), "body", |w| {
                        body::analyze(w, &input)
                    })
                    .unwrap_or_default();
                let found = crate::passwords::from_text(&visible);
                for p in found {
                    if !walk.passwords.contains(&p) {
                        walk.passwords.push(p);
                    }
                }
            }
            PartType::Message(_) => {
                let data = part.contents();
                walk.add_object(
                    parent,
                    name.or_else(|| Some(format!("part-{i}.eml"))),
                    data,
                    Origin {
                        declared_type: Some("message/rfc822".to_string()),
                        ..Origin::default()
                    },
                );
            }
            _ => {
                walk.add_object(
                    parent,
                    name,
                    part.contents(),
                    Origin {
                        declared_type: declared,
                        ..Origin::default()
                    },
                );
            }
        }
    }
}

/// How deep the multipart tree of `msg` goes, in one pass over its flat list of parts
/// (mail-parser lists a multipart before its children; a child index that is not later than
/// its parent's is ignored, so no cycle is followed).
fn nesting_depth(msg: &Message<'_>) -> usize {
    let mut depth = vec![0usize; msg.parts.len()];
    let mut deepest = 0;
    for (i, part) in msg.parts.iter().enumerate() {
        let PartType::Multipart(children) = &part.body else {
            continue;
        };
        let below = depth[i] + 1;
        for &child in children {
            let child = child as usize;
            if child > i
                && let Some(d) = depth.get_mut(child)
            {
                *d = below;
                deepest = deepest.max(below);
            }
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::part_bomb_cut;

    /// The newline count that lets short messages skip the line pass must not skip a message
    /// one line past the limit, the last line without its newline included.
    #[test]
    fn delimiter_lines_are_cut_one_past_the_limit_and_not_at_it() {
        let at_limit = "--b\n".repeat(10);
        assert_eq!(part_bomb_cut(at_limit.as_bytes(), 10, 5), None);
        let past = "--b\n".repeat(11);
        let cut = part_bomb_cut(past.as_bytes(), 10, 5).map(|(at, why, _)| (at, why));
        assert_eq!(cut, Some((40, "max_mime_parts")));
        let unterminated = format!("{}--b", "--b\n".repeat(10));
        let cut = part_bomb_cut(unterminated.as_bytes(), 10, 5).map(|(at, _, _)| at);
        assert_eq!(cut, Some(40));
    }
}
