//! Dispatch by kind: each object goes to the parser for what it is, after hashing and scanning.

use crate::kind::Kind;
use crate::walk::Walk;

/// Inspects one object by kind. Every parser runs under `Walk::guard`, so a panic in one
/// becomes an anomaly and the rest of the report stands.
pub(crate) fn inspect(walk: &mut Walk<'_>, index: u32, kind: Kind, data: &[u8]) {
    let at = format!("artifacts[{index}]");
    kind_findings(walk, index, kind, &at);
    if kind.is_archive() {
        walk.guard(&at, "containers", |w| {
            crate::containers::expand(w, index, kind, data)
        });
    } else if kind.is_office() {
        walk.guard(&at, "office", |w| {
            crate::office::inspect(w, index, kind, data)
        });
    }
    match kind {
        Kind::Pdf => {
            walk.guard(&at, "pdf", |w| crate::pdf::inspect(w, index, data));
        }
        Kind::Lnk => {
            walk.guard(&at, "lnk", |w| crate::lnk::inspect(w, index, data));
        }
        Kind::Html | Kind::Svg | Kind::Hta => {
            walk.guard(&at, "html", |w| crate::html::inspect(w, index, data));
        }
        Kind::OneNote => {
            walk.guard(&at, "onenote", |w| crate::onenote::inspect(w, index, data));
        }
        Kind::Pe => {
            walk.guard(&at, "exe", |w| crate::exe::inspect(w, index, data));
        }
        Kind::Eml => {
            walk.guard(&at, "mime", |w| crate::mime::walk_attached(w, index, data));
        }
        Kind::Text => {
            let text = String::from_utf8_lossy(&data[..data.len().min(1 << 20)]);
            crate::urls::from_text(walk, &text, &at);
        }
        _ => {}
    }
    if kind.is_script() {
        walk.guard(&at, "script", |w| {
            crate::script::inspect(w, index, kind, data)
        });
    }
}

/// Findings every object of a kind earns, whatever its content: the rules weigh them.
fn kind_findings(walk: &mut Walk<'_>, index: u32, kind: Kind, at: &str) {
    let in_archive = walk.report.artifacts[index as usize]
        .parent
        .map(|p| {
            let parent = &walk.report.artifacts[p as usize];
            matches!(
                parent.kind.as_str(),
                "zip" | "7z" | "rar" | "gzip" | "bzip2" | "xz" | "tar" | "iso" | "img" | "cab"
            )
        })
        .unwrap_or(false);
    let detail = walk.report.artifacts[index as usize].path.clone();
    if kind.is_script() {
        walk.finding("attachment.script", at, &detail);
        if in_archive {
            walk.finding("attachment.script-in-archive", at, &detail);
        }
    }
    if kind.is_executable() {
        walk.finding("attachment.executable", at, &detail);
        if in_archive {
            walk.finding("attachment.executable-in-archive", at, &detail);
        }
    }
    match kind {
        Kind::Iso | Kind::Img => walk.finding("attachment.disk-image", at, &detail),
        Kind::Lnk => walk.finding("attachment.lnk", at, &detail),
        Kind::Html | Kind::Svg => walk.finding("attachment.html", at, &detail),
        Kind::OneNote => walk.finding("attachment.onenote", at, &detail),
        k if k.is_archive() => walk.finding("attachment.archive", at, &detail),
        k if k.is_office() => walk.finding("attachment.office", at, &detail),
        _ => {}
    }
    if walk.report.artifacts[index as usize].encrypted {
        walk.finding("attachment.encrypted", at, &detail);
    }
}
