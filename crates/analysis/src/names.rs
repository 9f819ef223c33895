//! File-name tricks. (Stub: filled in by the containers work.)

use crate::kind::Kind;
use crate::walk::Walk;

/// Tricks in a declared name: `double-extension`, `rtlo`, `whitespace-padding`, `type-mismatch`.
pub(crate) fn tricks(
    _name: Option<&str>,
    _declared_type: Option<&str>,
    _kind: Kind,
) -> Vec<String> {
    Vec::new()
}

/// Findings for the name tricks of the artefact at `index`.
pub(crate) fn findings(walk: &mut Walk<'_>, index: u32) {
    let tricks = walk.report.artifacts[index as usize].name_tricks.clone();
    for t in tricks {
        walk.finding(&format!("name.{t}"), format!("artifacts[{index}]"), "");
    }
}
