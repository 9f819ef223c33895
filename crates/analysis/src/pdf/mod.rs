//! PDF: active content (JavaScript, open actions, launch actions), links, embedded files, XFA
//! forms and encryption. Two readers feed one set of facts: `lopdf` walks the object graph
//! (`objects.rs`), and a byte-level scan over the raw file and its inflated streams (`scan.rs`)
//! finds the same keys in the malformed files `lopdf` refuses, which malicious PDFs often are.

mod objects;
mod scan;

use crate::walk::{Origin, Walk};
use model::AnomalyKind;
use model::report::PdfInfo;

/// Items kept per list (scripts, URIs, launch targets, files): a lure has a few.
const MAX_LISTED: usize = 32;
/// Bytes of each JavaScript snippet kept in the report.
const MAX_SNIPPET: usize = 1024;

/// What the two readers found, merged.
#[derive(Debug, Default)]
struct Facts {
    info: PdfInfo,
    javascript: bool,
    launch: bool,
    uri: bool,
    embedded: bool,
    name_obfuscation: bool,
    /// Extracted embedded files: (name, bytes).
    files: Vec<(String, Vec<u8>)>,
    /// Limits reached, by name.
    limits: Vec<&'static str>,
    /// Streams that did not decode.
    errors: Vec<String>,
}

impl Facts {
    fn add_js(&mut self, code: &[u8]) {
        self.javascript = true;
        let text = pdf_text(code);
        let text = crate::walk::bounded(text.trim().to_string(), MAX_SNIPPET);
        push_unique(&mut self.info.javascript, text);
    }

    fn add_uri(&mut self, uri: &[u8]) {
        self.uri = true;
        push_unique(&mut self.info.uris, pdf_text(uri).trim().to_string());
    }

    fn add_launch(&mut self, target: String) {
        self.launch = true;
        push_unique(&mut self.info.launch, target.trim().to_string());
    }

    fn add_file(&mut self, name: String, bytes: Vec<u8>) {
        self.embedded = true;
        if self.files.iter().any(|(_, b)| *b == bytes) {
            return;
        }
        if self.files.len() >= MAX_LISTED {
            self.limit("pdf_max_listed");
            return;
        }
        self.files.push((name, bytes));
    }

    fn limit(&mut self, name: &'static str) {
        if !self.limits.contains(&name) {
            self.limits.push(name);
        }
    }
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !item.is_empty() && list.len() < MAX_LISTED && !list.contains(&item) {
        list.push(item);
    }
}

/// A PDF text string: UTF-16BE with its BOM, else PDFDocEncoding (close enough to cp1252).
fn pdf_text(bytes: &[u8]) -> String {
    match bytes.strip_prefix(b"\xFE\xFF") {
        Some(rest) => encoding_rs::UTF_16BE
            .decode_without_bom_handling(rest)
            .0
            .into_owned(),
        None => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

pub(crate) fn inspect(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let at = format!("artifacts[{index}]");
    let limits = walk.engine.limits().clone();
    let mut facts = Facts::default();
    match walk.guard(&at, "lopdf", |_| objects::read(data, &limits, &mut facts)) {
        Some(Ok(())) => {}
        Some(Err(e)) => {
            facts.info.malformed = true;
            walk.anomaly(AnomalyKind::MalformedContent, &at, format!("pdf: {e}"));
        }
        None => facts.info.malformed = true,
    }
    // Files are taken from the byte scan only when the object reader could not give them.
    let extract = facts.info.malformed;
    walk.guard(&at, "pdf-scan", |_| {
        scan::scan(data, &limits, extract, &mut facts)
    });
    for name in std::mem::take(&mut facts.limits) {
        walk.limit(name, &at);
    }
    for e in facts.errors.iter().take(5) {
        walk.anomaly(AnomalyKind::MalformedContent, &at, format!("pdf: {e}"));
    }
    report(walk, index, &at, facts);
}

fn report(walk: &mut Walk<'_>, index: u32, at: &str, mut facts: Facts) {
    let info = &facts.info;
    if facts.javascript {
        let detail = info
            .javascript
            .first()
            .cloned()
            .unwrap_or_else(|| "/JavaScript".into());
        walk.finding("pdf.javascript", at, detail);
    }
    if info.open_action {
        walk.finding("pdf.open-action", at, "/OpenAction");
    }
    if info.additional_actions {
        walk.finding("pdf.additional-actions", at, "/AA");
    }
    if facts.launch {
        walk.finding("pdf.launch", at, info.launch.join(" | "));
    }
    if facts.uri {
        walk.finding("pdf.uri", at, format!("{} URI actions", info.uris.len()));
    }
    if info.xfa {
        walk.finding("pdf.xfa", at, "/XFA form");
    }
    if info.encrypted {
        walk.finding("pdf.encrypted", at, "/Encrypt");
    }
    if facts.name_obfuscation {
        walk.finding(
            "pdf.name-obfuscation",
            at,
            "key names written with #xx escapes",
        );
    }
    let uri_source = format!("{at}.pdf-uri");
    for uri in &info.uris {
        walk.url(uri, &uri_source);
    }
    let js_source = format!("{at}.script");
    for js in &info.javascript {
        for url in crate::script::urls_in(js) {
            walk.url(url, &js_source);
        }
    }
    let files = std::mem::take(&mut facts.files);
    if facts.embedded {
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        let detail = if names.is_empty() {
            "/EmbeddedFile".to_string()
        } else {
            names.join(", ")
        };
        walk.finding("pdf.embedded-file", at, detail);
    }
    facts.info.embedded_files = files.iter().map(|(n, _)| n.clone()).collect();
    walk.artifact(index).pdf = Some(facts.info);
    for (name, bytes) in files {
        walk.add_object(Some(index), Some(name), &bytes, Origin::default());
    }
}
