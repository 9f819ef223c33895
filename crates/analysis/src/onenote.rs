//! OneNote sections (`.one`): the files embedded in them, the 2023 loader wave's payload (HTA,
//! BAT, VBS, EXE behind a fake "double-click to view" button). Each FileDataStoreObject
//! (MS-ONESTORE 2.6.13) is found by its GUID, wherever it sits, and extracted as a child.

use crate::walk::{Origin, Walk};
use model::AnomalyKind;

/// `{BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}` as stored (little-endian fields): the header of a
/// FileDataStoreObject.
const FILE_DATA_GUID: [u8; 16] = [
    0xE7, 0x16, 0xE3, 0xBD, 0x65, 0x26, 0x11, 0x45, 0xA4, 0xC4, 0x8D, 0x4D, 0x0B, 0x7A, 0x9E, 0xAC,
];
/// GUID, then `cbLength` (u64), `unused` (u32) and `reserved` (u64): the data follows.
const DATA_OFFSET: usize = 16 + 8 + 4 + 8;

pub(crate) fn inspect(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let at = format!("artifacts[{index}]");
    let max_entries = walk.engine.limits().max_entries as usize;
    let max_bytes = walk.engine.limits().max_object_bytes;
    let finder = memchr::memmem::Finder::new(&FILE_DATA_GUID);
    let mut pos = 0;
    let mut n = 0usize;
    while let Some(found) = data.get(pos..).and_then(|rest| finder.find(rest)) {
        let start = pos + found;
        pos = start + FILE_DATA_GUID.len();
        if n >= max_entries {
            walk.limit("max_entries", &at);
            break;
        }
        let Some(len) = data
            .get(start + 16..start + 24)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
        else {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                &at,
                "onenote: FileDataStoreObject header cut short",
            );
            break;
        };
        if len > max_bytes {
            walk.limit("max_object_bytes", &at);
            continue;
        }
        let body = start + DATA_OFFSET;
        let end = usize::try_from(len)
            .ok()
            .and_then(|l| body.checked_add(l))
            .filter(|&e| e <= data.len());
        let Some(end) = end else {
            walk.anomaly(
                AnomalyKind::MalformedContent,
                &at,
                format!("onenote: embedded file of {len} bytes runs past the end"),
            );
            continue;
        };
        let Some(file) = data.get(body..end) else {
            continue;
        };
        let name = format!("embedded-{n}");
        n += 1;
        if !is_picture(file) {
            walk.finding("onenote.embedded-file", &at, &name);
        }
        walk.add_object(Some(index), Some(name), file, Origin::default());
        pos = end;
    }
}

/// Pictures are what notebooks normally embed; everything else is what loaders embed.
fn is_picture(file: &[u8]) -> bool {
    const MAGIC: [&[u8]; 6] = [
        b"\x89PNG",
        b"\xFF\xD8\xFF",
        b"GIF8",
        b"BM",
        b"\x01\x00\x00\x00", // EMF
        b"\xD7\xCD\xC6\x9A", // placeable WMF
    ];
    MAGIC.iter().any(|m| file.starts_with(m))
}
