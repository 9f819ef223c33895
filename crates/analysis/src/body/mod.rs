//! Text and HTML bodies: visible text (HTML through `html.rs`), hidden-text tricks
//! (`hidden.rs`), language, lure wording, URLs, links whose text shows another address,
//! credential forms, and the normalised-text hashes that cluster one template's variants
//! (SHA-256, ssdeep, TLSH and the MinHash sketch of `cluster`).

mod entities;
mod hidden;
mod html;

use crate::walk::Walk;
use model::report::BodyPart;
use regex::Regex;
use sha2::Digest;
use std::sync::LazyLock;

/// Characters of visible text shown in the report.
const EXCERPT_CHARS: usize = 280;

/// One text part to analyse.
#[derive(Debug)]
pub(crate) struct BodyInput<'a> {
    /// Location prefix for findings and URL sources (`bodies[N]` is appended by `analyze`).
    pub part: String,
    pub content_type: String,
    pub charset: Option<String>,
    pub text: &'a str,
    pub html: bool,
}

/// Anchor text that is itself an address: `https://www.paypal.com/x`, `paypal.com`.
static SHOWN_URL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:[a-z][a-z0-9+.-]*://)?((?:[a-z0-9-]+\.)+[a-z]{2,})(?:[:/?#]\S*)?$").ok()
});

/// Analyses one body part, pushes its `BodyPart` into the report and returns its visible text.
pub(crate) fn analyze(walk: &mut Walk<'_>, input: &BodyInput<'_>) -> String {
    let index = walk.report.bodies.len();
    let at = format!("bodies[{index}]");
    let max = walk.engine.limits().max_text_chars as usize;
    let text = match input.text.char_indices().nth(max) {
        Some((cut, _)) => {
            walk.limit("max_text_chars", &at);
            input.text.get(..cut).unwrap_or_default()
        }
        None => input.text,
    };
    let mut tricks = hidden::char_tricks(text);
    let visible = if input.html {
        let doc = html::parse(text);
        if doc.too_deep {
            walk.anomaly(
                model::AnomalyKind::MalformedContent,
                &at,
                format!("HTML nested deeper than {} elements", html::MAX_STACK),
            );
        }
        for t in &doc.hidden {
            if !tricks.contains(t) {
                tricks.push(t);
            }
        }
        html_urls_and_findings(walk, &doc, &at);
        doc.text
    } else {
        text.to_string()
    };
    let clean = hidden::strip_invisible(&visible);
    crate::urls::from_text(walk, &clean, &at);
    let subject = walk.report.headers.subject.clone().unwrap_or_default();
    crate::lure::scan(walk, &format!("{subject}\n{clean}"), &at);
    if !tricks.is_empty() {
        walk.finding("body.hidden-text", &at, tricks.join(", "));
    }
    let normalised = normalise(&clean);
    let ssdeep = walk
        .guard(&at, "ssdeep", |_| {
            crate::hashes::ssdeep(normalised.as_bytes())
        })
        .filter(|s| !s.is_empty());
    let tlsh = walk
        .guard(&at, "tlsh", |_| crate::hashes::tlsh(normalised.as_bytes()))
        .flatten();
    let excerpt = excerpt(&clean);
    walk.report.bodies.push(BodyPart {
        part: input.part.clone(),
        content_type: input.content_type.clone(),
        charset: input.charset.clone(),
        language: crate::lang::guess(&clean).map(str::to_string),
        chars: clean.chars().count() as u64,
        excerpt,
        normalized_sha256: (!normalised.is_empty())
            .then(|| hex::encode(sha2::Sha256::digest(normalised.as_bytes()))),
        normalized_ssdeep: ssdeep,
        normalized_tlsh: tlsh,
        minhash: crate::cluster::minhash(&normalised).map(|m| crate::cluster::to_hex(&m)),
        hidden_text: tricks.iter().map(|t| t.to_string()).collect(),
    });
    clean
}

/// URLs of an HTML body's links and attributes, link-text mismatches and credential forms.
fn html_urls_and_findings(walk: &mut Walk<'_>, doc: &html::Doc, at: &str) {
    let href = format!("{at}.href");
    for link in &doc.links {
        crate::urls::add(walk, &link.href, &href);
        if let Some(shown) = shown_domain(&link.text)
            && let Some(target) = href_domain(&link.href)
            && shown != target
        {
            walk.finding(
                "url.text-mismatch",
                at,
                format!("shows {shown}, leads to {target}"),
            );
        }
    }
    for (name, value) in &doc.url_attrs {
        let source = format!("{at}.{name}");
        match name.as_str() {
            "style" => crate::urls::from_css(walk, value, &source),
            "srcset" => crate::urls::from_srcset(walk, value, &source),
            "refresh" => crate::urls::from_refresh(walk, value, &source),
            _ => crate::urls::add(walk, value, &source),
        }
    }
    if !doc.css.is_empty() {
        crate::urls::from_css(walk, &doc.css, &format!("{at}.css"));
    }
    for form in &doc.forms {
        if form.password {
            let action = if form.action.is_empty() {
                "(no action)"
            } else {
                &form.action
            };
            walk.finding("html.credential-form", at, action);
        }
    }
}

/// Registered domain an anchor text shows, when the text is an address.
fn shown_domain(text: &str) -> Option<String> {
    let text = hidden::strip_invisible(text);
    let text = text.trim();
    let host = SHOWN_URL.as_ref()?.captures(text)?.get(1)?.as_str();
    let host = host.to_ascii_lowercase();
    // A known public suffix is needed: "file.txt" or "v1.2" is not an address.
    psl::suffix(host.as_bytes()).filter(|s| s.is_known())?;
    psl::domain_str(&host).map(str::to_string)
}

/// Registered domain of an href (absolute http(s) links only).
fn href_domain(href: &str) -> Option<String> {
    let url = url::Url::parse(href.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    match url.host()? {
        url::Host::Domain(d) => psl::domain_str(d).map(str::to_string),
        other => Some(other.to_string()),
    }
}

/// The first [`EXCERPT_CHARS`] characters of `text` with its whitespace collapsed to single
/// spaces; only as many words as it takes are read.
fn excerpt(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    for word in text.split_whitespace() {
        if chars >= EXCERPT_CHARS {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
            chars += 1;
        }
        for c in word.chars().take(EXCERPT_CHARS.saturating_sub(chars)) {
            out.push(c);
            chars += 1;
        }
    }
    out
}

/// The text with what varies between copies of one template folded away: lower case, digits
/// to `0`, URLs to `url`, whitespace collapsed.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        // No lower-casing needed to spot a URL: no other character lower-cases to `w`, `:`
        // or `/`.
        if word.contains("://")
            || word
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("www."))
        {
            out.push_str("url");
            continue;
        }
        let fold = |c: char| if c.is_ascii_digit() { '0' } else { c };
        if word.is_ascii() {
            // Most words: lower-cased in place, no copy of the word.
            out.extend(word.chars().map(|c| fold(c.to_ascii_lowercase())));
        } else {
            // `str::to_lowercase` (final sigma and all) is what the stored hashes were made with.
            out.extend(word.to_lowercase().chars().map(fold));
        }
    }
    out
}
