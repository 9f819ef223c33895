//! Fuzz one parser of the analysis: any bytes forced through the bzip2 stream parser (kind
//! `Bzip2`, concatenated streams decoded as one), with the child it extracts analysed
//! recursively. Checks: no panic, limits respected, the one child within the bomb bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static ENGINE: LazyLock<analysis::Engine> = LazyLock::new(analysis::Engine::with_defaults);

fuzz_target!(|data: &[u8]| {
    let report = ENGINE.analyze_object_as(analysis::Kind::Bzip2, data);
    let limits = ENGINE.limits();
    assert!(report.artifacts.len() <= limits.max_objects as usize);
    assert!(report.artifacts.iter().all(|a| a.depth <= limits.max_depth));
    // A bzip2 stream has one member: at most one direct child, never larger than the
    // per-object limit, nor than the ratio allows once past the 1 MiB floor.
    let children: Vec<_> = report
        .artifacts
        .iter()
        .filter(|a| a.parent == Some(0))
        .collect();
    assert!(children.len() <= 1);
    for c in children {
        assert!(c.size <= limits.max_object_bytes);
        assert!(c.size <= (data.len() as u64 * limits.max_ratio).max(1 << 20));
    }
});
