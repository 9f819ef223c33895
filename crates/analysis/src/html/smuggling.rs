//! HTML smuggling: the page carries the payload as text (base64 in a script or a data: URI) and
//! has the browser assemble and save it (`atob`, `Blob`, `createObjectURL`, `msSaveOrOpenBlob`,
//! `download`). The markers are recorded, and every payload found is decoded and added as a
//! child object, so the ZIP/ISO/EXE inside is analysed like an attachment.

use super::page::Page;
use crate::walk::{Origin, Walk};
use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use regex::Regex;
use std::sync::LazyLock;

/// data: URIs smaller than this are icons and fonts; droppers are tens of KiB and more.
const DATA_URI_MIN: usize = 10 << 10;
/// Base64 runs in scripts shorter than this are tokens and images, not payloads.
const SCRIPT_BASE64_MIN: usize = 4 << 10;
/// Payloads decoded per page: real pages smuggle one file.
const MAX_PAYLOADS: usize = 32;

/// Adjacent string literals joined by `+` or listed in an array: the usual way of cutting a
/// base64 payload into pieces that no signature sees whole.
static LITERAL_JOIN: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"["'`]\s*[+,]\s*["'`]"#).ok());

static DOWNLOAD: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"\.download\s*=|setAttribute\(\s*["']download["']"#).ok());

/// Base64 as browsers' `atob` takes it: padding optional, trailing bits ignored.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

pub(super) fn inspect(
    walk: &mut Walk<'_>,
    index: u32,
    at: &str,
    doc: &str,
    page: &Page,
    seen: &mut Vec<String>,
) {
    // When the parser saw no script text (broken markup), the whole page stands in for it.
    let script = if page.script.is_empty() {
        doc
    } else {
        page.script.as_str()
    };
    let mut mark = |s: &str| {
        if !seen.iter().any(|x| x == s) {
            seen.push(s.to_string());
        }
    };
    if script.contains("atob(") {
        mark("atob");
    }
    if script.contains("new Blob") || script.contains("Blob(") {
        mark("blob");
    }
    if script.contains("msSaveOrOpenBlob") || script.contains("msSaveBlob") {
        mark("msSaveOrOpenBlob");
    }
    if script.contains("createObjectURL") {
        mark("createObjectURL");
    }
    if page.download_attribute || DOWNLOAD.as_ref().is_some_and(|re| re.is_match(script)) {
        mark("download-attribute");
    }
    let mut payloads = Payloads::default();
    data_uris(doc, &mut payloads);
    if payloads.found.iter().any(|p| p.source == "data-uri") {
        mark("data-uri-large");
    }
    let joined = match LITERAL_JOIN.as_ref() {
        Some(re) => re.replace_all(script, ""),
        None => script.into(),
    };
    base64_runs(&joined, &mut payloads);
    if payloads.found.iter().any(|p| p.source == "script") {
        mark("base64-payload");
    }
    if payloads.limited {
        walk.limit("max_smuggled_payloads", at);
    }
    let has = |s: &str| seen.iter().any(|x| x == s);
    let strong = !payloads.found.is_empty()
        || has("msSaveOrOpenBlob")
        || (has("blob") && (has("atob") || has("createObjectURL") || has("download-attribute")));
    if strong {
        walk.finding("html.smuggling", at, seen.join(", "));
    }
    for (n, p) in payloads.found.into_iter().enumerate() {
        let name = format!(
            "{}-{n}",
            if p.source == "data-uri" {
                "data-uri"
            } else {
                "smuggled"
            }
        );
        walk.add_object(Some(index), Some(name), &p.bytes, Origin::default());
    }
}

#[derive(Debug, Default)]
struct Payloads {
    found: Vec<Payload>,
    limited: bool,
}

#[derive(Debug)]
struct Payload {
    source: &'static str,
    bytes: Vec<u8>,
}

impl Payloads {
    fn push(&mut self, source: &'static str, bytes: Vec<u8>) {
        if self.found.iter().any(|p| p.bytes == bytes) {
            return;
        }
        if self.found.len() >= MAX_PAYLOADS {
            self.limited = true;
            return;
        }
        self.found.push(Payload { source, bytes });
    }
}

/// Large `data:application/...;base64,` URIs: decoded whatever they hold.
fn data_uris(doc: &str, out: &mut Payloads) {
    for start in memchr::memmem::find_iter(doc.as_bytes(), b"data:") {
        let rest = doc.get(start + 5..).unwrap_or_default();
        let Some(comma) = rest.get(..rest.len().min(200)).and_then(|h| h.find(',')) else {
            continue;
        };
        let header = rest.get(..comma).unwrap_or_default().to_ascii_lowercase();
        let mime = header.split(';').next().unwrap_or_default().trim();
        let binary = mime.starts_with("application/") || mime.ends_with("octet-stream");
        if !binary || !header.contains(";base64") {
            continue;
        }
        let body = rest.get(comma + 1..).unwrap_or_default();
        let run = base64_len(body.as_bytes());
        if run >= DATA_URI_MIN
            && let Some(bytes) = decode(body.get(..run).unwrap_or_default())
        {
            out.push("data-uri", bytes);
        }
    }
}

/// Long base64 runs in script text that decode to a file type droppers deliver.
fn base64_runs(script: &str, out: &mut Payloads) {
    let bytes = script.as_bytes();
    let mut pos = 0;
    while pos < bytes.len() {
        let run = base64_len(bytes.get(pos..).unwrap_or_default());
        if run == 0 {
            pos += 1;
            continue;
        }
        if run >= SCRIPT_BASE64_MIN
            && let Some(decoded) = script.get(pos..pos + run).and_then(decode)
            && payload_type(&decoded).is_some()
        {
            out.push("script", decoded);
        }
        pos += run;
    }
}

fn base64_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='))
        .unwrap_or(bytes.len())
}

fn decode(b64: &str) -> Option<Vec<u8>> {
    let trimmed = b64.trim_end_matches('=');
    // A length of 4n+1 cannot be base64: drop the stray last character.
    let usable = if trimmed.len() % 4 == 1 {
        trimmed.get(..trimmed.len() - 1)?
    } else {
        trimmed
    };
    LENIENT.decode(usable).ok()
}

/// The file type of a decoded payload, by magic, when it is one droppers deliver.
pub(super) fn payload_type(b: &[u8]) -> Option<&'static str> {
    const MAGIC: [(&[u8], &str); 13] = [
        (b"PK\x03\x04", "zip"),
        (b"MZ", "pe"),
        (b"7z\xBC\xAF\x27\x1C", "7z"),
        (b"Rar!\x1A\x07", "rar"),
        (b"\x1F\x8B", "gzip"),
        (b"\xFD7zXZ\x00", "xz"),
        (b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1", "ole"),
        (b"%PDF", "pdf"),
        (b"MSCF", "cab"),
        (b"L\x00\x00\x00\x01\x14\x02\x00", "lnk"),
        (b"\xE4\x52\x5C\x7B\x8C\xD8\xA7\x4D", "onenote"),
        (b"\x7FELF", "elf"),
        (b"{\\rtf", "rtf"),
    ];
    if let Some((_, name)) = MAGIC.iter().find(|(m, _)| b.starts_with(m)) {
        return Some(name);
    }
    [0x8001usize, 0x8801, 0x9001]
        .iter()
        .any(|&o| b.get(o..o + 5) == Some(b"CD001"))
        .then_some("iso")
}
