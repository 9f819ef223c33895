//! The byte-level reader: key names searched in the raw file and in every inflated Flate
//! stream (object streams included), with `#xx`-escaped names decoded. It needs no valid
//! structure, so it sees what a broken or deliberately malformed PDF still carries.

use super::Facts;
use super::objects::RATIO_FLOOR;
use crate::limits::Limits;
use memchr::memmem;
use std::io::Read;

/// Streams inflated per document: lures have tens, generated files thousands.
const MAX_PDF_STREAMS: usize = 5_000;
/// Longest key name read; the keys searched for are short.
const MAX_NAME: usize = 64;
/// Longest string value read after a key.
const MAX_STRING: usize = 4096;
/// Bytes after `/Launch` searched for its `/F` and `/P`.
const LAUNCH_WINDOW: usize = 512;
/// Bytes before a `stream` keyword searched for its dictionary.
const DICT_WINDOW: usize = 2048;

pub(super) fn scan(data: &[u8], limits: &Limits, extract: bool, facts: &mut Facts) {
    scan_buffer(data, facts);
    let max_total = usize::try_from(limits.max_object_bytes).unwrap_or(usize::MAX);
    let max_ratio = usize::try_from(limits.max_ratio).unwrap_or(usize::MAX);
    let mut total = 0usize;
    let mut streams = 0usize;
    for pos in memmem::find_iter(data, b"stream") {
        if pos >= 3 && data.get(pos - 3..pos) == Some(b"end") {
            continue;
        }
        let Some(body_start) = body_start(data, pos + 6) else {
            continue;
        };
        if streams >= MAX_PDF_STREAMS {
            facts.limit("pdf_max_streams");
            break;
        }
        streams += 1;
        let body_end = memmem::find(data.get(body_start..).unwrap_or_default(), b"endstream")
            .map_or(data.len(), |e| body_start + e);
        let body = data.get(body_start..body_end).unwrap_or_default();
        let window = normalized(
            data.get(pos.saturating_sub(DICT_WINDOW)..pos)
                .unwrap_or_default(),
        );
        // The stream's own dictionary starts at its `N 0 obj`, the last one before the keyword.
        let dict = match memmem::rfind(&window, b" obj") {
            Some(o) => window.get(o..).unwrap_or_default(),
            None => window.as_slice(),
        };
        let flate = has_name(dict, b"FlateDecode") || has_name(dict, b"Fl");
        let embedded = has_name(dict, b"EmbeddedFile");
        let content = if flate {
            let by_ratio = body.len().saturating_mul(max_ratio).max(RATIO_FLOOR);
            let left = max_total.saturating_sub(total);
            let cap = by_ratio.min(left);
            let (out, cut) = inflate(body, cap);
            if cut {
                facts.limit(if cap < by_ratio {
                    "max_object_bytes"
                } else {
                    "max_ratio"
                });
            }
            total += out.len();
            scan_buffer(&out, facts);
            out
        } else {
            body.to_vec()
        };
        if embedded {
            facts.embedded = true;
            if extract {
                facts.add_file(format!("embedded-{streams}"), content);
            }
        }
        if total >= max_total {
            break;
        }
    }
}

/// Where the data of the stream whose keyword ends at `after` starts: after CRLF or LF.
fn body_start(data: &[u8], after: usize) -> Option<usize> {
    match data.get(after..after + 2)? {
        [b'\r', b'\n'] => Some(after + 2),
        [b'\n', _] | [b'\r', _] => Some(after + 1),
        _ => None,
    }
}

/// Inflates a zlib (or raw deflate) stream up to `cap` bytes. Damaged streams give what
/// decoded before the damage. The flag says the cap cut the output.
fn inflate(body: &[u8], cap: usize) -> (Vec<u8>, bool) {
    let take = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
    let mut out = Vec::new();
    let _ = flate2::read::ZlibDecoder::new(body)
        .take(take)
        .read_to_end(&mut out);
    if out.is_empty() {
        let _ = flate2::read::DeflateDecoder::new(body)
            .take(take)
            .read_to_end(&mut out);
    }
    let cut = out.len() > cap;
    out.truncate(cap);
    (out, cut)
}

/// Every key of interest in `buf`, with the value that follows it where one matters.
fn scan_buffer(buf: &[u8], facts: &mut Facts) {
    for slash in memchr::memchr_iter(b'/', buf) {
        let rest = buf.get(slash + 1..).unwrap_or_default();
        let (name, len, escaped) = read_name(rest);
        let after = rest.get(len..).unwrap_or_default();
        let known = match name.as_slice() {
            b"JS" => {
                match read_string(after) {
                    Some(code) => facts.add_js(&code),
                    None => facts.javascript = true,
                }
                true
            }
            b"JavaScript" => {
                facts.javascript = true;
                true
            }
            b"OpenAction" => {
                facts.info.open_action = true;
                true
            }
            b"AA" => {
                facts.info.additional_actions = true;
                true
            }
            b"Launch" => {
                let window = after
                    .get(..after.len().min(LAUNCH_WINDOW))
                    .unwrap_or_default();
                let target = [b"F".as_slice(), b"P"]
                    .iter()
                    .filter_map(|k| value_of(window, k))
                    .map(|v| super::pdf_text(&v))
                    .collect::<Vec<_>>()
                    .join(" ");
                facts.add_launch(target);
                true
            }
            b"URI" => {
                if let Some(uri) = read_string(after) {
                    facts.add_uri(&uri);
                }
                true
            }
            b"EmbeddedFile" | b"EmbeddedFiles" => {
                facts.embedded = true;
                true
            }
            b"XFA" => {
                facts.info.xfa = true;
                true
            }
            b"Encrypt" => {
                facts.info.encrypted = true;
                true
            }
            _ => false,
        };
        if known && escaped {
            facts.name_obfuscation = true;
        }
    }
}

/// A name after its `/`: decoded bytes, raw length, and whether `#xx` escapes were used.
fn read_name(rest: &[u8]) -> (Vec<u8>, usize, bool) {
    let mut name = Vec::new();
    let mut i = 0;
    let mut escaped = false;
    while let Some(&b) = rest.get(i) {
        if is_delimiter(b) || name.len() >= MAX_NAME {
            break;
        }
        if b == b'#'
            && let Some(v) = rest.get(i + 1..i + 3).and_then(hex_byte)
        {
            name.push(v);
            escaped = true;
            i += 3;
            continue;
        }
        name.push(b);
        i += 1;
    }
    (name, i, escaped)
}

fn hex_byte(h: &[u8]) -> Option<u8> {
    std::str::from_utf8(h)
        .ok()
        .and_then(|s| u8::from_str_radix(s, 16).ok())
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || b"()<>[]{}/%\0".contains(&b)
}

/// The string value (literal or hex) that follows a key, skipping whitespace.
fn read_string(after: &[u8]) -> Option<Vec<u8>> {
    let start = after.iter().position(|b| !b.is_ascii_whitespace())?;
    let s = after.get(start..)?;
    match s.first()? {
        b'(' => Some(literal(s.get(1..)?)),
        b'<' if s.get(1) != Some(&b'<') => {
            let end = memchr::memchr(b'>', s)?;
            let hex: Vec<u8> = s
                .get(1..end)?
                .iter()
                .copied()
                .filter(u8::is_ascii_hexdigit)
                .take(MAX_STRING * 2)
                .collect();
            Some(
                hex.chunks(2)
                    .filter_map(|c| {
                        let pair = if c.len() == 2 {
                            [c[0], c[1]]
                        } else {
                            [c[0], b'0']
                        };
                        hex_byte(&pair)
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// A literal string body (after its `(`): nested parentheses and backslash escapes.
fn literal(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if out.len() >= MAX_STRING {
            break;
        }
        i += 1;
        match b {
            b'\\' => {
                let Some(&e) = s.get(i) else { break };
                i += 1;
                match e {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'0'..=b'7' => {
                        let mut v = u32::from(e - b'0');
                        for _ in 0..2 {
                            match s.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push((v & 0xFF) as u8);
                    }
                    b'\r' | b'\n' => {}
                    other => out.push(other),
                }
            }
            b'(' => {
                depth += 1;
                out.push(b);
            }
            b')' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
                out.push(b);
            }
            _ => out.push(b),
        }
    }
    out
}

/// The string value of key `/key` within `window`, if written there.
fn value_of(window: &[u8], key: &[u8]) -> Option<Vec<u8>> {
    for slash in memchr::memchr_iter(b'/', window) {
        let rest = window.get(slash + 1..)?;
        let (name, len, _) = read_name(rest);
        if name == key
            && let Some(v) = read_string(rest.get(len..)?)
        {
            return Some(v);
        }
    }
    None
}

/// `buf` with `#xx` escapes in names decoded, so that dictionary checks see plain names.
fn normalized(buf: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(buf.len());
    let mut i = 0;
    while let Some(&b) = buf.get(i) {
        if b == b'#'
            && let Some(v) = buf.get(i + 1..i + 3).and_then(hex_byte)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// `dict` holds the name `/name` (followed by a delimiter).
fn has_name(dict: &[u8], name: &[u8]) -> bool {
    let mut pat = vec![b'/'];
    pat.extend_from_slice(name);
    memmem::find_iter(dict, &pat).any(|p| dict.get(p + pat.len()).is_none_or(|&b| is_delimiter(b)))
}
