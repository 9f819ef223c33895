//! DDE field instructions (`DDE`, `DDEAUTO`) in Word binary streams, WordprocessingML parts,
//! SpreadsheetML external links and RTF `\fldinst` groups, the way msodde finds them.

use regex::Regex;
use std::sync::LazyLock;

/// Characters of one field instruction kept: msodde analyses 1000; commands are shorter.
const MAX_FIELD_CHARS: usize = 1000;

/// DDE fields reported per part: one is enough to judge, a handful to read.
const MAX_FIELDS: usize = 50;

/// msodde's test: the instruction starts with `DDE` (which covers `DDEAUTO`).
pub(crate) fn is_dde(instruction: &str) -> bool {
    instruction
        .trim_start()
        .get(..3)
        .is_some_and(|w| w.eq_ignore_ascii_case("dde"))
}

/// Field instructions in a `.doc` `WordDocument` stream: text between field begin (0x13) and
/// separator (0x14) or end (0x15). NUL bytes are skipped, so 8-bit and UTF-16LE text read alike.
pub(crate) fn word_binary_fields(stream: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let mut field: Option<String> = None;
    let mut separated = false;
    for &b in stream {
        match b {
            0 => {}
            0x13 => {
                field = Some(String::new());
                separated = false;
            }
            0x14 => separated = true,
            0x15 => {
                if let Some(f) = field.take()
                    && is_dde(&f)
                    && found.len() < MAX_FIELDS
                {
                    found.push(f.trim().to_string());
                }
            }
            _ => {
                if let Some(f) = field.as_mut()
                    && !separated
                    && f.len() < MAX_FIELD_CHARS
                {
                    f.push(char::from(b));
                }
            }
        }
    }
    found
}

static WORDML: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"<w:fldChar\b[^>]*?w:fldCharType="(begin|separate|end)""#,
        r#"|<w:instrText\b[^>]*>([^<]*)</w:instrText>"#,
        r#"|<w:fldSimple\b[^>]*?w:instr="([^"]*)""#,
    ))
    .ok()
});

/// DDE instructions in one WordprocessingML part: complex fields (instructions split over
/// `w:instrText` runs between `begin` and `separate`) and simple fields (`w:fldSimple`).
pub(crate) fn wordml_fields(xml: &str) -> Vec<String> {
    let Some(re) = WORDML.as_ref() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    let done = |f: String, found: &mut Vec<String>| {
        let f = unescape(&f);
        if is_dde(&f) && found.len() < MAX_FIELDS {
            found.push(f.trim().to_string());
        }
    };
    for cap in re.captures_iter(xml) {
        if let Some(kind) = cap.get(1) {
            match kind.as_str() {
                "begin" => current = Some(String::new()),
                _ => {
                    if let Some(f) = current.take() {
                        done(f, &mut found);
                    }
                }
            }
        } else if let Some(text) = cap.get(2) {
            if let Some(f) = current.as_mut()
                && f.len() < MAX_FIELD_CHARS
            {
                f.push_str(text.as_str());
            }
        } else if let Some(instr) = cap.get(3) {
            done(instr.as_str().to_string(), &mut found);
        }
    }
    found
}

static DDE_LINK: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"<(?:\w+:)?ddeLink\b[^>]*?ddeService="([^"]*)"[^>]*?ddeTopic="([^"]*)""#).ok()
});

/// `ddeLink` elements of SpreadsheetML external links (`xl/externalLinks/*.xml`).
pub(crate) fn spreadsheet_links(xml: &str) -> Vec<String> {
    let Some(re) = DDE_LINK.as_ref() else {
        return Vec::new();
    };
    re.captures_iter(xml)
        .take(MAX_FIELDS)
        .map(|c| {
            let service = c.get(1).map_or("", |m| m.as_str());
            let topic = c.get(2).map_or("", |m| m.as_str());
            unescape(&format!("{service} {topic}"))
        })
        .collect()
}

/// DDE instructions of RTF fields (`{\*\fldinst DDEAUTO ...}`): control words, braces and
/// line breaks inside the instruction are dropped, as Word does when it reads the field.
pub(crate) fn rtf_fields(rtf: &[u8]) -> Vec<String> {
    let mut found = Vec::new();
    let finder = memchr::memmem::Finder::new(b"\\fldinst");
    for start in finder.find_iter(rtf) {
        let rest = rtf.get(start + 8..).unwrap_or_default();
        let mut text = String::new();
        let mut depth = 0i32;
        let mut i = 0;
        while let Some(&b) = rest.get(i) {
            if text.len() >= MAX_FIELD_CHARS {
                break;
            }
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth < 0 {
                        break;
                    }
                }
                b'\\' => match rest.get(i + 1) {
                    Some(&c) if c.is_ascii_alphabetic() => {
                        i += 1;
                        while rest
                            .get(i)
                            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-')
                        {
                            i += 1;
                        }
                        if rest.get(i) == Some(&b' ') {
                            i += 1;
                        }
                        continue;
                    }
                    Some(&c) => {
                        text.push(char::from(c));
                        i += 1;
                    }
                    None => {}
                },
                b'\r' | b'\n' => {}
                _ => text.push(char::from(b)),
            }
            i += 1;
        }
        if is_dde(&text) && found.len() < MAX_FIELDS {
            found.push(text.trim().to_string());
        }
    }
    found
}

/// Resolves the five XML entities and numeric character references.
pub(crate) fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let Some(semi) = tail.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..semi];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e => e
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &tail[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}
