//! Type by content: magic bytes first, the structure of zip and OLE containers next, and the
//! declared name only for text formats that have no magic (scripts, HTML, mail).
//!
//! Only prefixes are read (and the zip central directory or the OLE directory for the Office
//! split), so sniffing costs microseconds whatever the object size. The name never overrides
//! magic: an `invoice.pdf` that starts with `MZ` is a PE, and `names.rs` reports the mismatch.

use crate::kind::Kind;
use crate::names::extension;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Bytes examined to decide whether an object is text and which markup it carries: HTML and
/// SVG droppers put their tags in the first KiB, and 4 KiB is enough for a text/binary vote.
const TEXT_PREFIX: usize = 4096;
/// Window searched for markup and for the JScript/VBScript encoder marker.
const MARKUP_PREFIX: usize = 1024;
/// Window searched for the blank line ending a mail header block.
const HEADER_PREFIX: usize = 64 << 10;
/// Zip central-directory entries looked at to tell OOXML from a plain zip; Office files have
/// a few dozen parts, so the answer is in the first few hundred names.
const OOXML_MAX_NAMES: usize = 2000;

const SEVEN_Z: &[u8] = b"7z\xBC\xAF\x27\x1C";
const XZ: &[u8] = b"\xFD7zXZ\x00";
const OLE: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";
const LNK: &[u8] =
    b"\x4C\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xC0\x00\x00\x00\x00\x00\x00\x46";
const ONENOTE: &[u8] = b"\xE4\x52\x5C\x7B\x8C\xD8\xA7\x4D\xAE\xB1\x53\x78\xD0\x29\x96\xD3";
/// Root CLSID of Windows Installer packages (MSI).
const MSI_CLSID: &str = "000c1084-0000-0000-c000-000000000046";

/// What `data` is, judged by its bytes; `name` breaks ties for text formats with no magic.
pub fn sniff(data: &[u8], name: Option<&str>) -> Kind {
    if let Some(kind) = by_magic(data) {
        return kind;
    }
    if let Some(kind) = disk_image(data) {
        return kind;
    }
    text_kind(data, name)
}

fn by_magic(data: &[u8]) -> Option<Kind> {
    let kind = if data.starts_with(b"PK\x03\x04")
        || data.starts_with(b"PK\x05\x06")
        || data.starts_with(b"PK\x07\x08")
    {
        zip_kind(data)
    } else if data.starts_with(SEVEN_Z) {
        Kind::SevenZip
    } else if data.starts_with(b"Rar!\x1A\x07") {
        Kind::Rar
    } else if data.starts_with(b"\x1F\x8B") {
        Kind::Gzip
    } else if data.starts_with(b"BZh") && data.get(3).is_some_and(|b| (b'1'..=b'9').contains(b)) {
        Kind::Bzip2
    } else if data.starts_with(XZ) {
        Kind::Xz
    } else if data.starts_with(b"MSCF\x00\x00\x00\x00") {
        Kind::Cab
    } else if data.starts_with(OLE) {
        ole_kind(data)
    } else if data.starts_with(b"{\\rt") {
        Kind::Rtf
    } else if data.starts_with(LNK) {
        Kind::Lnk
    } else if data.starts_with(ONENOTE) {
        Kind::OneNote
    } else if data.starts_with(b"MZ") && is_pe(data) {
        Kind::Pe
    } else if data.starts_with(b"\x7FELF") {
        Kind::Elf
    } else if is_macho(data) {
        Kind::MachO
    } else if data.get(257..262) == Some(b"ustar") {
        Kind::Tar
    } else if is_image(data) {
        Kind::Image
    } else if memchr::memmem::find(&data[..data.len().min(1024)], b"%PDF").is_some() {
        Kind::Pdf
    } else {
        return None;
    };
    Some(kind)
}

/// `e_lfanew` must point at `PE\0\0` inside the object; a bare `MZ` is often text ("MZ...").
fn is_pe(data: &[u8]) -> bool {
    let Some(off) = data.get(0x3C..0x40) else {
        return false;
    };
    let off = u32::from_le_bytes([off[0], off[1], off[2], off[3]]) as usize;
    off.checked_add(4)
        .and_then(|end| data.get(off..end))
        .is_some_and(|sig| sig == b"PE\0\0")
}

fn is_macho(data: &[u8]) -> bool {
    let Some(head) = data.get(0..4) else {
        return false;
    };
    match head {
        b"\xFE\xED\xFA\xCE" | b"\xFE\xED\xFA\xCF" | b"\xCE\xFA\xED\xFE" | b"\xCF\xFA\xED\xFE" => {
            true
        }
        // Fat binaries share CAFEBABE with Java classes; a class file has its major version
        // (45 and up) where a fat header has its small architecture count.
        b"\xCA\xFE\xBA\xBE" | b"\xCA\xFE\xBA\xBF" => data
            .get(4..8)
            .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]))
            .is_some_and(|n| (1..45).contains(&n)),
        _ => false,
    }
}

fn is_image(data: &[u8]) -> bool {
    data.starts_with(b"\x89PNG\r\n\x1A\n")
        || data.starts_with(b"\xFF\xD8\xFF")
        || data.starts_with(b"GIF87a")
        || data.starts_with(b"GIF89a")
        || (data.starts_with(b"RIFF") && data.get(8..12) == Some(b"WEBP"))
        || data.starts_with(b"II*\x00")
        || data.starts_with(b"MM\x00*")
        // BMP: "BM", then reserved zero words; ICO: reserved 0, type 1, a small image count.
        || (data.starts_with(b"BM") && data.len() >= 26 && data.get(6..10) == Some(&[0, 0, 0, 0]))
        || (data.starts_with(b"\x00\x00\x01\x00")
            && data.get(4).is_some_and(|n| *n > 0)
            && data.get(5) == Some(&0)
            && data.get(9) == Some(&0))
}

/// ISO 9660 and UDF volume descriptors sit at sector 16 and the following ones; a FAT boot
/// sector (the `.img` loader of 2019–2022) ends with 55 AA and names its file system.
fn disk_image(data: &[u8]) -> Option<Kind> {
    for off in [0x8001usize, 0x8801, 0x9001] {
        if let Some(id) = data.get(off..off + 5)
            && matches!(id, b"CD001" | b"BEA01" | b"NSR02" | b"NSR03")
        {
            return Some(Kind::Iso);
        }
    }
    let boot_signature = data.get(510..512) == Some(b"\x55\xAA");
    let fat = data.get(0x36..0x39) == Some(b"FAT") || data.get(0x52..0x57) == Some(b"FAT32");
    let jump = matches!(data.first(), Some(0xEB | 0xE9));
    (boot_signature && fat && jump).then_some(Kind::Img)
}

/// OOXML by part names in the central directory (nothing is decompressed). Any failure to
/// read the directory leaves the object a plain zip, for `containers` to report.
fn zip_kind(data: &[u8]) -> Kind {
    let names = catch_unwind(AssertUnwindSafe(|| -> Option<(bool, bool, bool, bool)> {
        let archive = zip::ZipArchive::new(Cursor::new(data)).ok()?;
        let (mut types, mut word, mut xl, mut ppt) = (false, false, false, false);
        for name in archive.file_names_raw().take(OOXML_MAX_NAMES) {
            types |= name == b"[Content_Types].xml";
            word |= name.starts_with(b"word/");
            xl |= name.starts_with(b"xl/");
            ppt |= name.starts_with(b"ppt/");
        }
        Some((types, word, xl, ppt))
    }));
    match names {
        Ok(Some((true, true, _, _))) => Kind::OoxmlWord,
        Ok(Some((true, _, true, _))) => Kind::OoxmlExcel,
        Ok(Some((true, _, _, true))) => Kind::OoxmlPpt,
        _ => Kind::Zip,
    }
}

/// OLE by the streams of the root storage (`cfb` reads only the directory here).
fn ole_kind(data: &[u8]) -> Kind {
    let found = catch_unwind(AssertUnwindSafe(|| -> Option<Kind> {
        let file = cfb::CompoundFile::open(Cursor::new(data)).ok()?;
        if file.root_entry().clsid().to_string() == MSI_CLSID {
            return Some(Kind::Msi);
        }
        let mut kind = Kind::Ole;
        for entry in file.read_root_storage() {
            let name = entry.name();
            kind = match name {
                "WordDocument" => return Some(Kind::OleDoc),
                "Workbook" | "Book" => return Some(Kind::OleXls),
                "PowerPoint Document" => return Some(Kind::OlePpt),
                // MSI table streams have mangled names starting with U+4840.
                n if n.starts_with('\u{4840}') => Kind::Msi,
                _ => kind,
            };
        }
        Some(kind)
    }));
    found.ok().flatten().unwrap_or(Kind::Ole)
}

/// Text formats with no magic: decided by markup in the first KiB and by the name.
fn text_kind(data: &[u8], name: Option<&str>) -> Kind {
    let ext = name.and_then(extension);
    let ext = ext.as_deref();
    if ext == Some("eml") {
        return Kind::Eml;
    }
    let prefix = &data[..data.len().min(TEXT_PREFIX)];
    if !is_text(prefix) {
        return Kind::Unknown;
    }
    let head = String::from_utf8_lossy(&prefix[..prefix.len().min(MARKUP_PREFIX)]).to_lowercase();
    if head.contains("#@~^") {
        return match ext {
            Some("js" | "jse") => Kind::Jse,
            _ => Kind::Vbe,
        };
    }
    let by_ext = match ext {
        Some("js") => Some(Kind::Js),
        Some("jse") => Some(Kind::Jse),
        Some("vbs") => Some(Kind::Vbs),
        Some("vbe") => Some(Kind::Vbe),
        Some("wsf") => Some(Kind::Wsf),
        Some("ps1") => Some(Kind::Ps1),
        Some("bat") => Some(Kind::Bat),
        Some("cmd") => Some(Kind::Cmd),
        Some("hta") => Some(Kind::Hta),
        _ => None,
    };
    if let Some(kind) = by_ext {
        return kind;
    }
    if head.contains("<hta:application") {
        return Kind::Hta;
    }
    if looks_like_mail(data) {
        return Kind::Eml;
    }
    if head.contains("<svg") {
        return Kind::Svg;
    }
    const HTML_TAGS: &[&str] = &[
        "<!doctype html",
        "<html",
        "<head",
        "<body",
        "<script",
        "<iframe",
        "<meta",
        "<form",
    ];
    if HTML_TAGS.iter().any(|t| head.contains(t))
        || matches!(ext, Some("html" | "htm" | "shtml" | "xhtml"))
    {
        return Kind::Html;
    }
    Kind::Text
}

/// Valid UTF-8 (a character cut at the end of the window is fine), UTF-16 with a BOM, or at
/// least 95 % printable bytes, and no NUL in 8-bit text.
fn is_text(prefix: &[u8]) -> bool {
    if prefix.starts_with(b"\xFF\xFE") || prefix.starts_with(b"\xFE\xFF") {
        return true;
    }
    if prefix.is_empty() || memchr::memchr(0, prefix).is_some() {
        return false;
    }
    match std::str::from_utf8(prefix) {
        Ok(_) => return true,
        Err(e) if e.error_len().is_none() => return true,
        Err(_) => {}
    }
    let printable = prefix
        .iter()
        .filter(|b| matches!(b, b'\t' | b'\n' | b'\r' | 0x20..=0x7E | 0x80..=0xFF))
        .count();
    printable * 100 >= prefix.len() * 95
}

/// RFC 5322 header lines from the first line on, then a blank line.
fn looks_like_mail(data: &[u8]) -> bool {
    const FIRST: &[&str] = &[
        "received:",
        "return-path:",
        "from:",
        "to:",
        "subject:",
        "date:",
        "message-id:",
        "mime-version:",
        "delivered-to:",
        "x-",
        "from ",
    ];
    let window = &data[..data.len().min(HEADER_PREFIX)];
    let Some(first_line) = window.split(|b| *b == b'\n').next() else {
        return false;
    };
    let first = String::from_utf8_lossy(&first_line[..first_line.len().min(64)]).to_lowercase();
    if !FIRST.iter().any(|h| first.starts_with(h)) {
        return false;
    }
    let blank = memchr::memmem::find(window, b"\n\n").is_some()
        || memchr::memmem::find(window, b"\n\r\n").is_some();
    let colons = window
        .split(|b| *b == b'\n')
        .take(8)
        .filter(|l| l.contains(&b':'))
        .count();
    blank && colons >= 2
}
