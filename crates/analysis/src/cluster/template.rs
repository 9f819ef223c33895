//! Templates: values with what varies between the messages of one campaign folded away, so
//! that copies compare equal (subject, attachment name, URL, HELO name).

use super::features::clean_value;

/// Longest leading `[tag]` dropped from a subject: gateway and list tags are short; a long
/// bracketed text is content.
pub const MAX_SUBJECT_TAG: usize = 24;
/// Path segments of a URL template kept: campaign URLs are short; deeper paths add nothing.
pub const MAX_URL_SEGMENTS: usize = 8;
/// Shortest hex run folded in URLs (`/inv/3fa9c2d1`): shorter hex runs are ordinary words
/// (`cafe`, `added`).
pub const MIN_HEX_TOKEN: usize = 8;
/// Shortest base64-looking run folded in URLs: long enough that real words never qualify.
pub const MIN_B64_TOKEN: usize = 16;
/// Shortest mixed letters-and-digits token folded (`aB3dE9`, `x7k2m1`): per-recipient
/// tracking ids that a campaign rotates; real path words rarely mix digits into letters.
pub const MIN_ID_TOKEN: usize = 6;

/// Subject template (already templated by the header decoder) made comparable: lower case,
/// reply/forward prefixes and leading `[tags]` dropped (spammers add them at random, and
/// gateways add `[EXTERNAL]`), whitespace collapsed.
pub fn subject(templated: &str) -> String {
    let mut s = clean_value(templated).to_lowercase();
    loop {
        let trimmed = s.trim_start();
        let rest = ["re:", "fw:", "fwd:", "aw:", "wg:", "tr:", "sv:"]
            .iter()
            .find_map(|p| trimmed.strip_prefix(p))
            .or_else(|| {
                let tag = trimmed.strip_prefix('[')?;
                let (inner, rest) = tag.split_once(']')?;
                (inner.len() <= MAX_SUBJECT_TAG).then_some(rest)
            });
        match rest {
            Some(r) => s = r.to_string(),
            None => break,
        }
    }
    s.trim().to_string()
}

/// Words of a subject template that are not placeholders: a template of fewer than three such
/// words (`invoice {num}`) is shared by unrelated campaigns and is not evidence on its own.
pub fn subject_words(template: &str) -> usize {
    template
        .split_whitespace()
        .filter(|w| !w.starts_with('{') && w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .count()
}

/// Attachment name template: lower case, random-looking tokens to `#`, digit runs to `0`
/// (`Invoice_83721.pdf` → `invoice_0.pdf`, `scan-3fa9c2d17b.zip` → `scan-#.zip`,
/// `INV-GE5141263.zip` → `inv-#.zip`: a number with a short letter prefix is one id).
pub fn file_name(name: &str) -> String {
    let name = clean_value(name).to_lowercase();
    fold_tokens(&name, |token| {
        hex_id(token) || mixed_id(token, MIN_ID_TOKEN) || prefixed_number(token)
    })
}

/// A number with at most two letters around it (`ge5141263`, `a12b`): an id, not a word.
fn prefixed_number(token: &str) -> bool {
    let letters = token.chars().filter(|c| c.is_alphabetic()).count();
    let digits = token.bytes().filter(u8::is_ascii_digit).count();
    digits > 0 && (1..=2).contains(&letters)
}

/// A hex id: at least [`MIN_HEX_TOKEN`] hex digits with a digit and a letter among them
/// (`3fa9c2d17b`; not `deadbeef`-like words nor plain numbers, which fold to `0`).
fn hex_id(token: &str) -> bool {
    token.len() >= MIN_HEX_TOKEN
        && token.bytes().all(|b| b.is_ascii_hexdigit())
        && token.bytes().any(|b| b.is_ascii_digit())
        && token.bytes().any(|b| b.is_ascii_alphabetic())
}

/// True when a name template says more than its extension: at least three letters outside
/// placeholders before the extension (`inv-#.zip` yes, `0.pdf` or `#.zip` no).
pub fn specific_name(template: &str) -> bool {
    let stem = template.split_once('.').map_or(template, |(s, _)| s);
    stem.chars().filter(|c| c.is_alphabetic()).count() >= 3
}

/// URL template: host plus path with ids folded, query and fragment dropped; `None` for
/// anything that is not an http(s) URL with a host.
pub fn url(text: &str) -> Option<String> {
    let u = url::Url::parse(text).ok()?;
    if !matches!(u.scheme(), "http" | "https") {
        return None;
    }
    let host = u.host_str()?.to_ascii_lowercase();
    let mut out = host;
    for segment in u
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .take(MAX_URL_SEGMENTS)
    {
        out.push('/');
        out.push_str(&url_segment(segment));
    }
    Some(out.chars().take(super::features::MAX_VALUE_CHARS).collect())
}

/// True when a URL template identifies a campaign's links rather than a site: a path of two
/// or more segments, or one with a folded id (`kit.example/m0/{b64}`). A bare host is the
/// domain signal, and one-segment paths (`brand.example/logo.png`, `/privacy`) are the brand's
/// own pages that every kit impersonating it links.
pub fn url_specific(template: &str) -> bool {
    let Some((_, path)) = template.split_once('/') else {
        return false;
    };
    path.contains('/') || path.contains(['#', '0', '{'])
}

fn url_segment(segment: &str) -> String {
    // Base64-looking tokens are judged on the raw (case-kept) segment, before lower-casing.
    let b64 = segment.len() >= MIN_B64_TOKEN
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=' | b'+' | b'%'))
        && segment
            .bytes()
            .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    if b64 {
        return "{b64}".to_string();
    }
    let lower = segment.to_ascii_lowercase();
    fold_tokens(&lower, |token| {
        hex_id(token) || mixed_id(token, MIN_ID_TOKEN)
    })
}

/// HELO pattern: lower case, IP literals to `[ip]`, digit runs to `0`
/// (`mail-2041.bulk.example` → `mail-0.bulk.example`).
pub fn helo(name: &str) -> String {
    let name = clean_value(name).to_ascii_lowercase();
    let bare = name.trim_matches(['[', ']']);
    let bare = bare.strip_prefix("ipv6:").unwrap_or(bare);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return "[ip]".to_string();
    }
    fold_tokens(&name, |_| false)
}

/// A random-looking id at least `min` long: letters and digits interleaved (two or more digit
/// runs, `x7k2m1`, `ab12cd34`). A word with one number (`order53488`, `inv2024`) is not: its
/// number folds to `0` and its word stays, because the word is what the campaign repeats.
fn mixed_id(token: &str, min: usize) -> bool {
    if token.len() < min || !token.bytes().any(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    let mut runs = 0;
    let mut in_digits = false;
    for b in token.bytes() {
        let digit = b.is_ascii_digit();
        if digit && !in_digits {
            runs += 1;
        }
        in_digits = digit;
    }
    runs >= 2
}

/// Splits `text` into alphanumeric tokens and separators; tokens `random` accepts become `#`,
/// then every digit run in what is left becomes `0`.
fn fold_tokens(text: &str, random: impl Fn(&str) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut token = String::new();
    let flush = |token: &mut String, out: &mut String| {
        if token.is_empty() {
            return;
        }
        if random(token) {
            out.push('#');
        } else {
            let mut in_digits = false;
            for c in token.chars() {
                if c.is_ascii_digit() {
                    if !in_digits {
                        out.push('0');
                    }
                    in_digits = true;
                } else {
                    out.push(c);
                    in_digits = false;
                }
            }
        }
        token.clear();
    };
    for c in text.chars() {
        if c.is_alphanumeric() {
            token.push(c);
        } else {
            flush(&mut token, &mut out);
            out.push(c);
        }
    }
    flush(&mut token, &mut out);
    out
}
