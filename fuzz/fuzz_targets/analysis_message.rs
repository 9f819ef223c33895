//! Fuzz the whole analysis of a mail: MIME walk, headers, bodies, URLs and every parser the
//! attachments reach. Checks beyond "no panic": the report serialises and its indices hold.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "shared/mail_parser_asserts.rs"]
mod mail_parser_asserts;
use std::sync::LazyLock;

static ENGINE: LazyLock<analysis::Engine> = LazyLock::new(analysis::Engine::with_defaults);

fuzz_target!(|data: &[u8]| {
    mail_parser_asserts::let_debug_asserts_unwind();
    let report = ENGINE.analyze(data, &analysis::Input::default());
    for (i, a) in report.artifacts.iter().enumerate() {
        assert_eq!(a.index as usize, i);
        assert!(a.parent.is_none_or(|p| (p as usize) < i));
    }
    assert!(serde_json::to_string(&report).is_ok());
});
