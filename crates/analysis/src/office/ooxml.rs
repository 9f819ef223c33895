//! OOXML packages (.docx/.docm/.xlsx/.xlsm/.xlsb/.pptx...): `vbaProject.bin`, relationships with
//! external targets (template injection), Excel 4 macro sheets, embeddings, ActiveX, DDE.

use super::{Doc, dde, ole};
use crate::walk::{Origin, Walk};
use model::AnomalyKind;
use regex::Regex;
use std::io::{Cursor, Read};
use std::sync::LazyLock;

/// Relationship types whose external target is fetched or run when the document opens
/// (template injection, linked OLE objects, frames, sub-documents, external workbooks).
/// Hyperlinks and images only load on a click or are cosmetic: their URLs are kept, not flagged.
const ACTIVE_TYPES: &[&str] = &[
    "attachedTemplate",
    "oleObject",
    "frame",
    "subDocument",
    "externalLinkPath",
    "externalLink",
];

/// Scans one OOXML zip package.
pub(crate) fn scan(walk: &mut Walk<'_>, index: u32, data: &[u8], doc: &mut Doc) {
    let at = format!("artifacts[{index}]");
    let mut zip = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                &at,
                format!("OOXML zip: {e}"),
            );
            return;
        }
    };
    let max_entries = walk.engine.limits().max_entries as usize;
    if zip.len() > max_entries {
        walk.limit("max_entries", &at);
    }
    let mut activex = false;
    for i in 0..zip.len().min(max_entries) {
        if walk.out_of_time() {
            return;
        }
        let name = match zip.by_index_raw(i).map(|f| f.name().map(|n| n.to_string())) {
            Ok(Ok(n)) => n,
            _ => continue,
        };
        let lower = name.to_ascii_lowercase();
        let file = name.rsplit('/').next().unwrap_or(&name).to_string();
        if lower == "[content_types].xml" {
            if let Some(bytes) = read_entry(walk, &at, &mut zip, i, &name) {
                check_dtd(walk, &at, &name, &bytes);
            }
        } else if lower.ends_with("vbaproject.bin") {
            if let Some(bytes) = read_entry(walk, &at, &mut zip, i, &name) {
                ole::scan(walk, index, &bytes, doc);
            }
        } else if lower.ends_with(".rels") {
            if let Some(bytes) = read_entry(walk, &at, &mut zip, i, &name) {
                check_dtd(walk, &at, &name, &bytes);
                relationships(walk, &at, &String::from_utf8_lossy(&bytes), doc);
            }
        } else if lower.starts_with("xl/macrosheets/") && !lower.ends_with('/') {
            doc.info.xlm_macros = true;
            walk.finding("office.xlm", &at, format!("Excel 4 macro sheet {name}"));
        } else if lower.contains("/embeddings/") && !lower.ends_with('/') {
            if let Some(bytes) = read_entry(walk, &at, &mut zip, i, &name) {
                doc.info.embedded_objects.push(name.clone());
                walk.add_object(Some(index), Some(file), &bytes, Origin::default());
            }
        } else if lower.contains("/activex/") && !activex {
            activex = true;
            walk.finding("office.activex", &at, format!("ActiveX control {name}"));
        } else if lower.starts_with("xl/externallinks/") && lower.ends_with(".xml") {
            if let Some(bytes) = read_entry(walk, &at, &mut zip, i, &name) {
                check_dtd(walk, &at, &name, &bytes);
                let links = dde::spreadsheet_links(&String::from_utf8_lossy(&bytes));
                doc.add_dde(links);
            }
        } else if lower.starts_with("word/")
            && lower.ends_with(".xml")
            && let Some(bytes) = read_entry(walk, &at, &mut zip, i, &name)
        {
            check_dtd(walk, &at, &name, &bytes);
            let fields = dde::wordml_fields(&String::from_utf8_lossy(&bytes));
            doc.add_dde(fields);
        }
    }
}

/// Records an XML part that declares a DTD. The Open Packaging Conventions (ECMA-376 Part 2)
/// forbid DTD declarations in package XML and Office refuses them, so one is there for another
/// reader: entity bombs (billion laughs), external entities. Nothing here expands entities: parts are read as
/// written with regexes, and only the five predefined entities and character references are
/// decoded (`dde::unescape`), so a declared entity stays its reference, `&lol9;`.
fn check_dtd(walk: &mut Walk<'_>, at: &str, name: &str, xml: &[u8]) {
    if memchr::memmem::find(xml, b"<!DOCTYPE").is_some()
        || memchr::memmem::find(xml, b"<!ENTITY").is_some()
    {
        walk.anomaly(
            AnomalyKind::MalformedContent,
            at,
            format!("OOXML part {name} declares a DTD (entities are not expanded)"),
        );
    }
}

/// Reads one entry whole, refusing sizes over `max_object_bytes` and ratios over `max_ratio`.
fn read_entry(
    walk: &mut Walk<'_>,
    at: &str,
    zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
    i: usize,
    name: &str,
) -> Option<Vec<u8>> {
    let limits = walk.engine.limits();
    let (max, max_ratio) = (limits.max_object_bytes, limits.max_ratio);
    let mut file = match zip.by_index(i) {
        Ok(f) => f,
        Err(e) => {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                at,
                format!("OOXML entry {name}: {e}"),
            );
            return None;
        }
    };
    if file.size() > max {
        walk.limit("max_object_bytes", at);
        return None;
    }
    // Below 1 MiB a high ratio costs nothing (sparse XML parts legitimately reach 100:1+).
    if file.size() > 1 << 20 && file.size() / file.compressed_size().max(1) > max_ratio {
        walk.limit("max_ratio", at);
        return None;
    }
    let mut out = Vec::new();
    if let Err(e) = (&mut file).take(max).read_to_end(&mut out) {
        walk.anomaly(
            AnomalyKind::MalformedContent,
            at,
            format!("OOXML entry {name}: {e}"),
        );
        return None;
    }
    Some(out)
}

static RELATIONSHIP: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"<(?:\w+:)?Relationship\b[^>]*>").ok());
static ATTRIBUTE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(\w+)\s*=\s*(?:"([^"]*)"|'([^']*)')"#).ok());

/// External relationships: active types are flagged, every target's URL is collected.
fn relationships(walk: &mut Walk<'_>, at: &str, xml: &str, doc: &mut Doc) {
    let (Some(rel_re), Some(attr_re)) = (RELATIONSHIP.as_ref(), ATTRIBUTE.as_ref()) else {
        return;
    };
    for tag in rel_re
        .find_iter(xml)
        .take(walk.engine.limits().max_entries as usize)
    {
        let (mut kind, mut target, mut external) = ("", String::new(), false);
        for a in attr_re.captures_iter(tag.as_str()) {
            let value = a.get(2).or_else(|| a.get(3)).map_or("", |m| m.as_str());
            match a.get(1).map_or("", |m| m.as_str()) {
                "Type" => kind = value.rsplit('/').next().unwrap_or(""),
                "Target" => target = dde::unescape(value),
                "TargetMode" => external = value.eq_ignore_ascii_case("External"),
                _ => {}
            }
        }
        if !external || target.is_empty() {
            continue;
        }
        if ACTIVE_TYPES.iter().any(|t| t.eq_ignore_ascii_case(kind)) {
            walk.url(&target, &format!("{at}.external-target"));
            walk.finding("office.external-target", at, format!("{kind}: {target}"));
            if !doc.info.external_targets.contains(&target) {
                doc.info.external_targets.push(target);
            }
        } else {
            walk.url(&target, &format!("{at}.hyperlink"));
        }
    }
}
