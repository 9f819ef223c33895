//! Builders of small Office documents for the office tests and for
//! `examples/make_office_fixtures.rs`: VBA projects (MS-OVBA), .doc/.xls-like compound files,
//! OOXML packages, RTF with OLE1 objects. Each is complete enough for oletools to parse it too.
#![allow(dead_code)]

use std::io::{Cursor, Write};

/// MS-OVBA compression with literal tokens only: full 4096-byte pieces as raw chunks, the rest
/// as compressed chunks of flag byte 0x00 + up to 8 literals. Any conforming decompressor
/// accepts it.
pub fn compress(data: &[u8]) -> Vec<u8> {
    let mut out = vec![1u8];
    for piece in data.chunks(4096) {
        if piece.len() == 4096 || piece.len() > 3600 {
            let size = 4096 + 2;
            out.extend_from_slice(&(((size - 3) as u16) | 0x3000).to_le_bytes());
            out.extend_from_slice(piece);
            continue;
        }
        let mut body = Vec::new();
        for group in piece.chunks(8) {
            body.push(0);
            body.extend_from_slice(group);
        }
        let size = body.len() + 2;
        out.extend_from_slice(&(((size - 3) as u16) | 0xB000).to_le_bytes());
        out.extend_from_slice(&body);
    }
    out
}

fn record(out: &mut Vec<u8>, id: u16, data: &[u8]) {
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// The uncompressed `dir` stream (MS-OVBA 2.3.4.2) for document modules named `modules`.
pub fn dir_stream(modules: &[&str]) -> Vec<u8> {
    let mut d = Vec::new();
    record(&mut d, 0x0001, &1u32.to_le_bytes());
    record(&mut d, 0x0002, &0x409u32.to_le_bytes());
    record(&mut d, 0x0014, &0x409u32.to_le_bytes());
    record(&mut d, 0x0003, &1252u16.to_le_bytes());
    record(&mut d, 0x0004, b"Project");
    record(&mut d, 0x0005, b"");
    record(&mut d, 0x0040, b"");
    record(&mut d, 0x0006, b"");
    record(&mut d, 0x003D, b"");
    record(&mut d, 0x0007, &0u32.to_le_bytes());
    record(&mut d, 0x0008, &0u32.to_le_bytes());
    // PROJECTVERSION: the size field is 4 but 6 bytes of version follow it.
    d.extend_from_slice(&0x0009u16.to_le_bytes());
    d.extend_from_slice(&4u32.to_le_bytes());
    d.extend_from_slice(&1u32.to_le_bytes());
    d.extend_from_slice(&0u16.to_le_bytes());
    record(&mut d, 0x000C, b"");
    record(&mut d, 0x003C, b"");
    record(&mut d, 0x000F, &(modules.len() as u16).to_le_bytes());
    record(&mut d, 0x0013, &0xFFFFu16.to_le_bytes());
    for m in modules {
        record(&mut d, 0x0019, m.as_bytes());
        record(&mut d, 0x0047, &utf16(m));
        record(&mut d, 0x001A, m.as_bytes());
        record(&mut d, 0x0032, &utf16(m));
        record(&mut d, 0x001C, b"");
        record(&mut d, 0x0048, b"");
        record(&mut d, 0x0031, &0u32.to_le_bytes());
        record(&mut d, 0x001E, &0u32.to_le_bytes());
        record(&mut d, 0x002C, &0xFFFFu16.to_le_bytes());
        record(&mut d, 0x0022, b"");
        record(&mut d, 0x002B, b"");
    }
    record(&mut d, 0x0010, b"");
    d
}

type Cfb = cfb::CompoundFile<Cursor<Vec<u8>>>;

fn new_cfb() -> Cfb {
    cfb::CompoundFile::create(Cursor::new(Vec::new())).expect("create cfb")
}

fn put(cf: &mut Cfb, path: &str, data: &[u8]) {
    let mut s = cf.create_stream(path).expect("create stream");
    s.write_all(data).expect("write stream");
}

fn finish(cf: Cfb) -> Vec<u8> {
    let mut cf = cf;
    cf.flush().expect("flush cfb");
    cf.into_inner().into_inner()
}

/// Writes a VBA project (`PROJECT`, `VBA/dir`, `VBA/_VBA_PROJECT`, one stream per module)
/// under `root` ("" for the root storage, as in `vbaProject.bin`; "/Macros" in a .doc).
fn put_project(cf: &mut Cfb, root: &str, modules: &[(&str, &str)]) {
    if !root.is_empty() {
        cf.create_storage(root).expect("storage");
    }
    cf.create_storage(format!("{root}/VBA")).expect("storage");
    let names: Vec<&str> = modules.iter().map(|m| m.0).collect();
    let mut project = String::from("ID=\"{00000000-0000-0000-0000-000000000000}\"\r\n");
    for n in &names {
        project.push_str(&format!("Document={n}/&H00000000\r\n"));
    }
    project.push_str("Name=\"Project\"\r\n");
    put(cf, &format!("{root}/PROJECT"), project.as_bytes());
    put(
        cf,
        &format!("{root}/VBA/_VBA_PROJECT"),
        &[0xCC, 0x61, 0xFF, 0xFF, 0, 0, 0],
    );
    put(
        cf,
        &format!("{root}/VBA/dir"),
        &compress(&dir_stream(&names)),
    );
    for (name, code) in modules {
        let code = code.replace('\n', "\r\n");
        put(
            cf,
            &format!("{root}/VBA/{name}"),
            &compress(code.as_bytes()),
        );
    }
}

/// A minimal Word FIB (FibBase) followed by `text`; `encrypted` sets `fEncrypted`.
fn word_document(text: &[u8], encrypted: bool) -> Vec<u8> {
    let mut w = vec![0u8; 0x200];
    w[0..2].copy_from_slice(&0xA5ECu16.to_le_bytes());
    w[2..4].copy_from_slice(&0x00C1u16.to_le_bytes());
    if encrypted {
        w[0x0A..0x0C].copy_from_slice(&0x0100u16.to_le_bytes());
    }
    w.extend_from_slice(text);
    w
}

/// A .doc-like compound file with a VBA project under `Macros`.
pub fn doc_with_macros(modules: &[(&str, &str)]) -> Vec<u8> {
    let mut cf = new_cfb();
    put(&mut cf, "/WordDocument", &word_document(b"Hello", false));
    put(&mut cf, "/1Table", &[0u8; 64]);
    put_project(&mut cf, "/Macros", modules);
    finish(cf)
}

/// A .doc-like compound file whose text holds a field with instruction `field`.
pub fn doc_with_field(field: &str, encrypted: bool) -> Vec<u8> {
    let mut text = b"Dear customer \x13 ".to_vec();
    text.extend_from_slice(field.as_bytes());
    text.extend_from_slice(b" \x14result\x15 thanks");
    let mut cf = new_cfb();
    put(&mut cf, "/WordDocument", &word_document(&text, encrypted));
    put(&mut cf, "/1Table", &[0u8; 64]);
    finish(cf)
}

/// `vbaProject.bin` as found in .docm/.xlsm.
pub fn vba_project_bin(modules: &[(&str, &str)]) -> Vec<u8> {
    let mut cf = new_cfb();
    put_project(&mut cf, "", modules);
    finish(cf)
}

/// Package native data (the Packager format) wrapping `name` with `data`.
pub fn package_native(name: &str, data: &[u8]) -> Vec<u8> {
    let temp = format!("C:\\Users\\user\\AppData\\Local\\Temp\\{name}");
    let mut p = 2u16.to_le_bytes().to_vec();
    p.extend_from_slice(name.as_bytes());
    p.push(0);
    p.extend_from_slice(format!("C:\\Users\\user\\Desktop\\{name}").as_bytes());
    p.push(0);
    p.extend_from_slice(&0x0003_0000u32.to_le_bytes());
    p.extend_from_slice(&((temp.len() + 1) as u32).to_le_bytes());
    p.extend_from_slice(temp.as_bytes());
    p.push(0);
    p.extend_from_slice(&(data.len() as u32).to_le_bytes());
    p.extend_from_slice(data);
    p
}

/// An embedded OLE object (`oleObject1.bin`) holding a Packager file in `\x01Ole10Native`.
pub fn ole_package(name: &str, data: &[u8]) -> Vec<u8> {
    let native = package_native(name, data);
    let mut stream = (native.len() as u32).to_le_bytes().to_vec();
    stream.extend_from_slice(&native);
    let mut cf = new_cfb();
    put(&mut cf, "/\u{1}Ole10Native", &stream);
    finish(cf)
}

/// An encrypted OOXML document: a compound file with `EncryptionInfo` + `EncryptedPackage`.
pub fn encrypted_ooxml() -> Vec<u8> {
    let mut info = vec![4, 0, 4, 0, 0x40, 0, 0, 0];
    info.extend_from_slice(b"<?xml version=\"1.0\"?><encryption/>");
    let mut package = 4096u64.to_le_bytes().to_vec();
    package.extend_from_slice(&[0x5Au8; 4096]);
    let mut cf = new_cfb();
    put(&mut cf, "/EncryptionInfo", &info);
    put(&mut cf, "/EncryptedPackage", &package);
    finish(cf)
}

fn biff(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&(body.len() as u16).to_le_bytes());
    out.extend_from_slice(body);
}

fn boundsheet(out: &mut Vec<u8>, name: &str, state: u8, sheet_type: u8) {
    let mut b = 0u32.to_le_bytes().to_vec();
    b.push(state);
    b.push(sheet_type);
    b.push(name.len() as u8);
    b.push(0);
    b.extend_from_slice(name.as_bytes());
    biff(out, 0x0085, &b);
}

/// An .xls-like compound file whose workbook declares an Excel 4 macro sheet (hidden).
pub fn xls_with_macro_sheet(encrypted: bool) -> Vec<u8> {
    let bof = |dt: u16| {
        let mut b = 0x0600u16.to_le_bytes().to_vec();
        b.extend_from_slice(&dt.to_le_bytes());
        b.extend_from_slice(&[0u8; 12]);
        b
    };
    let mut w = Vec::new();
    biff(&mut w, 0x0809, &bof(0x0005));
    if encrypted {
        biff(&mut w, 0x002F, &[0, 0]);
    }
    boundsheet(&mut w, "Sheet1", 0, 0);
    boundsheet(&mut w, "Macro1", 1, 1);
    biff(&mut w, 0x000A, &[]);
    biff(&mut w, 0x0809, &bof(0x0010));
    biff(&mut w, 0x000A, &[]);
    biff(&mut w, 0x0809, &bof(0x0040));
    biff(&mut w, 0x000A, &[]);
    let mut cf = new_cfb();
    put(&mut cf, "/Workbook", &w);
    finish(cf)
}

/// A zip package with the given parts.
pub fn ooxml(parts: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, data) in parts {
        zip.start_file(*name, options).expect("zip entry");
        zip.write_all(data).expect("zip write");
    }
    zip.finish().expect("zip finish").into_inner()
}

const W_NS: &str = "http://schemas.openxmlformats.org/wordprocessingml/2006/main";
const R_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";

fn content_types(main: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Types xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"><Default Extension=\"rels\" ContentType=\"application/vnd.openxmlformats-package.relationships+xml\"/><Default Extension=\"xml\" ContentType=\"application/xml\"/><Default Extension=\"bin\" ContentType=\"application/vnd.ms-office.vbaProject\"/><Override PartName=\"/word/document.xml\" ContentType=\"{main}\"/></Types>"
    )
}

const ROOT_RELS: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\"><Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument\" Target=\"word/document.xml\"/></Relationships>";

fn document(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"{W_NS}\" xmlns:r=\"{R_NS}\"><w:body>{body}</w:body></w:document>"
    )
}

fn rels(inner: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Relationships xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">{inner}</Relationships>"
    )
}

const DOCX_MAIN: &str =
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml";

/// A .docm: `word/vbaProject.bin` with `modules`.
pub fn docm(modules: &[(&str, &str)]) -> Vec<u8> {
    let vba = vba_project_bin(modules);
    let types = content_types("application/vnd.ms-word.document.macroEnabled.main+xml");
    let doc = document("<w:p><w:r><w:t>Enable content</w:t></w:r></w:p>");
    let doc_rels = rels(
        "<Relationship Id=\"rId9\" Type=\"http://schemas.microsoft.com/office/2006/relationships/vbaProject\" Target=\"vbaProject.bin\"/>",
    );
    ooxml(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", ROOT_RELS.as_bytes()),
        ("word/document.xml", doc.as_bytes()),
        ("word/_rels/document.xml.rels", doc_rels.as_bytes()),
        ("word/vbaProject.bin", &vba),
    ])
}

/// A .docx whose settings load a remote template (`attachedTemplate`, `TargetMode="External"`).
pub fn docx_remote_template(url: &str) -> Vec<u8> {
    let types = content_types(DOCX_MAIN);
    let doc = document("<w:p><w:r><w:t>Loading...</w:t></w:r></w:p>");
    let settings = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:settings xmlns:w=\"{W_NS}\" xmlns:r=\"{R_NS}\"><w:attachedTemplate r:id=\"rId1\"/></w:settings>"
    );
    let settings_rels = rels(&format!(
        "<Relationship Id=\"rId1\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/attachedTemplate\" Target=\"{url}\" TargetMode=\"External\"/>"
    ));
    let doc_rels = rels(
        "<Relationship Id=\"rId2\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/settings\" Target=\"settings.xml\"/><Relationship Id=\"rId3\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink\" Target=\"https://help.example.org/faq\" TargetMode=\"External\"/>",
    );
    ooxml(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", ROOT_RELS.as_bytes()),
        ("word/document.xml", doc.as_bytes()),
        ("word/_rels/document.xml.rels", doc_rels.as_bytes()),
        ("word/settings.xml", settings.as_bytes()),
        ("word/_rels/settings.xml.rels", settings_rels.as_bytes()),
    ])
}

/// A .docx with a DDEAUTO complex field split over two `w:instrText` runs.
pub fn docx_dde(first: &str, second: &str) -> Vec<u8> {
    let types = content_types(DOCX_MAIN);
    let doc = document(&format!(
        "<w:p><w:r><w:fldChar w:fldCharType=\"begin\"/></w:r><w:r><w:instrText xml:space=\"preserve\">{first}</w:instrText></w:r><w:r><w:instrText xml:space=\"preserve\">{second}</w:instrText></w:r><w:r><w:fldChar w:fldCharType=\"separate\"/></w:r><w:r><w:t>x</w:t></w:r><w:r><w:fldChar w:fldCharType=\"end\"/></w:r></w:p>"
    ));
    ooxml(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", ROOT_RELS.as_bytes()),
        ("word/document.xml", doc.as_bytes()),
    ])
}

/// A .docx embedding a Packager object (`word/embeddings/oleObject1.bin`).
pub fn docx_embedded_package(name: &str, data: &[u8]) -> Vec<u8> {
    let types = content_types(DOCX_MAIN);
    let doc = document("<w:p><w:r><w:t>Double-click the icon</w:t></w:r></w:p>");
    let doc_rels = rels(
        "<Relationship Id=\"rId5\" Type=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships/oleObject\" Target=\"embeddings/oleObject1.bin\"/>",
    );
    let ole = ole_package(name, data);
    ooxml(&[
        ("[Content_Types].xml", types.as_bytes()),
        ("_rels/.rels", ROOT_RELS.as_bytes()),
        ("word/document.xml", doc.as_bytes()),
        ("word/_rels/document.xml.rels", doc_rels.as_bytes()),
        ("word/embeddings/oleObject1.bin", &ole),
    ])
}

/// An OLE1 embedded object (MS-OLEDS 2.2.4) of class `class` with `native` data.
pub fn ole1_object(class: &str, native: &[u8]) -> Vec<u8> {
    let mut o = 0x0000_0501u32.to_le_bytes().to_vec();
    o.extend_from_slice(&2u32.to_le_bytes());
    o.extend_from_slice(&((class.len() + 1) as u32).to_le_bytes());
    o.extend_from_slice(class.as_bytes());
    o.push(0);
    o.extend_from_slice(&0u32.to_le_bytes());
    o.extend_from_slice(&0u32.to_le_bytes());
    o.extend_from_slice(&(native.len() as u32).to_le_bytes());
    o.extend_from_slice(native);
    o
}

/// An RTF document with one `\object` whose `\objdata` hex is broken up by `junk` every 16
/// digits (obfuscation such as whitespace or `{\*\x}` groups).
pub fn rtf_object(class: &str, native: &[u8], junk: &str) -> Vec<u8> {
    let hex: String = ole1_object(class, native)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut spread = String::new();
    for (i, c) in hex.chars().enumerate() {
        if i > 0 && i % 16 == 0 {
            spread.push_str(junk);
        }
        spread.push(c);
    }
    format!(
        "{{\\rtf1\\ansi{{\\fonttbl{{\\f0 Arial;}}}}\\pard Invoice attached\\par{{\\object\\objemb{{\\*\\objclass {class}}}\\objw380\\objh260{{\\*\\objdata {spread}}}}}}}"
    )
    .into_bytes()
}
