//! Finding URLs in text: plain ones with `linkify` (also scheme-less `www.`), obfuscated ones
//! (`hxxps://evil[.]example`) by re-fanging the words that carry an obfuscation marker, and the
//! URL-bearing syntaxes of HTML attributes (CSS `url()`, `srcset`, meta refresh).

use super::{full, insert};
use crate::walk::Walk;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use linkify::{LinkFinder, LinkKind};
use regex::Regex;
use std::sync::LazyLock;

/// Obfuscation markers and what they stand for. Senders write them to slip past link scanners;
/// threat reports write them to stay unclickable: either way the URL is evidence.
const MARKERS: &[(&str, &str)] = &[
    ("hxxp", "http"),
    ("h**p", "http"),
    ("hXXp", "http"),
    ("h__p", "http"),
    ("[://]", "://"),
    ("[:]", ":"),
    ("[.]", "."),
    ("(.)", "."),
    ("{.}", "."),
    ("[dot]", "."),
    ("(dot)", "."),
    ("{dot}", "."),
];

static OBFUSCATION: LazyLock<Option<AhoCorasick>> = LazyLock::new(|| {
    AhoCorasickBuilder::new()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostLongest)
        .build(MARKERS.iter().map(|(m, _)| m))
        .ok()
});

/// URLs whose host is a number (`http://3232235777/`, `http://0x7f.1/`): `linkify` wants a
/// dotted domain and misses them, but they are exactly the ones hiding an IP address.
static NUMERIC_HOST: LazyLock<Option<Regex>> = LazyLock::new(|| {
    // ASCII word boundary: a Unicode `\b` forces the slow NFA engine over every body text.
    Regex::new(r#"(?i)(?-u:\b)(?:https?|ftp)://(?:[^\s/@<>"']*@)?(?:0x)?[0-9a-f]+(?:\.(?:0x)?[0-9a-f]*)*(?:[:/?#][^\s<>"']*)?"#).ok()
});

static FINDER: LazyLock<LinkFinder> = LazyLock::new(|| {
    let mut f = LinkFinder::new();
    f.kinds(&[LinkKind::Url]).url_must_have_scheme(false);
    f
});

/// Finds URLs (plain and obfuscated) in text and adds them.
pub(crate) fn from_text(walk: &mut Walk<'_>, text: &str, source: &str) {
    let max = walk.engine.limits().max_text_chars as usize;
    let text = prefix(text, max);
    let cleaned;
    let text = match OBFUSCATION.as_ref() {
        Some(ac) if ac.is_match(text) => {
            cleaned = obfuscated(walk, ac, text, source);
            cleaned.as_str()
        }
        _ => text,
    };
    if let Some(re) = NUMERIC_HOST.as_ref()
        && text.contains("://")
    {
        for m in re.find_iter(text) {
            let u = m
                .as_str()
                .trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
            if insert(walk, u, source, false, None, 0).is_none() && full(walk) {
                return;
            }
        }
    }
    for link in FINDER.links(text) {
        let s = link.as_str();
        if (s.contains("://") || s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www.")))
            && insert(walk, s, source, false, None, 0).is_none()
            && full(walk)
        {
            return;
        }
    }
}

/// Adds the words of `text` that carry an obfuscation marker, re-fanged, and returns the text
/// with those words blanked so that `linkify` does not also report their fragments.
fn obfuscated(walk: &mut Walk<'_>, ac: &AhoCorasick, text: &str, source: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    let mut last = 0;
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '\'')) {
        // `word` is a sub-slice of `text`: its address difference is its byte offset.
        let start = (word.as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
        if !ac.is_match(word) || full(walk) {
            continue;
        }
        let mut refanged = String::with_capacity(word.len());
        ac.replace_all_with(word, &mut refanged, |m, _, dst| {
            dst.push_str(MARKERS.get(m.pattern().as_usize()).map_or("", |(_, r)| r));
            true
        });
        let refanged = refanged.trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
        let refanged = refanged.trim_start_matches(['(', '[']);
        if refanged.contains("://")
            || refanged
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("www."))
        {
            insert(walk, refanged, source, true, None, 0);
        }
        cleaned.push_str(text.get(last..start).unwrap_or_default());
        cleaned.push(' ');
        last = start + word.len();
    }
    cleaned.push_str(text.get(last..).unwrap_or_default());
    cleaned
}

/// URLs in CSS: `url(...)` in `style` attributes and `<style>` elements (background images,
/// tracking pixels, `@import`).
pub(crate) fn from_css(walk: &mut Walk<'_>, css: &str, source: &str) {
    let mut rest = css;
    while let Some(pos) = find_ascii_ci(rest, "url(") {
        let after = rest.get(pos + 4..).unwrap_or_default();
        let end = after.find(')').unwrap_or(after.len());
        let value = after.get(..end).unwrap_or_default();
        insert(
            walk,
            value.trim().trim_matches(['"', '\'']),
            source,
            false,
            None,
            0,
        );
        rest = after.get(end..).unwrap_or_default();
        if full(walk) {
            return;
        }
    }
}

/// `srcset="a.png 1x, https://x/b.png 2x"`: the URL is the first word of each candidate.
pub(crate) fn from_srcset(walk: &mut Walk<'_>, value: &str, source: &str) {
    for candidate in value.split(',').take(super::MAX_SOURCES) {
        if let Some(u) = candidate.split_whitespace().next() {
            insert(walk, u, source, false, None, 0);
        }
    }
}

/// `<meta http-equiv="refresh" content="0; url=https://...">`.
pub(crate) fn from_refresh(walk: &mut Walk<'_>, content: &str, source: &str) {
    if let Some(pos) = find_ascii_ci(content, "url=") {
        let value = content.get(pos + 4..).unwrap_or_default();
        insert(
            walk,
            value.trim().trim_matches(['"', '\'']),
            source,
            false,
            None,
            0,
        );
    }
}

/// Byte offset of `needle` (ASCII) in `hay`, ignoring ASCII case.
pub(crate) fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    hay.as_bytes()
        .windows(n)
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The first `max` bytes of `text`, cut on a character boundary.
pub(crate) fn prefix(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut cut = max;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.get(..cut).unwrap_or_default()
}
