//! Type sniffing, digests, file-name tricks and body passwords, through the public API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use analysis::parsers::{sniff, ssdeep, tlsh};
use analysis::{Engine, Input, Kind};
use std::io::{Cursor, Write};

fn pe() -> Vec<u8> {
    let mut d = vec![0u8; 0x200];
    d[0] = b'M';
    d[1] = b'Z';
    d[0x3C] = 0x80;
    d[0x80..0x84].copy_from_slice(b"PE\0\0");
    d
}

fn zip_with(names: &[&str]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for n in names {
        w.start_file(*n, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(b"<x/>").unwrap();
    }
    w.finish().unwrap().into_inner()
}

fn ole_with(streams: &[&str]) -> Vec<u8> {
    let mut c = cfb::CompoundFile::create(Cursor::new(Vec::new())).unwrap();
    for s in streams {
        c.create_stream(format!("/{s}"))
            .unwrap()
            .write_all(b"data")
            .unwrap();
    }
    c.flush().unwrap();
    c.into_inner().into_inner()
}

#[test]
fn magic_bytes_decide_binary_kinds() {
    let mut iso = vec![0u8; 0x9000];
    iso[0x8001..0x8006].copy_from_slice(b"CD001");
    let mut tar = vec![0u8; 512];
    tar[257..262].copy_from_slice(b"ustar");
    let mut fat = vec![0u8; 512];
    fat[0] = 0xEB;
    fat[0x36..0x39].copy_from_slice(b"FAT");
    fat[510..512].copy_from_slice(b"\x55\xAA");
    let cases: Vec<(Vec<u8>, Kind)> = vec![
        (b"7z\xBC\xAF\x27\x1C\x00\x04".to_vec(), Kind::SevenZip),
        (b"Rar!\x1A\x07\x00xx".to_vec(), Kind::Rar),
        (b"\x1F\x8B\x08\x00".to_vec(), Kind::Gzip),
        (b"BZh91AY&SY".to_vec(), Kind::Bzip2),
        (b"\xFD7zXZ\x00\x00".to_vec(), Kind::Xz),
        (tar, Kind::Tar),
        (iso.clone(), Kind::Iso),
        (fat, Kind::Img),
        (b"MSCF\x00\x00\x00\x00rest".to_vec(), Kind::Cab),
        (b"{\\rtf1\\ansi".to_vec(), Kind::Rtf),
        (b"{\\rt\\ansi".to_vec(), Kind::Rtf),
        (b"junk before\n%PDF-1.7\n".to_vec(), Kind::Pdf),
        (
            b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xC0\x00\x00\x00\x00\x00\x00F".to_vec(),
            Kind::Lnk,
        ),
        (
            b"\xE4\x52\x5C\x7B\x8C\xD8\xA7\x4D\xAE\xB1\x53\x78\xD0\x29\x96\xD3".to_vec(),
            Kind::OneNote,
        ),
        (pe(), Kind::Pe),
        (b"\x7FELF\x02\x01\x01".to_vec(), Kind::Elf),
        (b"\xCF\xFA\xED\xFE\x07\x00".to_vec(), Kind::MachO),
        (b"\xCA\xFE\xBA\xBE\x00\x00\x00\x02".to_vec(), Kind::MachO),
        (b"\x89PNG\r\n\x1A\n\x00".to_vec(), Kind::Image),
        (b"\xFF\xD8\xFF\xE0".to_vec(), Kind::Image),
        (b"GIF89a".to_vec(), Kind::Image),
        (b"RIFF\x00\x00\x00\x00WEBPVP8".to_vec(), Kind::Image),
    ];
    for (data, want) in cases {
        assert_eq!(
            sniff(&data, Some("file.bin")),
            want,
            "{:?}",
            &data[..8.min(data.len())]
        );
    }
    // A Java class shares CAFEBABE with fat Mach-O but carries its version there.
    assert_ne!(
        sniff(b"\xCA\xFE\xBA\xBE\x00\x00\x00\x34", None),
        Kind::MachO
    );
    // MZ without a PE header is not a PE.
    assert_ne!(sniff(b"MZ is how this text starts", None), Kind::Pe);
    // The name never overrides magic.
    assert_eq!(sniff(&pe(), Some("invoice.pdf")), Kind::Pe);
    assert_eq!(sniff(&iso, Some("invoice.img")), Kind::Iso);
}

#[test]
fn zip_is_split_into_ooxml_by_part_names() {
    assert_eq!(
        sniff(
            &zip_with(&["[Content_Types].xml", "word/document.xml"]),
            None
        ),
        Kind::OoxmlWord
    );
    assert_eq!(
        sniff(&zip_with(&["[Content_Types].xml", "xl/workbook.xml"]), None),
        Kind::OoxmlExcel
    );
    assert_eq!(
        sniff(
            &zip_with(&["[Content_Types].xml", "ppt/presentation.xml"]),
            None
        ),
        Kind::OoxmlPpt
    );
    assert_eq!(sniff(&zip_with(&["word/document.xml"]), None), Kind::Zip);
    assert_eq!(
        sniff(&zip_with(&["META-INF/MANIFEST.MF"]), Some("a.jar")),
        Kind::Zip
    );
}

#[test]
fn ole_is_split_by_its_streams() {
    assert_eq!(sniff(&ole_with(&["WordDocument"]), None), Kind::OleDoc);
    assert_eq!(sniff(&ole_with(&["Workbook"]), None), Kind::OleXls);
    assert_eq!(sniff(&ole_with(&["Book"]), None), Kind::OleXls);
    assert_eq!(
        sniff(&ole_with(&["PowerPoint Document"]), None),
        Kind::OlePpt
    );
    assert_eq!(sniff(&ole_with(&["\u{4840}_Tables"]), None), Kind::Msi);
    assert_eq!(sniff(&ole_with(&["Other"]), None), Kind::Ole);
    // A truncated OLE header is still OLE, not a panic.
    assert_eq!(
        sniff(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\x00", None),
        Kind::Ole
    );
}

#[test]
fn text_kinds_come_from_markup_and_names() {
    let cases: &[(&[u8], Option<&str>, Kind)] = &[
        (
            b"<!DOCTYPE html><html><body>x</body></html>",
            None,
            Kind::Html,
        ),
        (
            b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\">",
            None,
            Kind::Svg,
        ),
        (b"<html><hta:application id=x>", None, Kind::Hta),
        (b"WScript.Echo 1", Some("a.vbs"), Kind::Vbs),
        (b"var a = 1;", Some("a.js"), Kind::Js),
        (b"#@~^XQAAAA==encoded", Some("a.jse"), Kind::Jse),
        (b"#@~^XQAAAA==encoded", Some("a.txt"), Kind::Vbe),
        (b"<job><script>x</script></job>", Some("a.wsf"), Kind::Wsf),
        (b"IEX (New-Object Net.WebClient)", Some("a.ps1"), Kind::Ps1),
        (b"@echo off", Some("a.BAT"), Kind::Bat),
        (b"@echo off", Some("a.cmd"), Kind::Cmd),
        (b"<html>", Some("a.hta"), Kind::Hta),
        (
            b"Received: from x\r\nFrom: a@b\r\nSubject: s\r\n\r\nbody <html>",
            None,
            Kind::Eml,
        ),
        (b"anything", Some("fwd.eml"), Kind::Eml),
        (b"just some words\nand lines\n", None, Kind::Text),
        ("h\u{e9}llo w\u{f6}rld".as_bytes(), None, Kind::Text),
        (b"\x00\x01\x02\x03\xFF\xFE\x00binary", None, Kind::Unknown),
        (b"", None, Kind::Unknown),
    ];
    for (data, name, want) in cases {
        assert_eq!(
            sniff(data, *name),
            *want,
            "{:?} {name:?}",
            String::from_utf8_lossy(data)
        );
    }
    // A script extension on binary content is not a script.
    assert_eq!(sniff(b"\x00\x01\x02\x03", Some("a.js")), Kind::Unknown);
}

#[test]
fn sniff_never_panics_on_prefixes_of_real_formats() {
    let mut samples = vec![
        pe(),
        zip_with(&["[Content_Types].xml", "word/a"]),
        ole_with(&["WordDocument"]),
    ];
    samples.push(b"\xCA\xFE\xBA\xBE".to_vec());
    for s in &samples {
        for cut in 0..s.len().min(700) {
            let _ = sniff(&s[..cut], Some("x.doc"));
        }
    }
}

#[test]
fn digests_match_known_values() {
    let r = Engine::with_defaults().analyze_object(Some("a.txt"), b"abc", &Input::default());
    let h = &r.artifacts[0].hashes;
    assert_eq!(h.md5, "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(h.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_eq!(
        h.sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(h.sha512.starts_with("ddaf35a193617abacc417349ae204131"));
    assert_eq!(h.sha512.len(), 128);
    assert_eq!(h.ssdeep, "3:uG:uG");
    assert_eq!(h.tlsh, None);
    assert_eq!(ssdeep(b""), "3::");
}

#[test]
fn tlsh_needs_fifty_varied_bytes_and_has_the_t1_prefix() {
    assert_eq!(tlsh(&[b'a'; 42]), None);
    assert_eq!(tlsh(&[0u8; 4096]), None);
    let text: Vec<u8> = (0..4096u32)
        .map(|i| b"the quick brown fox jumps over the lazy dog "[(i as usize * 7) % 44])
        .collect();
    let t = tlsh(&text).expect("varied text hashes");
    assert!(t.starts_with("T1"), "{t}");
    assert_eq!(t.len(), 72);
    assert!(
        t[2..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
    );
}

/// Reference values printed by Debian's `ssdeep -s -b` 2.14.1 and PyPI `py-tlsh` 5.0.0 for
/// the 10,000-byte pseudo-random file below (generator kept here so the value can be redone).
#[test]
fn fuzzy_digests_match_the_reference_tools() {
    let data = lcg(10_000);
    assert_eq!(
        ssdeep(&data),
        include_str!("fixtures/containers/lcg10000.ssdeep").trim()
    );
    assert_eq!(
        tlsh(&data).as_deref(),
        Some(include_str!("fixtures/containers/lcg10000.tlsh").trim())
    );
}

/// Deterministic bytes (numerical-recipes LCG, top byte), also written by `generate.sh`.
fn lcg(n: usize) -> Vec<u8> {
    let mut x: u32 = 12345;
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1664525).wrapping_add(1013904223);
            (x >> 24) as u8
        })
        .collect()
}

/// Throughput of each digest on 8 MiB (the digest crates are built at opt-level 2 even in the
/// dev profile). Prints MB/s; run with `--ignored --nocapture`.
#[test]
#[ignore]
fn digest_throughput() {
    use std::time::Instant;
    let data = lcg(8 << 20);
    let mb = data.len() as f64 / 1e6;
    let time = |label: &str, f: &dyn Fn(&[u8])| {
        let t = Instant::now();
        f(&data);
        println!("{label}: {:.0} MB/s", mb / t.elapsed().as_secs_f64());
    };
    use sha2::Digest;
    time("md5", &|d| {
        std::hint::black_box(md5::Md5::digest(d));
    });
    time("sha1", &|d| {
        std::hint::black_box(sha1::Sha1::digest(d));
    });
    time("sha256", &|d| {
        std::hint::black_box(sha2::Sha256::digest(d));
    });
    time("sha512", &|d| {
        std::hint::black_box(sha2::Sha512::digest(d));
    });
    time("ssdeep", &|d| {
        std::hint::black_box(ssdeep(d));
    });
    time("tlsh", &|d| {
        std::hint::black_box(tlsh(d));
    });
    time("all (analyze_object .bin)", &|d| {
        std::hint::black_box(Engine::with_defaults().analyze_object(
            Some("x.bin"),
            d,
            &Input::default(),
        ));
    });
}

#[test]
fn name_tricks_are_reported() {
    let engine = Engine::with_defaults();
    let tricks = |name: &str, data: &[u8]| {
        engine
            .analyze_object(Some(name), data, &Input::default())
            .artifacts[0]
            .name_tricks
            .clone()
    };
    let pe = pe();
    assert!(tricks("invoice.pdf.exe", &pe).contains(&"double-extension".into()));
    assert!(tricks("scan.doc.js", b"var a;").contains(&"double-extension".into()));
    assert!(tricks("invoice\u{202E}fdp.exe", &pe).contains(&"rtlo".into()));
    assert!(tricks("report\u{2066}.exe", &pe).contains(&"rtlo".into()));
    assert!(tricks("invoice.pdf          .exe", &pe).contains(&"whitespace-padding".into()));
    assert!(
        tricks("invoice\u{a0}\u{a0}\u{a0}\u{a0}\u{a0}.exe", &pe)
            .contains(&"whitespace-padding".into())
    );
    assert!(tricks("invoice.pdf", &pe).contains(&"type-mismatch".into()));
    assert!(tricks("invoice.pdf", &zip_with(&["a"])).contains(&"type-mismatch".into()));
    assert!(tricks("setup.exe", &pe).contains(&"executable-extension".into()));
    assert!(tricks(&format!("{}.txt", "a".repeat(201)), b"x").contains(&"long-name".into()));
    // Legitimate combinations stay clean.
    let docx = zip_with(&["[Content_Types].xml", "word/document.xml"]);
    assert!(tricks("report.docx", &docx).is_empty());
    // A jar is a zip (no mismatch) that runs code (executable extension).
    assert_eq!(
        tricks("app.jar", &zip_with(&["META-INF/MANIFEST.MF"])),
        vec!["executable-extension".to_string()]
    );
    assert!(tricks("notes.txt", b"plain words").is_empty());
    assert!(tricks("my.report.2024.pdf", b"%PDF-1.4").is_empty());
    let mut iso = vec![0u8; 0x9000];
    iso[0x8001..0x8006].copy_from_slice(b"CD001");
    assert!(!tricks("disk.img", &iso).contains(&"type-mismatch".into()));
    let r = engine.analyze_object(Some("invoice.pdf.exe"), &pe, &Input::default());
    assert!(
        r.findings
            .iter()
            .any(|f| f.signal == "name.double-extension")
    );
}

#[test]
fn body_passwords_in_several_languages_open_the_archive() {
    let cases = [
        ("Password: abc123", "abc123"),
        ("PASSWORD : \"Qw3rty!\".", "Qw3rty!"),
        ("the password is 4471", "4471"),
        ("pwd: x1", "x1"),
        ("PW: zz9", "zz9"),
        ("pass: p@ss", "p@ss"),
        ("Access code: 9911", "9911"),
        ("Wachtwoord: geheim1", "geheim1"),
        ("het wachtwoord is 'fact2024'", "fact2024"),
        ("Passwort: Rechnung7", "Rechnung7"),
        ("Kennwort lautet 5566", "5566"),
        ("Mot de passe : facture88", "facture88"),
        ("Contraseña: pago11", "pago11"),
        ("Senha: boleto22", "boleto22"),
        ("parola d'ordine: fattura3", "fattura3"),
    ];
    for (sentence, password) in cases {
        let zip = {
            let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
            let opts = zip::write::SimpleFileOptions::default()
                .with_aes_encryption(zip::AesMode::Aes256, password);
            w.start_file("a.js", opts).unwrap();
            w.write_all(b"WScript.Echo(1);").unwrap();
            w.finish().unwrap().into_inner()
        };
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&zip);
        let raw = format!(
            "From: a@b.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\r\nHello,\r\n{sentence}\r\n--b\r\n\
             Content-Type: application/zip\r\nContent-Disposition: attachment; filename=a.zip\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
        );
        let r = Engine::with_defaults().analyze(raw.as_bytes(), &Input::default());
        let js = r
            .artifacts
            .iter()
            .find(|a| a.name.as_deref() == Some("a.js"));
        assert_eq!(
            js.and_then(|a| a.password.as_deref()),
            Some(password),
            "{sentence}: {:#?}",
            r.findings
        );
    }
}
