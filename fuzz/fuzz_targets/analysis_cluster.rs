//! Fuzz clustering on hostile mail: the report's features, keys, profile and the decision.
//! Checks beyond "no panic": keys are deterministic and absorbing or merging keeps the
//! profile bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "shared/mail_parser_asserts.rs"]
mod mail_parser_asserts;
use std::sync::LazyLock;

static ENGINE: LazyLock<analysis::Engine> = LazyLock::new(analysis::Engine::with_defaults);

fuzz_target!(|data: &[u8]| {
    mail_parser_asserts::let_debug_asserts_unwind();
    use analysis::cluster;
    let report = ENGINE.analyze(data, &analysis::Input::default());
    let f = cluster::features(&report, None);
    assert_eq!(cluster::keys(&f), cluster::keys(&f));
    let mut p = cluster::new_profile(&f);
    for _ in 0..3 {
        cluster::absorb(&mut p, &f);
    }
    let other = cluster::new_profile(&f);
    cluster::merge_profiles(&mut p, &other);
    assert!(p.minhashes.len() <= cluster::MAX_EXEMPLARS);
    let _ = cluster::decide(&f, &[(1, &p)], &cluster::Thresholds::default());
    let _ = cluster::score(&f, &p);
});
