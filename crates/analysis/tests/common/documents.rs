//! Builders of small documents for the document tests: PDFs with a correct xref table,
//! shell links (MS-SHLLINK), Script Encoder output, OneNote-like blobs, PE headers, zips.
#![allow(dead_code)]

use std::io::{Cursor, Write};

/// A PDF: objects numbered from 1 in the order given, a classic xref table with their real
/// offsets, and a trailer whose `/Root` is object 1.
pub fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// A stream object body: dictionary entries (without `/Length`) and raw content.
pub fn stream(dict: &str, content: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dict} /Length {} >>\nstream\n", content.len()).into_bytes();
    out.extend_from_slice(content);
    out.extend_from_slice(b"\nendstream");
    out
}

pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// The usual pages skeleton: catalog (object 1, with extra entries), pages (2), one page (3).
pub fn catalog(extra: &str) -> Vec<Vec<u8>> {
    vec![
        format!("<< /Type /Catalog /Pages 2 0 R {extra} >>").into_bytes(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>".to_vec(),
    ]
}

/// What a shortcut holds, for `lnk`.
#[derive(Default)]
pub struct Link<'a> {
    pub relative_path: Option<&'a str>,
    pub working_dir: Option<&'a str>,
    pub arguments: Option<&'a str>,
    pub icon: Option<&'a str>,
    /// Environment-variable target block (`%windir%\...`).
    pub env_target: Option<&'a str>,
    pub machine_id: Option<&'a str>,
}

/// A Unicode shell link with the given strings and extra blocks, built field by field.
pub fn lnk(l: &Link<'_>) -> Vec<u8> {
    let strings = [None, l.relative_path, l.working_dir, l.arguments, l.icon];
    let bits = [0x4u32, 0x8, 0x10, 0x20, 0x40];
    let mut flags = 0x80u32; // IsUnicode
    for (s, b) in strings.iter().zip(bits) {
        if s.is_some() {
            flags |= b;
        }
    }
    if l.env_target.is_some() {
        flags |= 0x200;
    }
    let mut out = Vec::new();
    out.extend_from_slice(&0x4Cu32.to_le_bytes());
    out.extend_from_slice(&[
        0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x46,
    ]);
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&0x20u32.to_le_bytes()); // FILE_ATTRIBUTE_ARCHIVE
    out.extend_from_slice(&[0u8; 24]); // times
    out.extend_from_slice(&0u32.to_le_bytes()); // size
    out.extend_from_slice(&0u32.to_le_bytes()); // icon index
    out.extend_from_slice(&7u32.to_le_bytes()); // SW_SHOWMINNOACTIVE
    out.extend_from_slice(&[0u8; 12]); // hotkey + reserved
    assert_eq!(out.len(), 0x4C);
    for s in strings.iter().flatten() {
        let units: Vec<u16> = s.encode_utf16().collect();
        out.extend_from_slice(&(units.len() as u16).to_le_bytes());
        for u in units {
            out.extend_from_slice(&u.to_le_bytes());
        }
    }
    if let Some(t) = l.env_target {
        out.extend_from_slice(&0x314u32.to_le_bytes());
        out.extend_from_slice(&0xA000_0001u32.to_le_bytes());
        let mut ansi = t.as_bytes().to_vec();
        ansi.resize(260, 0);
        out.extend_from_slice(&ansi);
        let mut uni: Vec<u8> = t.encode_utf16().flat_map(u16::to_le_bytes).collect();
        uni.resize(520, 0);
        out.extend_from_slice(&uni);
    }
    if let Some(m) = l.machine_id {
        out.extend_from_slice(&0x60u32.to_le_bytes());
        out.extend_from_slice(&0xA000_0003u32.to_le_bytes());
        out.extend_from_slice(&0x58u32.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let mut id = m.as_bytes().to_vec();
        id.resize(16, 0);
        out.extend_from_slice(&id);
        out.extend_from_slice(&[0u8; 64]); // droid GUIDs
    }
    out.extend_from_slice(&0u32.to_le_bytes()); // terminal block
    out
}

/// The Script Encoder's decoding table (characters 32..=127, three columns) and its column
/// order, as published; the tests encode with its inverse.
#[rustfmt::skip]
const TABLE: [[u8; 3]; 96] = [
    [0x2E, 0x2D, 0x32], [0x47, 0x75, 0x30], [0x7A, 0x52, 0x21], [0x56, 0x60, 0x29],
    [0x42, 0x71, 0x5B], [0x6A, 0x5E, 0x38], [0x2F, 0x49, 0x33], [0x26, 0x5C, 0x3D],
    [0x49, 0x62, 0x58], [0x41, 0x7D, 0x3A], [0x34, 0x29, 0x35], [0x32, 0x36, 0x65],
    [0x5B, 0x20, 0x39], [0x76, 0x7C, 0x5C], [0x72, 0x7A, 0x56], [0x43, 0x7F, 0x73],
    [0x38, 0x6B, 0x66], [0x39, 0x63, 0x4E], [0x70, 0x33, 0x45], [0x45, 0x2B, 0x6B],
    [0x68, 0x68, 0x62], [0x71, 0x51, 0x59], [0x4F, 0x66, 0x78], [0x09, 0x76, 0x5E],
    [0x62, 0x31, 0x7D], [0x44, 0x64, 0x4A], [0x23, 0x54, 0x6D], [0x75, 0x43, 0x71],
    [0x4A, 0x4C, 0x41], [0x7E, 0x3A, 0x60], [0x4A, 0x4C, 0x41], [0x5E, 0x7E, 0x53],
    [0x40, 0x4C, 0x40], [0x77, 0x45, 0x42], [0x4A, 0x2C, 0x27], [0x61, 0x2A, 0x48],
    [0x5D, 0x74, 0x72], [0x22, 0x27, 0x75], [0x4B, 0x37, 0x31], [0x6F, 0x44, 0x37],
    [0x4E, 0x79, 0x4D], [0x3B, 0x59, 0x52], [0x4C, 0x2F, 0x22], [0x50, 0x6F, 0x54],
    [0x67, 0x26, 0x6A], [0x2A, 0x72, 0x47], [0x7D, 0x6A, 0x64], [0x74, 0x39, 0x2D],
    [0x54, 0x7B, 0x20], [0x2B, 0x3F, 0x7F], [0x2D, 0x38, 0x2E], [0x2C, 0x77, 0x4C],
    [0x30, 0x67, 0x5D], [0x6E, 0x53, 0x7E], [0x6B, 0x47, 0x6C], [0x66, 0x34, 0x6F],
    [0x35, 0x78, 0x79], [0x25, 0x5D, 0x74], [0x21, 0x30, 0x43], [0x64, 0x23, 0x26],
    [0x4D, 0x5A, 0x76], [0x52, 0x5B, 0x25], [0x63, 0x6C, 0x24], [0x3F, 0x48, 0x2B],
    [0x7B, 0x55, 0x28], [0x78, 0x70, 0x23], [0x29, 0x69, 0x41], [0x28, 0x2E, 0x34],
    [0x73, 0x4C, 0x09], [0x59, 0x21, 0x2A], [0x33, 0x24, 0x44], [0x7F, 0x4E, 0x3F],
    [0x6D, 0x50, 0x77], [0x55, 0x09, 0x3B], [0x53, 0x56, 0x55], [0x7C, 0x73, 0x69],
    [0x3A, 0x35, 0x61], [0x5F, 0x61, 0x63], [0x65, 0x4B, 0x50], [0x46, 0x58, 0x67],
    [0x58, 0x3B, 0x51], [0x31, 0x57, 0x49], [0x69, 0x22, 0x4F], [0x6C, 0x6D, 0x46],
    [0x5A, 0x4D, 0x68], [0x48, 0x25, 0x7C], [0x27, 0x28, 0x36], [0x5C, 0x46, 0x70],
    [0x3D, 0x4A, 0x6E], [0x24, 0x32, 0x7A], [0x79, 0x41, 0x2F], [0x37, 0x3D, 0x5F],
    [0x60, 0x5F, 0x4B], [0x51, 0x4F, 0x5A], [0x20, 0x42, 0x2C], [0x36, 0x65, 0x57],
];

/// Decoded TAB per column.
const TAB: [u8; 3] = [0x57, 0x6E, 0x7B];

#[rustfmt::skip]
const COLUMN: [usize; 64] = [
    0, 1, 2, 0, 1, 2, 1, 2, 2, 1, 2, 1, 0, 2, 1, 2, 0, 2, 1, 2, 0, 0, 1, 2, 2, 1, 0, 2, 1, 2, 2, 1,
    0, 0, 2, 1, 2, 1, 2, 0, 2, 0, 0, 1, 2, 0, 2, 1, 0, 2, 1, 2, 0, 0, 1, 2, 2, 0, 0, 1, 2, 0, 2, 1,
];

/// `plain` (ASCII, no TAB) encoded as `screnc` would: `#@~^` header, body, checksum trailer.
pub fn script_encode(plain: &str) -> String {
    let mut body = String::new();
    for (index, c) in plain.bytes().enumerate() {
        match c {
            b'\n' => body.push_str("@&"),
            b'\r' => body.push_str("@#"),
            b'>' => body.push_str("@*"),
            b'<' => body.push_str("@!"),
            b'@' => body.push_str("@$"),
            _ => {
                let column = COLUMN[index % 64];
                let enc = std::iter::once(b'\t')
                    .chain(0x20u8..=0x7F)
                    .filter(|e| !matches!(e, b'<' | b'>' | b'@'))
                    .find(|&e| match e {
                        b'\t' => TAB[column] == c,
                        _ => TABLE[usize::from(e - 0x20)][column] == c,
                    })
                    .unwrap_or_else(|| panic!("no encoding for {c:#x} in column {column}"));
                body.push(char::from(enc));
            }
        }
    }
    format!("#@~^AAAAAA=={body}AAAAAA==^#~@")
}

/// `{BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC}` as stored.
pub const FILE_DATA_GUID: [u8; 16] = [
    0xE7, 0x16, 0xE3, 0xBD, 0x65, 0x26, 0x11, 0x45, 0xA4, 0xC4, 0x8D, 0x4D, 0x0B, 0x7A, 0x9E, 0xAC,
];

/// A OneNote-like section: the file GUID header, filler, then one FileDataStoreObject per file.
pub fn onenote(files: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![
        0xE4, 0x52, 0x5C, 0x7B, 0x8C, 0xD8, 0xA7, 0x4D, 0xAE, 0xB1, 0x53, 0x78, 0xD0, 0x29, 0x96,
        0xD3,
    ];
    out.extend_from_slice(&[0u8; 0x400 - 16]);
    for f in files {
        out.extend_from_slice(&FILE_DATA_GUID);
        out.extend_from_slice(&(f.len() as u64).to_le_bytes());
        out.extend_from_slice(&[0u8; 12]);
        out.extend_from_slice(f);
        out.extend_from_slice(&[0u8; 8]);
        // Footer GUID {71FBA722-0F79-4A0B-BB13-899256426B24}.
        out.extend_from_slice(&[
            0x22, 0xA7, 0xFB, 0x71, 0x79, 0x0F, 0x0B, 0x4A, 0xBB, 0x13, 0x89, 0x92, 0x56, 0x42,
            0x6B, 0x24,
        ]);
    }
    out
}

/// A PE32 header: DOS stub, COFF header, optional header with 16 data directories (the CLR
/// one set when `dotnet`), one section header. Enough for every header reader.
pub fn pe(dll: bool, dotnet: bool) -> Vec<u8> {
    let mut out = vec![0u8; 0x80];
    out[0] = b'M';
    out[1] = b'Z';
    out[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    out.extend_from_slice(b"PE\0\0");
    out.extend_from_slice(&0x14Cu16.to_le_bytes()); // i386
    out.extend_from_slice(&1u16.to_le_bytes()); // sections
    out.extend_from_slice(&0x6500_0000u32.to_le_bytes()); // timestamp
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&224u16.to_le_bytes()); // optional header size
    let ch: u16 = 0x0102 | if dll { 0x2000 } else { 0 };
    out.extend_from_slice(&ch.to_le_bytes());
    let mut opt = vec![0u8; 224];
    opt[0..2].copy_from_slice(&0x10Bu16.to_le_bytes());
    opt[92..96].copy_from_slice(&16u32.to_le_bytes());
    if dotnet {
        opt[96 + 14 * 8..96 + 14 * 8 + 4].copy_from_slice(&0x2008u32.to_le_bytes());
        opt[96 + 14 * 8 + 4..96 + 15 * 8].copy_from_slice(&0x48u32.to_le_bytes());
    }
    out.extend_from_slice(&opt);
    let mut section = b".text\0\0\0".to_vec();
    section.extend_from_slice(&[0u8; 32]);
    out.extend_from_slice(&section);
    out.resize(0x400, 0);
    out
}

/// A zip holding `files` (stored).
pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in files {
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        w.start_file(*name, opts)
            .unwrap_or_else(|e| panic!("zip: {e}"));
        w.write_all(data).unwrap_or_else(|e| panic!("zip: {e}"));
    }
    w.finish()
        .unwrap_or_else(|e| panic!("zip: {e}"))
        .into_inner()
}

/// Standard base64 (the tests' own, so that the crate's decoder is checked against it).
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// An ISO 9660 image holding `files`, built in memory, without the unused zero tail.
pub fn iso_of(files: Vec<(&str, Vec<u8>)>) -> Vec<u8> {
    use hadris_iso::read::PathSeparator;
    use hadris_iso::write::options::{CreationFeatures, IsoFormatOptions};
    use hadris_iso::write::{File as IsoFile, InputFiles, IsoImageWriter};
    use std::sync::Arc;
    let files = InputFiles {
        path_separator: PathSeparator::ForwardSlash,
        files: files
            .into_iter()
            .map(|(name, contents)| IsoFile::File {
                name: Arc::new(name.to_string()),
                contents,
            })
            .collect(),
    };
    let options = IsoFormatOptions {
        volume_name: "DOCUMENT".to_string(),
        system_id: None,
        volume_set_id: None,
        publisher_id: None,
        preparer_id: None,
        application_id: None,
        sector_size: 2048,
        path_separator: PathSeparator::ForwardSlash,
        features: CreationFeatures::default(),
        strict_charset: false,
    };
    let mut buffer = std::io::Cursor::new(vec![0u8; 1 << 20]);
    IsoImageWriter::create(&mut buffer, files, options).unwrap_or_else(|e| panic!("iso: {e:?}"));
    let mut iso = buffer.into_inner();
    while iso.len() > 64 * 2048 && iso[iso.len() - 2048..].iter().all(|&b| b == 0) {
        iso.truncate(iso.len() - 2048);
    }
    iso
}
