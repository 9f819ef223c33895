//! OLE/CFB documents (.doc, .xls, .ppt, .msi, `vbaProject.bin`, embedded `oleObject*.bin`):
//! VBA projects, encryption markers, Excel 4 macro sheets, DDE fields, OLE1 packages.

use super::{Doc, biff, dde, package, vba};
use crate::walk::{Origin, Walk};
use cfb::CompoundFile;
use model::AnomalyKind;
use model::report::VbaModule;
use std::io::{Cursor, Read};

type Cfb<'d> = CompoundFile<Cursor<&'d [u8]>>;

/// Scans one compound file. `at` names the artefact it belongs to.
pub(crate) fn scan(walk: &mut Walk<'_>, index: u32, data: &[u8], doc: &mut Doc) {
    let at = format!("artifacts[{index}]");
    let Ok(mut cf) = CompoundFile::open(Cursor::new(data)) else {
        walk.anomaly(
            AnomalyKind::MalformedContent,
            &at,
            "OLE compound file header or FAT is invalid",
        );
        return;
    };
    let max_entries = walk.engine.limits().max_entries as usize;
    let mut streams = Vec::new();
    let mut storages = Vec::new();
    for (n, entry) in cf.walk().enumerate() {
        if n >= max_entries {
            walk.limit("max_entries", &at);
            break;
        }
        let path = entry.path().to_string_lossy().replace('\\', "/");
        if entry.is_stream() {
            streams.push((path, entry.name().to_string()));
        } else {
            storages.push(path);
        }
    }
    for (path, name) in &streams {
        if walk.out_of_time() {
            return;
        }
        let parent = path.rsplit_once('/').map_or("", |(p, _)| p);
        let parent_name = parent.rsplit('/').next().unwrap_or("");
        match name.as_str() {
            n if n.eq_ignore_ascii_case("dir") && parent_name.eq_ignore_ascii_case("VBA") => {
                read_project(walk, &at, &mut cf, parent, doc);
            }
            "EncryptionInfo" | "EncryptedPackage" | "EncryptedSummary" => doc.info.encrypted = true,
            "Workbook" | "Book" => {
                if let Some(bytes) = read_stream(walk, &at, &mut cf, path) {
                    biff::scan(walk, &at, &bytes, doc);
                }
            }
            "WordDocument" => {
                if let Some(bytes) = read_stream(walk, &at, &mut cf, path) {
                    word_document(&bytes, doc);
                }
            }
            "\u{1}Ole10Native" => {
                if let Some(bytes) = read_stream(walk, &at, &mut cf, path) {
                    ole10native(walk, index, &bytes, doc);
                }
            }
            "\u{3}OCXNAME" | "OCXNAME" => {
                walk.finding("office.activex", &at, format!("ActiveX control {parent}"));
            }
            _ => {}
        }
    }
}

/// `.doc`: FIB `fEncrypted` (FibBase flags bit 8) and DDE field instructions.
fn word_document(bytes: &[u8], doc: &mut Doc) {
    if let Some(flags) = bytes.get(0x0A..0x0C)
        && u16::from_le_bytes([flags[0], flags[1]]) & 0x0100 != 0
    {
        doc.info.encrypted = true;
    }
    if !doc.info.encrypted {
        for field in dde::word_binary_fields(bytes) {
            if !doc.info.dde.contains(&field) {
                doc.info.dde.push(field);
            }
        }
    }
}

/// `\x01Ole10Native`: a 4-byte size, then an OLE1 native payload (a `Package` in practice).
fn ole10native(walk: &mut Walk<'_>, index: u32, bytes: &[u8], doc: &mut Doc) {
    let payload = bytes.get(4..).unwrap_or_default();
    let declared = bytes
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0);
    let payload = payload
        .get(..declared.min(payload.len()))
        .unwrap_or(payload);
    let (name, content) = match package::parse(payload) {
        Some(p) => (p.file_name(), p.data),
        None => ("Ole10Native".to_string(), payload),
    };
    doc.info.embedded_objects.push(name.clone());
    walk.add_object(Some(index), Some(name), content, Origin::default());
}

/// Decompresses the `dir` stream of the project under `storage` and every module it lists.
fn read_project(walk: &mut Walk<'_>, at: &str, cf: &mut Cfb<'_>, storage: &str, doc: &mut Doc) {
    let Some(dir) = read_stream(walk, at, cf, &format!("{storage}/dir")) else {
        return;
    };
    let Some(dir) = vba::decompress(&dir) else {
        walk.anomaly(
            AnomalyKind::MalformedContent,
            at,
            format!("VBA {storage}/dir stream is not MS-OVBA compressed"),
        );
        return;
    };
    let Some(project) = vba::parse_dir(&dir.data) else {
        walk.anomaly(
            AnomalyKind::MalformedContent,
            at,
            format!("VBA {storage}/dir stream lists no module"),
        );
        return;
    };
    let max_code = walk.engine.limits().max_vba_code_bytes as usize;
    for module in project.modules {
        let path = format!("{storage}/{}", module.stream);
        let Some(stream) = read_stream(walk, at, cf, &path) else {
            continue;
        };
        let source = stream
            .get(module.offset as usize..)
            .and_then(vba::decompress);
        let Some(source) = source else {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                at,
                format!(
                    "VBA module {path}: no compressed source at offset {}",
                    module.offset
                ),
            );
            continue;
        };
        let code = vba::decode(&source.data, project.code_page);
        if source.truncated {
            walk.limit("max_vba_code_bytes", at);
        }
        let truncated = source.truncated || code.len() > max_code;
        doc.info.vba.push(VbaModule {
            name: module.name,
            stream: path.trim_start_matches('/').to_string(),
            code: super::cut(&code, max_code).to_string(),
            truncated,
        });
        doc.add_code(&code);
    }
}

/// Reads one stream whole, up to `max_object_bytes`.
pub(crate) fn read_stream(
    walk: &mut Walk<'_>,
    at: &str,
    cf: &mut Cfb<'_>,
    path: &str,
) -> Option<Vec<u8>> {
    let max = walk.engine.limits().max_object_bytes;
    let mut stream = match cf.open_stream(path) {
        Ok(s) => s,
        Err(e) => {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                at,
                format!("OLE stream {path}: {e}"),
            );
            return None;
        }
    };
    let mut out = Vec::new();
    match (&mut stream)
        .take(max.saturating_add(1))
        .read_to_end(&mut out)
    {
        Ok(_) if out.len() as u64 > max => {
            walk.limit("max_object_bytes", at);
            out.truncate(max as usize);
            Some(out)
        }
        Ok(_) => Some(out),
        Err(e) => {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                at,
                format!("OLE stream {path}: {e}"),
            );
            None
        }
    }
}
