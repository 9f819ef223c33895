//! Decoded headers, the Received chain and sender mismatches. (Stub: filled in by the headers work.)

use crate::walk::Walk;
use mail_parser::Message;
use model::report::Headers;

pub(crate) fn extract(_walk: &mut Walk<'_>, _msg: &Message<'_>) -> Headers {
    Headers::default()
}

/// Envelope-vs-header checks that need the whole report (runs after the MIME walk).
pub(crate) fn check_consistency(_walk: &mut Walk<'_>) {}
