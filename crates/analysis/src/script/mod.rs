//! Scripts (js, jse, vbs, vbe, wsf, hta, ps1, bat, cmd): the Script Encoder is undone, then the
//! text is searched for what a dropper does (download, execute), how it hides (obfuscation),
//! and where it goes (URLs). Also home of the text helpers the other document parsers share.

mod encoder;
mod markers;

use crate::kind::Kind;
use crate::walk::Walk;
use model::AnomalyKind;

/// URLs taken from one text: a dropper names a handful; more is a list, not a script.
const MAX_URLS_PER_TEXT: usize = 500;

pub(crate) fn inspect(walk: &mut Walk<'_>, index: u32, kind: Kind, data: &[u8]) {
    let at = format!("artifacts[{index}]");
    let max = usize::try_from(walk.engine.limits().max_object_bytes).unwrap_or(usize::MAX);
    let bytes = data.get(..data.len().min(max)).unwrap_or_default();
    let text = decode_text(bytes);
    let mut texts = vec![text];
    let encoded =
        matches!(kind, Kind::Jse | Kind::Vbe) || memchr::memmem::find(bytes, b"#@~^").is_some();
    if encoded {
        let blocks = encoder::decode_blocks(texts[0].as_bytes());
        if blocks.is_empty() {
            if matches!(kind, Kind::Jse | Kind::Vbe) {
                walk.anomaly(
                    AnomalyKind::MalformedContent,
                    &at,
                    "script: encoded script kind without a #@~^ block",
                );
            }
        } else {
            walk.finding("script.encoded", &at, "Windows Script Encoder (#@~^)");
            texts.extend(blocks);
        }
    }
    for text in &texts {
        markers::scan(walk, &at, text);
    }
}

/// Text of a script or document: UTF-16 when it says so by BOM or looks like it (every other
/// byte zero, as PowerShell and `type` write), UTF-8 (lossy, so cp1252 bytes become U+FFFD but
/// the ASCII markers survive) otherwise.
pub(crate) fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return encoding_rs::UTF_16LE
            .decode_without_bom_handling(rest)
            .0
            .into_owned();
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return encoding_rs::UTF_16BE
            .decode_without_bom_handling(rest)
            .0
            .into_owned();
    }
    let head = bytes.get(..bytes.len().min(512)).unwrap_or_default();
    let odd_zeros = head.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    if head.len() >= 8 && odd_zeros * 10 >= (head.len() / 2) * 9 {
        return encoding_rs::UTF_16LE
            .decode_without_bom_handling(bytes)
            .0
            .into_owned();
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// `http(s)://` URLs written in `text` (scripts, shortcut arguments, HTML scripts), cut at the
/// first character that cannot be part of a URL in code: whitespace, quotes, brackets, `;`.
pub(crate) fn urls_in(text: &str) -> Vec<&str> {
    let lower = text.to_ascii_lowercase();
    let mut out: Vec<&str> = Vec::new();
    let mut pos = 0;
    while out.len() < MAX_URLS_PER_TEXT {
        let Some(rest) = lower.get(pos..) else { break };
        let Some(found) = rest.find("http") else {
            break;
        };
        let start = pos + found;
        let tail = lower.get(start..).unwrap_or_default();
        let scheme = if tail.starts_with("https://") {
            8
        } else if tail.starts_with("http://") {
            7
        } else {
            pos = start + 4;
            continue;
        };
        let len = tail
            .char_indices()
            .find(|&(_, c)| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(
                        c,
                        '"' | '\''
                            | '`'
                            | '<'
                            | '>'
                            | '('
                            | ')'
                            | '['
                            | ']'
                            | '{'
                            | '}'
                            | '\\'
                            | '^'
                            | '|'
                            | ';'
                    )
            })
            .map_or(tail.len(), |(i, _)| i);
        let url = text
            .get(start..start + len)
            .unwrap_or_default()
            .trim_end_matches(['.', ',', ':']);
        if url.len() > scheme && !out.contains(&url) {
            out.push(url);
        }
        pos = start + len.max(scheme);
    }
    out
}
