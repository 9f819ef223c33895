//! HTML attachments (HTML, SVG, HTA): links and forms read with `lol_html`, scripts read as
//! text. Finds HTML smuggling (`smuggling.rs`: the payload built in the browser, decoded here and
//! added as a child), credential forms, redirects, obfuscated scripts and external frames.

mod page;
mod smuggling;

use crate::walk::Walk;
use model::AnomalyKind;
use model::report::HtmlInfo;
use regex::Regex;
use std::sync::LazyLock;

/// Script-side calls that carry typed credentials away without a form action.
static EXFILTRATION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)xmlhttprequest|\bfetch\s*\(|\$\.(?:ajax|post)\s*\(|sendbeacon|api\.telegram\.org|discord(?:app)?\.com/api/webhooks"#).ok()
});

/// Script navigation to a literal address.
static SCRIPT_REDIRECT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)\blocation(?:\.href)?\s*=\s*["'`]([^"'`\s]{1,2048})["'`]|\blocation\.(?:replace|assign)\s*\(\s*["'`]([^"'`\s]{1,2048})["'`]"#).ok()
});

/// Absolute URLs in CSS `url(...)`.
static CSS_URL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(?i)url\(\s*["']?(https?://[^"'()\s]{1,2048})"#).ok());

/// Decoding idioms of packed scripts.
static OBFUSCATION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)\bunescape\s*\(|\beval\s*\(|string\.fromcharcode|document\.write\s*\(\s*unescape|eval\s*\(\s*(?:atob|unescape)"#).ok()
});

/// Escapes (`%41`, `\x41`, `\u0041`) in script text.
static ESCAPES: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"%[0-9a-fA-F]{2}|\\x[0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}"#).ok());

/// Calls to decoding idioms above which a script is packed rather than written.
const OBFUSCATION_CALLS: usize = 10;
/// Escaped characters above which script text is hidden rather than written.
const ESCAPED_CHARS: usize = 2_000;

pub(crate) fn inspect(walk: &mut Walk<'_>, index: u32, data: &[u8]) {
    let at = format!("artifacts[{index}]");
    let max = usize::try_from(walk.engine.limits().max_object_bytes).unwrap_or(usize::MAX);
    let data = data.get(..data.len().min(max)).unwrap_or_default();
    let (page, error) = page::read(data, max);
    if let Some(e) = error {
        walk.anomaly(AnomalyKind::MalformedContent, &at, format!("html: {e}"));
    }
    let doc = crate::script::decode_text(data);
    let mut info = HtmlInfo {
        scripts: page.scripts,
        ..HtmlInfo::default()
    };
    for (kind, url) in &page.urls {
        if is_absolute(url) {
            walk.url(url, &format!("{at}.{kind}"));
        }
    }
    if let Some(re) = CSS_URL.as_ref() {
        for cap in re.captures_iter(&doc).take(1000) {
            if let Some(u) = cap.get(1) {
                walk.url(u.as_str(), &format!("{at}.css"));
            }
        }
    }
    let is_hta = walk
        .report
        .artifacts
        .get(index as usize)
        .is_some_and(|a| a.kind == "script-hta");
    if !is_hta {
        // HTA text also goes through the script parser, which adds these itself.
        for url in crate::script::urls_in(&page.script) {
            walk.url(url, &format!("{at}.script"));
        }
    }
    smuggling::inspect(walk, index, &at, &doc, &page, &mut info.smuggling);
    forms(walk, &at, &page, &mut info);
    redirects(walk, &at, &page, &mut info);
    obfuscation(walk, &at, &page.script);
    for src in &page.iframes {
        if is_absolute(src) {
            walk.finding("html.iframe", &at, src);
        }
    }
    walk.artifact(index).html = Some(info);
}

fn forms(walk: &mut Walk<'_>, at: &str, page: &page::Page, info: &mut HtmlInfo) {
    let exfiltrates = EXFILTRATION
        .as_ref()
        .and_then(|re| re.find(&page.script))
        .map(|m| m.as_str().to_string());
    for form in &page.forms {
        if form.password_field {
            if posts_elsewhere(&form.action) {
                walk.finding(
                    "html.credential-form",
                    at,
                    format!("posts to {}", form.action),
                );
            } else if let Some(how) = &exfiltrates {
                walk.finding(
                    "html.credential-form",
                    at,
                    format!("sent by script ({how})"),
                );
            }
        }
    }
    info.forms = page.forms.clone();
}

/// Where a form sends what it collects, seen from a file opened locally: any absolute web
/// address is another host, and `mailto:` or a bare `.php` endpoint is a collector.
fn posts_elsewhere(action: &str) -> bool {
    let a = action.trim().to_ascii_lowercase();
    is_absolute(&a)
        || a.starts_with("mailto:")
        || a.split(['?', '#'])
            .next()
            .is_some_and(|p| p.ends_with(".php"))
}

fn redirects(walk: &mut Walk<'_>, at: &str, page: &page::Page, info: &mut HtmlInfo) {
    let mut targets: Vec<String> = page.refresh.clone();
    if let Some(re) = SCRIPT_REDIRECT.as_ref() {
        for cap in re.captures_iter(&page.script).take(100) {
            if let Some(t) = cap.get(1).or_else(|| cap.get(2)) {
                targets.push(t.as_str().to_string());
            }
        }
    }
    for t in targets {
        if info.redirects.contains(&t) {
            continue;
        }
        if is_absolute(&t) {
            walk.url(&t, &format!("{at}.redirect"));
        }
        walk.finding("html.redirect", at, &t);
        info.redirects.push(t);
    }
}

fn obfuscation(walk: &mut Walk<'_>, at: &str, script: &str) {
    let mut reasons = Vec::new();
    if let Some(re) = OBFUSCATION.as_ref() {
        let mut calls = 0;
        for m in re.find_iter(script) {
            calls += 1;
            let s = m.as_str().to_ascii_lowercase();
            if s.starts_with("document.write") || (s.starts_with("eval") && s.ends_with(['b', 'e']))
            {
                reasons.push(s.split_whitespace().collect::<String>());
            }
        }
        if calls >= OBFUSCATION_CALLS {
            reasons.push(format!("{calls} decoding calls"));
        }
    }
    let escapes = ESCAPES
        .as_ref()
        .map_or(0, |re| re.find_iter(script).count());
    if escapes >= ESCAPED_CHARS {
        reasons.push(format!("{escapes} escaped characters"));
    }
    reasons.dedup();
    if !reasons.is_empty() {
        walk.finding("html.obfuscated-script", at, reasons.join(", "));
    }
}

fn is_absolute(url: &str) -> bool {
    let l = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}
