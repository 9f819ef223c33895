//! URL extraction and normalisation. (Stub: filled in by the URLs work.)

use crate::walk::Walk;
use model::report::UrlRecord;

/// Adds one URL seen at `source`.
pub(crate) fn add(walk: &mut Walk<'_>, raw: &str, source: &str) {
    if let Some(&i) = walk.url_index.get(raw) {
        walk.report.urls[i].sources.push(source.to_string());
        return;
    }
    walk.url_index
        .insert(raw.to_string(), walk.report.urls.len());
    walk.report.urls.push(UrlRecord {
        url: raw.to_string(),
        sources: vec![source.to_string()],
        ..UrlRecord::default()
    });
}

/// Finds URLs (plain and obfuscated) in text and adds them.
pub(crate) fn from_text(walk: &mut Walk<'_>, text: &str, source: &str) {
    for word in text.split_whitespace() {
        if word.starts_with("http://") || word.starts_with("https://") {
            add(walk, word, source);
        }
    }
}
