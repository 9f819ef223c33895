//! Office documents: OLE/CFB and OOXML, VBA, XLM, DDE, external targets, embedded objects, RTF.
//!
//! Each format's scanner (`ole`, `ooxml`, `rtf`) fills a [`Doc`]; [`inspect`] then classifies
//! the VBA source like olevba and mraptor (`keywords`), turns what was found into findings and
//! stores the `OfficeInfo` on the artefact. Embedded files become child artefacts as they are
//! found, so they are analysed (and can carry macros of their own) recursively.
//!
//! Signals: `office.macro`, `office.macro.autoexec`, `office.macro.write`,
//! `office.macro.execute`, `office.macro.suspicious`, `office.xlm`, `office.dde`,
//! `office.external-target`, `office.embedded-object`, `office.encrypted`, `office.activex`,
//! `rtf.equation-editor`.

mod biff;
mod dde;
mod keywords;
mod ole;
mod ooxml;
mod package;
mod rtf;
mod vba;

use crate::kind::Kind;
use crate::walk::Walk;
use model::report::OfficeInfo;

/// VBA source analysed per document (all modules together). Real projects are far smaller;
/// the cap bounds the regex passes of the keyword scan on a padded project.
const MAX_ANALYSED_CODE: usize = 16 << 20;

/// What the format scanners found in one document.
#[derive(Default)]
pub(crate) struct Doc {
    pub info: OfficeInfo,
    /// All modules' source, whole (the report keeps each module cut to `max_vba_code_bytes`).
    code: String,
}

impl Doc {
    /// Appends one module's source to the analysed code, up to [`MAX_ANALYSED_CODE`].
    pub(crate) fn add_code(&mut self, code: &str) {
        let room = MAX_ANALYSED_CODE.saturating_sub(self.code.len());
        self.code.push_str(cut(code, room));
        self.code.push('\n');
    }

    pub(crate) fn add_dde(&mut self, fields: Vec<String>) {
        for f in fields {
            if !self.info.dde.contains(&f) {
                self.info.dde.push(f);
            }
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

pub(crate) fn inspect(walk: &mut Walk<'_>, index: u32, kind: Kind, data: &[u8]) {
    let mut doc = Doc::default();
    match kind {
        Kind::Rtf => rtf::scan(walk, index, data, &mut doc),
        Kind::OoxmlWord | Kind::OoxmlExcel | Kind::OoxmlPpt => {
            ooxml::scan(walk, index, data, &mut doc)
        }
        _ => ole::scan(walk, index, data, &mut doc),
    }
    finish(walk, index, doc);
}

/// Classifies the macros, emits the findings and stores the `OfficeInfo`.
fn finish(walk: &mut Walk<'_>, index: u32, doc: Doc) {
    let at = format!("artifacts[{index}]");
    let mut info = doc.info;
    if info.vba.is_empty() {
        info.mraptor_result = "no-macro".to_string();
    } else {
        let code = keywords::collapse_long_lines(&doc.code);
        info.keywords = keywords::table(&code);
        let raptor = keywords::Raptor::scan(&code);
        info.mraptor = raptor.flags();
        info.mraptor_result = if raptor.suspicious() {
            "suspicious"
        } else {
            "macro-ok"
        }
        .to_string();
        macro_findings(walk, &at, &info, &raptor);
        let source = format!("{at}.vba");
        let max_urls = walk.engine.limits().max_urls as usize;
        for url in keywords::urls(&code).into_iter().take(max_urls) {
            walk.url(url, &source);
        }
    }
    for field in &info.dde {
        walk.finding("office.dde", &at, field);
    }
    for name in &info.embedded_objects {
        walk.finding("office.embedded-object", &at, name);
    }
    if info.encrypted {
        walk.finding("office.encrypted", &at, "encrypted document");
    }
    walk.artifact(index).office = Some(info);
}

fn macro_findings(walk: &mut Walk<'_>, at: &str, info: &OfficeInfo, raptor: &keywords::Raptor) {
    let names: Vec<&str> = info.vba.iter().map(|m| m.name.as_str()).collect();
    walk.finding(
        "office.macro",
        at,
        format!("VBA modules: {}", names.join(", ")),
    );
    let words = |kind: &str| {
        info.keywords
            .iter()
            .filter(|k| k.kind == kind)
            .map(|k| k.keyword.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if raptor.autoexec {
        walk.finding("office.macro.autoexec", at, words("AutoExec"));
    }
    if raptor.write {
        walk.finding(
            "office.macro.write",
            at,
            "writes, copies or downloads files",
        );
    }
    if raptor.execute {
        walk.finding(
            "office.macro.execute",
            at,
            "runs commands, objects or DLL functions",
        );
    }
    if raptor.suspicious() {
        walk.finding(
            "office.macro.suspicious",
            at,
            format!("mraptor {}: {}", info.mraptor, words("Suspicious")),
        );
    }
}
