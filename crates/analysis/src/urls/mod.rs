//! URLs: every parser hands what it finds to [`add`]; the text scanners (`extract.rs`) find
//! plain, scheme-less and obfuscated URLs in text, CSS, `srcset` and meta refresh values.
//! `normalize.rs` turns a raw URL into its record, `lists.rs` knows shorteners and wrappers.
//!
//! A URL is recorded once (by its normalised form) with up to [`MAX_SOURCES`] places it was seen;
//! wrapped destinations (open redirects, safe-link rewriters) are recorded as URLs of their own
//! with `unwrapped_from`, because the inner URL is the one to block.

mod extract;
mod lists;
mod normalize;

pub(crate) use extract::{from_css, from_refresh, from_srcset, from_text};

use crate::walk::Walk;
use model::report::UrlRecord;

/// Places kept per URL. A link repeated 500 times in a newsletter says nothing more after the
/// first few; the report stays small.
pub(crate) const MAX_SOURCES: usize = 10;

/// Wrappers unwrapped inside wrappers (`safelinks` → `google.com/url` → destination). Real
/// chains are one or two deep; the bound stops a URL that nests itself for ever.
const MAX_UNWRAP_DEPTH: u8 = 3;

/// Inner URLs taken from one wrapper: a tracking URL with dozens of URL parameters is noise.
const MAX_INNER_PER_URL: usize = 4;

/// Adds one URL seen at `source`.
pub(crate) fn add(walk: &mut Walk<'_>, raw: &str, source: &str) {
    insert(walk, raw, source, false, None, 0);
}

/// True once `max_urls` distinct URLs are recorded: scanners stop looking.
pub(crate) fn full(walk: &Walk<'_>) -> bool {
    walk.report.urls.len() >= walk.engine.limits().max_urls as usize
}

/// Records `raw` (found written in an obfuscated form when `obfuscated`), returns its index.
fn insert(
    walk: &mut Walk<'_>,
    raw: &str,
    source: &str,
    obfuscated: bool,
    unwrapped_from: Option<&str>,
    depth: u8,
) -> Option<usize> {
    let norm = normalize::normalize(raw)?;
    if let Some(&i) = walk.url_index.get(&norm.url) {
        let rec = walk.report.urls.get_mut(i)?;
        if rec.sources.len() < MAX_SOURCES && !rec.sources.iter().any(|s| s == source) {
            rec.sources.push(source.to_string());
        }
        if obfuscated && !rec.obfuscated {
            rec.obfuscated = true;
            let detail = rec.url.clone();
            walk.finding("url.obfuscated", format!("urls[{i}]"), detail);
        }
        return Some(i);
    }
    if full(walk) {
        walk.limit("max_urls", source);
        return None;
    }
    let i = walk.report.urls.len();
    let at = format!("urls[{i}]");
    let shortener = !norm.ip_literal && lists::is_shortener(&norm.host);
    walk.url_index.insert(norm.url.clone(), i);
    walk.report.urls.push(UrlRecord {
        url: norm.url.clone(),
        defanged: norm.defanged.clone(),
        host: norm.host.clone(),
        registered_domain: norm.registered_domain.clone(),
        ip_literal: norm.ip_literal,
        shortener,
        obfuscated: obfuscated || norm.tricky.is_some(),
        unwrapped_from: unwrapped_from.map(str::to_string),
        sources: vec![source.to_string()],
    });
    if i == 0 {
        walk.finding("url.present", &at, &norm.url);
    }
    if norm.ip_literal {
        walk.finding("url.ip-literal", &at, &norm.url);
    }
    if shortener {
        walk.finding("url.shortener", &at, &norm.url);
    }
    if obfuscated {
        walk.finding("url.obfuscated", &at, &norm.url);
    } else if let Some(trick) = norm.tricky {
        walk.finding("url.obfuscated", &at, format!("{trick}: {}", norm.url));
    }
    if let Some(kind) = norm.punycode {
        walk.finding("url.punycode", &at, format!("{kind}: {}", norm.host));
    }
    if depth < MAX_UNWRAP_DEPTH {
        for inner in wrapped(&norm.parsed, &norm.host) {
            if let Some(j) = insert(walk, &inner, source, false, Some(&norm.url), depth + 1) {
                let dest = walk
                    .report
                    .urls
                    .get(j)
                    .map(|u| u.url.clone())
                    .unwrap_or_default();
                walk.finding("url.redirect", &at, format!("→ {dest}"));
            }
        }
    }
    Some(i)
}

/// Destinations carried by a wrapper URL: any query parameter whose decoded value is a URL
/// (`google.com/url?q=`, safelinks `?url=`, `l.facebook.com/l.php?u=`, trackers), and the
/// Proofpoint URL Defense path (v3) and `u=` (v2) encodings.
fn wrapped(url: &url::Url, host: &str) -> Vec<String> {
    let mut out = Vec::new();
    if lists::is_urldefense(host) {
        let path = url.path();
        if let Some(rest) = path.split_once("/v3/__").map(|(_, r)| r) {
            let inner = rest.split("__;").next().unwrap_or(rest);
            out.push(inner.to_string());
        }
    }
    for (_, value) in url.query_pairs() {
        if out.len() >= MAX_INNER_PER_URL {
            break;
        }
        let v = value.trim();
        let lower = v.get(..8).unwrap_or(v).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            out.push(v.to_string());
        } else if lower.starts_with("http%3a") || lower.starts_with("https%3a") {
            let decoded: String = url::form_urlencoded::parse(format!("x={v}").as_bytes())
                .map(|(_, v)| v.into_owned())
                .next()
                .unwrap_or_default();
            out.push(decoded);
        } else if lower.starts_with("http") && v.contains("-3A__") {
            out.push(urldefense_v2(v));
        }
    }
    out
}

/// URL Defense v2 encoding: `-XX` is a hex-escaped byte and `_` a slash.
fn urldefense_v2(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'-', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'_', _) => {
                out.push(b'/');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
