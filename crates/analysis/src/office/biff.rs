//! Excel BIFF5/BIFF8 `Workbook` streams (MS-XLS): macro sheets (`BOUNDSHEET` with sheet type
//! 1 = Excel 4 macro sheet), `FILEPASS` (encryption) and `SUPBOOK` DDE links.

use super::Doc;
use crate::walk::Walk;

const BOF: u16 = 0x0809;
const BOUNDSHEET: u16 = 0x0085;
const FILEPASS: u16 = 0x002F;
const SUPBOOK: u16 = 0x01AE;

/// Walks the record headers of one workbook stream; the stream is already bounded.
pub(crate) fn scan(walk: &mut Walk<'_>, at: &str, stream: &[u8], doc: &mut Doc) {
    let mut pos = 0usize;
    let mut biff8 = true;
    while let Some(header) = stream.get(pos..pos + 4) {
        let kind = u16::from_le_bytes([header[0], header[1]]);
        let len = usize::from(u16::from_le_bytes([header[2], header[3]]));
        pos += 4;
        let Some(body) = stream.get(pos..pos + len) else {
            break;
        };
        pos += len;
        match kind {
            BOF => {
                if let Some(v) = body.get(0..2) {
                    biff8 = u16::from_le_bytes([v[0], v[1]]) >= 0x0600;
                }
            }
            BOUNDSHEET => boundsheet(walk, at, body, biff8, doc),
            FILEPASS => doc.info.encrypted = true,
            SUPBOOK => supbook(body, doc),
            _ => {}
        }
    }
}

fn boundsheet(walk: &mut Walk<'_>, at: &str, body: &[u8], biff8: bool, doc: &mut Doc) {
    let (Some(&state), Some(&sheet_type)) = (body.get(4), body.get(5)) else {
        return;
    };
    if sheet_type != 0x01 {
        return;
    }
    let name = body
        .get(6..)
        .map(|rest| short_string(rest, biff8))
        .unwrap_or_default();
    let visibility = match state & 0x03 {
        0 => "visible",
        1 => "hidden",
        _ => "very hidden",
    };
    doc.info.xlm_macros = true;
    walk.finding(
        "office.xlm",
        at,
        format!("Excel 4 macro sheet {name:?} ({visibility})"),
    );
}

/// `SUPBOOK` with `ctab == 0` and a virtual path is an OLE/DDE link: `service\x03topic`.
fn supbook(body: &[u8], doc: &mut Doc) {
    let (Some(ctab), Some(cch)) = (body.get(0..2), body.get(2..4)) else {
        return;
    };
    let ctab = u16::from_le_bytes([ctab[0], ctab[1]]);
    let cch = u16::from_le_bytes([cch[0], cch[1]]);
    if ctab != 0 || cch == 0 || cch > 0xFF {
        return;
    }
    let path = body
        .get(4..)
        .map(|rest| unicode_string(rest, usize::from(cch)))
        .unwrap_or_default();
    if path.trim_matches([' ', '\0']).is_empty() {
        return;
    }
    let link = path.replace('\u{3}', " ");
    if !doc.info.dde.contains(&link) {
        doc.info.dde.push(link);
    }
}

/// BIFF8 `ShortXLUnicodeString` (u8 count, flags, chars) or BIFF5 byte string.
fn short_string(data: &[u8], biff8: bool) -> String {
    let Some(&count) = data.first() else {
        return String::new();
    };
    if biff8 {
        data.get(1..)
            .map(|rest| unicode_string(rest, usize::from(count)))
            .unwrap_or_default()
    } else {
        let end = (1 + usize::from(count)).min(data.len());
        latin1(data.get(1..end).unwrap_or_default())
    }
}

/// `XLUnicodeStringNoCch`: a flags byte (bit 0: UTF-16) then `count` characters.
fn unicode_string(data: &[u8], count: usize) -> String {
    let Some((&flags, chars)) = data.split_first() else {
        return String::new();
    };
    if flags & 1 != 0 {
        let units: Vec<u16> = chars
            .chunks_exact(2)
            .take(count)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        latin1(chars.get(..count.min(chars.len())).unwrap_or_default())
    }
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}
