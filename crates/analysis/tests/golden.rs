//! Golden reports: every fixture mail in `tests/fixtures/mails/` (made by the
//! `make_fixture_mails` example) is analysed and its report compared with
//! `tests/golden/<name>.json`. The run-dependent parts (elapsed time, rule fingerprints) are
//! normalised. To accept a deliberate change: `UPDATE_GOLDEN=1 cargo test -p spamhattan-analysis
//! --test golden`, then review the diff. A mismatch writes `<name>.json.failed` next to the
//! golden file for `diff`.
//!
//! Only with YARA (the default build): YARA hits are part of the reports.
#![cfg(feature = "yara")]

use analysis::{Engine, Input};
use std::path::{Path, PathBuf};

/// The fixtures the issue asks for; the guard fails when one is missing or none ran.
const REQUIRED: [&str; 9] = [
    "zip-js-dropper",
    "macro-document",
    "iso-lnk",
    "html-smuggling",
    "password-zip",
    "rtlo-name",
    "dutch-invoice",
    "plain-phishing",
    "malformed-mime",
];

fn dir(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(sub)
}

fn normalised(report: &model::Report) -> String {
    let mut r = report.clone();
    r.budget.elapsed_us = 0;
    r.engine = "spamhattan (normalised)".to_string();
    let mut s = serde_json::to_string_pretty(&r).unwrap_or_default();
    s.push('\n');
    s
}

#[test]
fn fixture_mails_match_their_golden_reports() {
    let engine = Engine::with_defaults();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut ran = Vec::new();
    let mut failed = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir("fixtures/mails"))
        .expect("fixtures/mails exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let raw = std::fs::read(&path).expect("read fixture");
        let got = normalised(&engine.analyze(&raw, &Input::default()));
        let golden = dir("golden").join(format!("{name}.json"));
        if update {
            std::fs::write(&golden, &got).expect("write golden");
        } else {
            let want = std::fs::read_to_string(&golden).unwrap_or_default();
            let failed_path = golden.with_extension("json.failed");
            if want != got {
                std::fs::write(&failed_path, &got).expect("write .failed");
                failed.push(name.clone());
            } else {
                let _ = std::fs::remove_file(failed_path);
            }
        }
        ran.push(name);
    }
    for required in REQUIRED {
        assert!(
            ran.iter().any(|r| r == required),
            "fixture {required}.eml missing: regenerate with the make_fixture_mails example"
        );
    }
    assert!(
        failed.is_empty(),
        "reports differ from tests/golden for {failed:?}: diff tests/golden/NAME.json NAME.json.failed"
    );
}

/// What the fixtures are for, asserted directly (the golden files pin the details).
#[test]
fn fixture_verdicts_are_the_expected_classes() {
    let engine = Engine::with_defaults();
    let expect = [
        ("zip-js-dropper", "malware"),
        ("macro-document", "malware"),
        ("iso-lnk", "malware"),
        ("html-smuggling", "malware"),
        ("password-zip", "malware"),
        ("rtlo-name", "malware"),
        ("dutch-invoice", "phishing"),
        ("plain-phishing", "phishing"),
        ("malformed-mime", "spam"),
    ];
    for (name, class) in expect {
        let raw =
            std::fs::read(dir("fixtures/mails").join(format!("{name}.eml"))).expect("fixture");
        let r = engine.analyze(&raw, &Input::default());
        assert_eq!(r.verdict.class.as_str(), class, "{name}: {:#?}", r.verdict);
    }
}
