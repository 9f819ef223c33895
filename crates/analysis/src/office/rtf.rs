//! RTF: OLE1 objects in `\objdata` hex (Packager files, Equation Editor objects, embedded
//! compound files) and DDE fields. Obfuscated hex (whitespace, nested junk groups, control
//! words between the digits) is read the way Word reads it: everything but hex digits is skipped.

use super::{Doc, dde, package};
use crate::walk::{Origin, Walk};
use model::AnomalyKind;

/// `\objdata` destinations read per document: exploit documents carry one to a few; thousands
/// are a resource attack.
const MAX_OBJECTS: usize = 100;

const CFB_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// Scans one RTF document.
pub(crate) fn scan(walk: &mut Walk<'_>, index: u32, data: &[u8], doc: &mut Doc) {
    let at = format!("artifacts[{index}]");
    doc.add_dde(dde::rtf_fields(data));
    let max = usize::try_from(walk.engine.limits().max_object_bytes).unwrap_or(usize::MAX);
    let finder = memchr::memmem::Finder::new(b"\\objdata");
    for (n, start) in finder.find_iter(data).enumerate() {
        if n >= MAX_OBJECTS {
            walk.limit("max_entries", &at);
            break;
        }
        if walk.out_of_time() {
            return;
        }
        let rest = data.get(start + 8..).unwrap_or_default();
        let (bytes, cut) = hex_destination(rest, max);
        if cut {
            walk.limit("max_object_bytes", &at);
        }
        object(walk, index, &at, &bytes, doc);
    }
}

/// One OLE1 object: its class, and the file it carries as a child artefact.
fn object(walk: &mut Walk<'_>, index: u32, at: &str, bytes: &[u8], doc: &mut Doc) {
    if bytes.is_empty() {
        return;
    }
    let Some(ole1) = package::parse_ole1(bytes) else {
        if bytes.starts_with(CFB_MAGIC) {
            doc.info.embedded_objects.push("OLE2".to_string());
            walk.add_object(
                Some(index),
                Some("objdata.bin".into()),
                bytes,
                Origin::default(),
            );
        } else {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                at,
                "RTF \\objdata is not an OLE1 object",
            );
        }
        return;
    };
    let class = ole1.class_name.clone();
    if class.to_ascii_lowercase().starts_with("equation") {
        walk.finding(
            "rtf.equation-editor",
            at,
            format!("OLE object of class {class} (Equation Editor, CVE-2017-11882 family)"),
        );
    }
    if ole1.format_id == 1 {
        if !ole1.topic.is_empty() {
            walk.url(&ole1.topic, &format!("{at}.external-target"));
            walk.finding(
                "office.external-target",
                at,
                format!("linked {class}: {}", ole1.topic),
            );
            doc.info.external_targets.push(ole1.topic);
        }
        return;
    }
    doc.info.embedded_objects.push(class.clone());
    if class.eq_ignore_ascii_case("Package")
        && let Some(p) = package::parse(ole1.native)
    {
        walk.add_object(Some(index), Some(p.file_name()), p.data, Origin::default());
        return;
    }
    if !ole1.native.is_empty() {
        let name = format!("{}.bin", class.replace(['/', '\\'], "_"));
        walk.add_object(Some(index), Some(name), ole1.native, Origin::default());
    }
}

/// Decodes the hex digits of a destination up to its closing brace, skipping nested groups,
/// control words and anything that is not a hex digit. Returns the bytes and whether `max`
/// cut them.
fn hex_destination(rest: &[u8], max: usize) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut high: Option<u8> = None;
    let mut i = 0usize;
    while let Some(&b) = rest.get(i) {
        i += 1;
        match b {
            b'{' => depth += 1,
            b'}' => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            b'\\' => {
                // Skip a control word and its numeric parameter; `\'hh` and symbols are 1 char.
                if rest.get(i).is_some_and(u8::is_ascii_alphabetic) {
                    while rest.get(i).is_some_and(u8::is_ascii_alphabetic) {
                        i += 1;
                    }
                    while rest
                        .get(i)
                        .is_some_and(|c| c.is_ascii_digit() || *c == b'-')
                    {
                        i += 1;
                    }
                } else {
                    i += 1;
                }
            }
            _ if depth == 0 => {
                let Some(v) = hex_value(b) else { continue };
                match high.take() {
                    None => high = Some(v),
                    Some(h) => {
                        if out.len() >= max {
                            return (out, true);
                        }
                        out.push(h << 4 | v);
                    }
                }
            }
            _ => {}
        }
    }
    (out, false)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
