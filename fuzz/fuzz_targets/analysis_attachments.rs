//! Fuzz `analysis::top_level_attachments` (the attachments handed to MalwareBazaar): a whole
//! hostile mail, with small limits so that every bound is reached. Checks beyond "no panic"
//! (libFuzzer's panic hook aborts even inside the function's own `catch_unwind`): at most
//! `max_count` attachments, none empty, none over `max_bytes`, all within `max_total_bytes`,
//! and the default limits, when their count limit is not reached, return every attachment
//! the tight ones did.
//!
//! mail-parser's debug assertions are let through to the function's own `catch_unwind`
//! (`shared/mail_parser_asserts.rs`).
#![no_main]

use analysis::{AttachmentLimits, top_level_attachments};
use libfuzzer_sys::fuzz_target;
#[path = "shared/mail_parser_asserts.rs"]
mod mail_parser_asserts;

const SMALL: AttachmentLimits = AttachmentLimits {
    max_count: 3,
    max_bytes: 512,
    max_total_bytes: 1024,
};

fuzz_target!(|data: &[u8]| {
    mail_parser_asserts::let_debug_asserts_unwind();
    let small = top_level_attachments(data, SMALL);
    assert!(small.len() <= SMALL.max_count);
    let mut total = 0usize;
    for (_, bytes) in &small {
        assert!(!bytes.is_empty());
        assert!(bytes.len() <= SMALL.max_bytes);
        total += bytes.len();
    }
    assert!(total <= SMALL.max_total_bytes);
    // Looser limits never lose an attachment the tight ones returned.
    let loose = AttachmentLimits::default();
    let all = top_level_attachments(data, loose);
    if all.len() >= loose.max_count {
        return;
    }
    for a in &small {
        assert!(all.contains(a), "{:?} missing with the default limits", a.0);
    }
});
