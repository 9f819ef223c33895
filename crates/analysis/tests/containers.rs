//! Archives and disk images: entries extracted in memory, passwords, bomb limits, names.
//! Fixtures are built here with the writers of the crates the analysis reads with; the 7z ones
//! are committed under `fixtures/containers/` (see its `generate.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/documents.rs"]
mod documents;

use analysis::{Engine, EngineConfig, Input, Limits};
use base64::Engine as _;
use documents::iso_of;
use model::{AnomalyKind, Report};
use std::io::{Cursor, Write};
use zip::unstable::write::FileOptionsExt;
use zip::write::SimpleFileOptions;

/// The smallest header `sniff` accepts as PE: `MZ`, `e_lfanew`, `PE\0\0`.
fn pe() -> Vec<u8> {
    let mut d = vec![0u8; 0x200];
    d[..2].copy_from_slice(b"MZ");
    d[0x3C] = 0x80;
    d[0x80..0x84].copy_from_slice(b"PE\0\0");
    d
}
const JS: &[u8] = b"var s = new ActiveXObject('WScript.Shell'); s.Run('calc');\r\n";

fn object(name: &str, data: &[u8]) -> Report {
    Engine::with_defaults().analyze_object(Some(name), data, &Input::default())
}

fn with_limits(limits: Limits, name: &str, data: &[u8]) -> Report {
    let engine = Engine::new(EngineConfig {
        limits,
        ..EngineConfig::default()
    })
    .expect("engine");
    engine.analyze_object(Some(name), data, &Input::default())
}

fn has(r: &Report, signal: &str) -> bool {
    r.findings.iter().any(|f| f.signal == signal)
}

fn child<'r>(r: &'r Report, name: &str) -> &'r model::report::Artifact {
    r.artifacts
        .iter()
        .find(|a| a.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no artefact {name}: {:#?}", r.artifacts))
}

enum Crypt<'a> {
    None,
    ZipCrypto(&'a str),
    Aes(&'a str),
}

fn zip_of(entries: &[(&str, &[u8])], crypt: Crypt<'_>) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in entries {
        let base = SimpleFileOptions::default();
        let opts = match crypt {
            Crypt::None => base,
            Crypt::ZipCrypto(p) => base.with_deprecated_encryption(p.as_bytes()).unwrap(),
            Crypt::Aes(p) => base.with_aes_encryption(zip::AesMode::Aes256, p),
        };
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn plain_zip_entries_become_children_with_their_kind() {
    let z = zip_of(
        &[("invoice.pdf.exe", &pe()[..]), ("readme.txt", b"hello\n")],
        Crypt::None,
    );
    let r = object("invoice.zip", &z);
    assert_eq!(r.artifacts[0].kind, "zip");
    let exe = child(&r, "invoice.pdf.exe");
    assert_eq!(exe.kind, "pe");
    assert_eq!(exe.parent, Some(0));
    assert_eq!(exe.depth, 1);
    assert_eq!(exe.path, "invoice.zip/invoice.pdf.exe");
    assert!(exe.name_tricks.contains(&"double-extension".to_string()));
    assert!(has(&r, "attachment.executable-in-archive"));
    assert!(has(&r, "name.double-extension"));
    assert_eq!(child(&r, "readme.txt").size, 6);
}

#[test]
fn zipcrypto_entry_opens_with_a_default_password() {
    let z = zip_of(&[("run.js", JS)], Crypt::ZipCrypto("infected"));
    let r = object("a.zip", &z);
    let js = child(&r, "run.js");
    assert!(js.encrypted);
    assert_eq!(js.password.as_deref(), Some("infected"));
    assert_eq!(js.kind, "script-js");
    assert!(r.artifacts[0].encrypted);
    assert!(has(&r, "archive.password-default"));
    assert!(!has(&r, "archive.password-from-body"));
}

#[test]
fn aes_entry_opens_with_a_default_password() {
    let z = zip_of(&[("run.js", JS)], Crypt::Aes("malware"));
    let r = object("a.zip", &z);
    let js = child(&r, "run.js");
    assert_eq!(js.password.as_deref(), Some("malware"));
    assert_eq!(js.size, JS.len() as u64);
}

#[test]
fn encrypted_entry_without_known_password_is_flagged() {
    let z = zip_of(&[("run.js", JS)], Crypt::Aes("Unguessable-77"));
    let r = object("a.zip", &z);
    assert_eq!(r.artifacts.len(), 1);
    assert!(r.artifacts[0].encrypted);
    assert!(has(&r, "archive.encrypted"));
    assert!(has(&r, "attachment.encrypted") || r.artifacts[0].encrypted);
    assert!(
        r.anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::EncryptedContent)
    );
}

fn mail_with_zip(body: &str, zip: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(zip);
    let mut wrapped = String::new();
    for chunk in b64.as_bytes().chunks(76) {
        wrapped.push_str(std::str::from_utf8(chunk).unwrap());
        wrapped.push_str("\r\n");
    }
    format!(
        "From: billing@vendor.example\r\nTo: victim@trap.example\r\nSubject: invoice\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n\
         --b1\r\nContent-Type: application/zip; name=\"invoice.zip\"\r\n\
         Content-Disposition: attachment; filename=\"invoice.zip\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{wrapped}--b1--\r\n"
    )
    .into_bytes()
}

#[test]
fn mail_body_password_opens_the_attached_zip() {
    for crypt in [Crypt::ZipCrypto("abc123"), Crypt::Aes("abc123")] {
        let z = zip_of(&[("invoice.js", JS)], crypt);
        let raw = mail_with_zip("Your invoice is attached.\r\nPassword: abc123\r\n", &z);
        let r = Engine::with_defaults().analyze(&raw, &Input::default());
        let js = child(&r, "invoice.js");
        assert_eq!(js.password.as_deref(), Some("abc123"));
        assert!(js.encrypted);
        assert_eq!(js.kind, "script-js");
        assert!(has(&r, "archive.password-from-body"), "{:#?}", r.findings);
    }
}

#[test]
fn nested_zip_in_zip_is_walked_to_depth_two() {
    let inner = zip_of(&[("payload.js", JS)], Crypt::None);
    let outer = zip_of(&[("inner.zip", &inner)], Crypt::None);
    let r = object("outer.zip", &outer);
    let js = child(&r, "payload.js");
    assert_eq!(js.depth, 2);
    assert_eq!(js.path, "outer.zip/inner.zip/payload.js");
    assert!(has(&r, "attachment.script-in-archive"));
}

#[test]
fn high_ratio_entry_is_a_bomb_and_is_not_extracted() {
    let zeros = vec![0u8; 20 << 20];
    let z = zip_of(&[("zeros.bin", &zeros)], Crypt::None);
    assert!(z.len() < 100 << 10);
    let r = object("bomb.zip", &z);
    assert_eq!(r.artifacts.len(), 1, "{:#?}", r.artifacts);
    assert!(has(&r, "archive.bomb"));
    assert!(r.budget.limits_hit.iter().any(|l| l == "max_ratio"));
}

#[test]
fn entry_larger_than_max_object_bytes_is_skipped() {
    let data: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let z = zip_of(&[("big.bin", &data)], Crypt::None);
    let limits = Limits {
        max_object_bytes: 200_000,
        ..Limits::default()
    };
    let r = with_limits(limits, "big.zip", &z);
    assert_eq!(r.artifacts.len(), 1);
    assert!(has(&r, "archive.bomb"));
    assert!(r.budget.limits_hit.iter().any(|l| l == "max_object_bytes"));
}

#[test]
fn entries_past_max_entries_are_counted_not_extracted() {
    let names: Vec<String> = (0..8).map(|i| format!("f{i}.txt")).collect();
    let entries: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b"x"[..])).collect();
    let z = zip_of(&entries, Crypt::None);
    let limits = Limits {
        max_entries: 5,
        ..Limits::default()
    };
    let r = with_limits(limits, "many.zip", &z);
    assert_eq!(r.artifacts.len(), 6);
    assert!(r.budget.limits_hit.iter().any(|l| l == "max_entries"));
}

#[test]
fn traversal_names_are_kept_raw_and_flagged() {
    let z = zip_of(&[("../../Startup/evil.js", JS)], Crypt::None);
    let r = object("slip.zip", &z);
    assert!(child(&r, "../../Startup/evil.js").size > 0);
    assert!(has(&r, "archive.path-traversal"));
}

#[test]
fn gzip_bzip2_and_xz_yield_one_child_named_without_the_extension() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&pe()[..]).unwrap();
    let gz = gz.finish().unwrap();
    let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
    bz.write_all(&pe()[..]).unwrap();
    let bz = bz.finish().unwrap();
    let mut xz = lzma_rust2::XzWriter::new(Vec::new(), lzma_rust2::XzOptions::default()).unwrap();
    xz.write_all(&pe()[..]).unwrap();
    let xz = xz.finish().unwrap();
    for (name, data, kind) in [
        ("invoice.exe.gz", gz, "gzip"),
        ("invoice.exe.bz2", bz, "bzip2"),
        ("invoice.exe.xz", xz, "xz"),
    ] {
        let r = object(name, &data);
        assert_eq!(r.artifacts[0].kind, kind);
        let exe = child(&r, "invoice.exe");
        assert_eq!(exe.kind, "pe", "{name}");
        assert_eq!(exe.size, pe().len() as u64);
    }
}

#[test]
fn gzip_bomb_is_stopped_by_the_ratio() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 20 << 20]).unwrap();
    let gz = gz.finish().unwrap();
    let r = object("zeros.gz", &gz);
    assert_eq!(r.artifacts.len(), 1);
    assert!(has(&r, "archive.bomb"));
}

fn tar_of(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        // Written by hand: `set_path` refuses `..`, and hostile archives are what we test.
        let field = &mut h.as_old_mut().name;
        field[..name.len()].copy_from_slice(name);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn tar_entries_are_read_in_memory_with_raw_names() {
    let t = tar_of(&[(b"docs/scan.js", JS), (b"../up.txt", b"hi\n")]);
    let r = object("x.tar", &t);
    assert_eq!(r.artifacts[0].kind, "tar");
    assert_eq!(child(&r, "docs/scan.js").kind, "script-js");
    assert_eq!(child(&r, "../up.txt").size, 3);
    assert!(has(&r, "archive.path-traversal"));
}

#[test]
fn tar_gz_is_walked_through_both_layers() {
    let t = tar_of(&[(b"a.js", JS)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&t).unwrap();
    let r = object("bundle.tgz", &gz.finish().unwrap());
    assert_eq!(child(&r, "bundle.tar").kind, "tar");
    assert_eq!(child(&r, "a.js").depth, 2);
}

#[test]
fn sevenz_plain_and_encrypted_fixtures_open() {
    let plain = include_bytes!("fixtures/containers/plain.7z");
    let r = object("plain.7z", plain);
    assert_eq!(r.artifacts[0].kind, "7z");
    assert_eq!(child(&r, "payload.js").kind, "script-js");
    assert_eq!(child(&r, "readme.txt").kind, "text");

    let enc = include_bytes!("fixtures/containers/encrypted.7z");
    let r = object("enc.7z", enc);
    let js = child(&r, "payload.js");
    assert_eq!(js.password.as_deref(), Some("infected"));
    assert!(js.encrypted);
}

#[test]
fn sevenz_with_unknown_password_is_flagged_and_body_password_opens_it() {
    let secret = include_bytes!("fixtures/containers/secret.7z");
    let r = object("secret.7z", secret);
    assert_eq!(r.artifacts.len(), 1);
    assert!(has(&r, "archive.encrypted"));

    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let raw = format!(
        "From: a@b.example\r\nSubject: doc\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n\
         Het wachtwoord is Vx9-body-only.\r\n--b\r\nContent-Type: application/x-7z-compressed\r\n\
         Content-Disposition: attachment; filename=doc.7z\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {b64}\r\n--b--\r\n"
    );
    let r = Engine::with_defaults().analyze(raw.as_bytes(), &Input::default());
    assert_eq!(
        child(&r, "payload.js").password.as_deref(),
        Some("Vx9-body-only")
    );
    assert!(has(&r, "archive.password-from-body"));
}

#[test]
fn iso_files_are_extracted_without_version_suffix() {
    let iso = iso_of(vec![
        (
            "INVOICE.LNK",
            b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xC0\x00\x00\x00\x00\x00\x00F rest"
                .to_vec(),
        ),
        ("README.TXT", b"hello\n".to_vec()),
    ]);
    for name in ["invoice.iso", "invoice.img"] {
        let r = object(name, &iso);
        assert_eq!(r.artifacts[0].kind, "iso");
        let names: Vec<String> = r
            .artifacts
            .iter()
            .skip(1)
            .filter_map(|a| a.name.clone())
            .collect();
        assert!(
            names.iter().any(|n| n.eq_ignore_ascii_case("invoice.lnk")),
            "{names:?}"
        );
        assert!(
            names
                .iter()
                .all(|n| !n.contains(';') && n != "." && n != "..")
        );
        assert!(has(&r, "attachment.lnk"));
        assert!(has(&r, "attachment.disk-image"));
    }
}

#[test]
fn cab_files_are_extracted() {
    let mut builder = cab::CabinetBuilder::new();
    builder
        .add_folder(cab::CompressionType::MsZip)
        .add_file("setup.exe");
    let mut writer = builder.build(Cursor::new(Vec::new())).unwrap();
    while let Some(mut f) = writer.next_file().unwrap() {
        f.write_all(&pe()[..]).unwrap();
    }
    let c = writer.finish().unwrap().into_inner();
    let r = object("update.cab", &c);
    assert_eq!(r.artifacts[0].kind, "cab");
    assert_eq!(child(&r, "setup.exe").kind, "pe");
}

#[test]
fn rar_is_marked_unopened() {
    let mut rar = b"Rar!\x1A\x07\x01\x00".to_vec();
    rar.extend_from_slice(&[0x33; 64]);
    let r = object("x.rar", &rar);
    assert_eq!(r.artifacts[0].kind, "rar");
    assert!(
        r.findings
            .iter()
            .any(|f| f.signal == "archive.unopened" && f.detail.contains("rar"))
    );
}

#[test]
fn truncated_and_garbage_containers_become_anomalies() {
    let z = zip_of(&[("a.txt", &[b'a'; 5000])], Crypt::None);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("t.zip", z[..z.len() / 2].to_vec()),
        (
            "t.7z",
            include_bytes!("fixtures/containers/plain.7z")[..100].to_vec(),
        ),
        ("t.gz", b"\x1F\x8B\x08\x00garbage-after-header".to_vec()),
        ("t.xz", b"\xFD7zXZ\x00garbage".to_vec()),
        ("t.bz2", b"BZh9garbage".to_vec()),
        ("t.cab", b"MSCF\x00\x00\x00\x00garbage".to_vec()),
    ];
    for (name, data) in cases {
        let r = object(name, &data);
        assert!(
            r.anomalies
                .iter()
                .any(|a| a.kind == AnomalyKind::MalformedContent),
            "{name}: {:#?}",
            r.anomalies
        );
    }
}

#[test]
fn corrupted_containers_never_make_a_parser_panic() {
    let t = tar_of(&[(b"a.js", JS)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&t).unwrap();
    let samples: Vec<(&str, Vec<u8>)> = vec![
        (
            "a.zip",
            zip_of(&[("a.js", JS), ("b.txt", b"bbbb")], Crypt::None),
        ),
        ("e.zip", zip_of(&[("a.js", JS)], Crypt::Aes("infected"))),
        (
            "a.7z",
            include_bytes!("fixtures/containers/plain.7z").to_vec(),
        ),
        (
            "e.7z",
            include_bytes!("fixtures/containers/encrypted.7z").to_vec(),
        ),
        ("a.tgz", gz.finish().unwrap()),
        ("a.tar", t),
        (
            "a.iso",
            iso_of(vec![("A.TXT", b"hello".to_vec())])[..0x9000].to_vec(),
        ),
    ];
    let mut x: u32 = 7;
    for (name, data) in samples {
        for _ in 0..25 {
            let mut d = data.clone();
            for _ in 0..4 {
                x = x.wrapping_mul(1664525).wrapping_add(1013904223);
                let at = (x as usize >> 8) % d.len();
                d[at] ^= (x & 0xFF) as u8 | 1;
            }
            let r = object(name, &d);
            assert!(
                !r.anomalies
                    .iter()
                    .any(|a| a.kind == AnomalyKind::ParserPanic),
                "{name}: {:#?}",
                r.anomalies
            );
        }
    }
}

/// Regression (fuzz `analysis_cab`): cabinet tables that make the cab crate panic (a folder
/// without data blocks; a stored block shorter than it declares). The analysis must record malformed content, not a caught panic.
#[test]
fn fuzzed_cab_header_is_malformed_content_not_a_panic() {
    let data = base64::engine::general_purpose::STANDARD
        .decode("TVNDRgAAAAgAACwAAQBDMQAAAAAAAAAALAABAAEAAAAAAAABQ0QAAAAAAAAsAAFzc3MA+3Nz")
        .unwrap();
    let r = Engine::with_defaults().analyze_object_as(analysis::Kind::Cab, &data);
    assert!(
        !r.anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::ParserPanic),
        "{:?}",
        r.anomalies
    );
}
