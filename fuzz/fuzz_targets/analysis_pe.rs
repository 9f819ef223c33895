//! Fuzz one parser of the analysis: any bytes forced through the PE header reader
//! (`crates/analysis/src/exe.rs`, kind `Pe`). Checks: no panic, the report serialises, the
//! sample stays one object, and a header is either read (`pe.header`) or recorded as
//! malformed, never both, and never read without `MZ`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static ENGINE: LazyLock<analysis::Engine> = LazyLock::new(analysis::Engine::with_defaults);

fuzz_target!(|data: &[u8]| {
    let report = ENGINE.analyze_object_as(analysis::Kind::Pe, data);
    // The PE reader extracts nothing: the sample stays the only artefact.
    assert_eq!(report.artifacts.len(), 1);
    assert_eq!(report.artifacts[0].kind, "pe");
    let read = report.findings.iter().any(|f| f.signal == "pe.header");
    let malformed = report
        .anomalies
        .iter()
        .any(|a| a.detail.starts_with("pe: MZ without"));
    assert_ne!(read, malformed);
    assert!(!read || data.starts_with(b"MZ"));
    assert!(serde_json::to_string(&report).is_ok());
});
