//! Fuzz one parser of the analysis: any bytes forced through the gzip stream parser (kind `Gzip`),
//! with the children it extracts analysed recursively. Checks: no panic, limits respected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static ENGINE: LazyLock<analysis::Engine> = LazyLock::new(analysis::Engine::with_defaults);

fuzz_target!(|data: &[u8]| {
    let report = ENGINE.analyze_object_as(analysis::Kind::Gzip, data);
    let limits = ENGINE.limits();
    assert!(report.artifacts.len() <= limits.max_objects as usize);
    assert!(report.artifacts.iter().all(|a| a.depth <= limits.max_depth));
});
