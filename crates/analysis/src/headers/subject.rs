//! The subject template: the subject with what varies per message of a campaign (numbers, ids,
//! addresses, URLs, dates, the recipient's name) replaced by placeholders, for clustering.

use regex::{Captures, Regex};
use std::sync::LazyLock;

/// Recipient names tried per subject (longest first); more would only cost time.
const MAX_NAMES: usize = 20;

struct Patterns {
    url: Regex,
    email: Regex,
    date: Regex,
    token: Regex,
    num: Regex,
}

static PATTERNS: LazyLock<Option<Patterns>> = LazyLock::new(|| {
    Some(Patterns {
        url: Regex::new(r"(?i)\b(?:https?://|www\.)\S+").ok()?,
        email: Regex::new(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+").ok()?,
        date: Regex::new(
            r"\b(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?\b",
        )
        .ok()?,
        token: Regex::new(r"[A-Za-z0-9][A-Za-z0-9_-]{4,}").ok()?,
        num: Regex::new(r"\d+(?:[.,]\d+)*").ok()?,
    })
});

/// Builds the template of `subject`; `names` are recipient local parts and display names.
pub(crate) fn template(subject: &str, names: &[String]) -> String {
    let Some(p) = PATTERNS.as_ref() else {
        return subject.to_string();
    };
    let mut s = p.url.replace_all(subject, "{url}").into_owned();
    s = p.email.replace_all(&s, "{email}").into_owned();
    for name in names.iter().take(MAX_NAMES) {
        s = replace_ci(&s, name, "{name}");
    }
    s = p.date.replace_all(&s, "{date}").into_owned();
    s = p
        .token
        .replace_all(&s, |c: &Captures<'_>| {
            let t = c.get(0).map_or("", |m| m.as_str());
            let digits = t.bytes().filter(u8::is_ascii_digit).count();
            let letters = t.bytes().filter(u8::is_ascii_alphabetic).count();
            if digits > 0 && letters > 0 {
                "{id}".to_string()
            } else {
                t.to_string()
            }
        })
        .into_owned();
    s = p.num.replace_all(&s, "{num}").into_owned();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Replaces every occurrence of `needle` in `hay`, ignoring case, at word boundaries.
fn replace_ci(hay: &str, needle: &str, with: &str) -> String {
    let lower_hay = hay.to_lowercase();
    let lower_needle = needle.to_lowercase();
    // Lower-casing may change byte lengths outside ASCII; then offsets would not line up.
    if lower_needle.is_empty() || lower_hay.len() != hay.len() {
        return hay.to_string();
    }
    let mut out = String::with_capacity(hay.len());
    let mut last = 0;
    for (pos, m) in lower_hay.match_indices(&lower_needle) {
        let end = pos + m.len();
        let before = hay.get(..pos).and_then(|s| s.chars().next_back());
        let after = hay.get(end..).and_then(|s| s.chars().next());
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        if pos < last || !boundary(before) || !boundary(after) {
            continue;
        }
        out.push_str(hay.get(last..pos).unwrap_or_default());
        out.push_str(with);
        last = end;
    }
    out.push_str(hay.get(last..).unwrap_or_default());
    out
}
