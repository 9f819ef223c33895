//! Shared by the fuzz targets that parse whole mails (`#[path]`-included, not a target).
//!
//! mail-parser marks parser states it does not expect with `debug_assert!(false, ...)`.
//! cargo-fuzz builds every crate with debug assertions, so those fire under the fuzzer, while a
//! release build of spamhattan compiles them out and parses on (a debug build catches them as a
//! parser panic). libFuzzer's panic hook aborts even inside the engine's own `catch_unwind`, so
//! without this every target that reaches mail-parser would stop on them. Those panics, and
//! only those, are let through to the code's own `catch_unwind`; any other panic aborts as
//! libFuzzer's hook does. The first input that tripped one is the regression test
//! `attachments::tests::a_message_closed_inside_attached_messages_is_not_fatal`.

use std::sync::Once;

/// The messages of mail-parser 0.11's `debug_assert!(false, ...)` markers.
const MAIL_PARSER_DEBUG_ASSERTS: &[&str] = &[
    "Invalid part ID, could not find message.",
    "Failed to restore parent message. Aborting.",
    "Invalid part ID, could not find multipart.",
    "This should not have happened.",
    "String full while decoding.",
];

fn install() {
    let fuzzer_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("");
        let in_mail_parser = info
            .location()
            .is_some_and(|l| l.file().contains("/mail-parser-"));
        if in_mail_parser && MAIL_PARSER_DEBUG_ASSERTS.contains(&message) {
            return;
        }
        fuzzer_hook(info);
    }));
}

static HOOK: Once = Once::new();

/// Installs the hook once per process; call at the start of every fuzz input.
pub fn let_debug_asserts_unwind() {
    HOOK.call_once(install);
}
