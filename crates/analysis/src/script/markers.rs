//! What a script does, by its words: download, execute, obfuscation markers, URLs, and the
//! PowerShell `-EncodedCommand` payloads inside, decoded and searched the same way.

use crate::walk::Walk;
use base64::Engine as _;
use regex::Regex;
use std::sync::LazyLock;

/// `-EncodedCommand` payloads decoded per text: droppers carry one or two.
const MAX_ENCODED_COMMANDS: usize = 16;

/// Lines longer than this are not written by hand; packers and one-line droppers write them.
const LONG_LINE_CHARS: usize = 10_000;

/// Character-code calls (`Chr(`, `String.fromCharCode`) above which text is being rebuilt
/// from numbers rather than written.
const CHAR_CODE_CALLS: usize = 50;

/// String concatenations (`" + "`, `" & "`) above which literals are being chopped to dodge
/// signatures.
const CONCATENATIONS: usize = 200;

static DOWNLOAD: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)msxml2\.(?:server)?xmlhttp|microsoft\.xmlhttp|winhttp\.winhttprequest|\bxmlhttp\b|net\.webclient|downloadstring|downloadfile|downloaddata|invoke-webrequest|invoke-restmethod|start-bitstransfer|urldownloadtofile|bitsadmin|certutil(?:\.exe)?\s+[^\r\n]{0,60}-urlcache|\b(?:iwr|irm|curl(?:\.exe)?|wget)\s+[^\r\n]{0,40}https?://"#,
    ).ok()
});

static EXECUTE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)wscript\.shell|shell\.application|\.run\s*[("]|\.exec\s*\(|shellexecute|start-process|invoke-expression|\biex\b|\bcmd(?:\.exe)?\s+/[ck]\b|powershell(?:\.exe)?\s[^\r\n]{0,80}-e(?:n|nc|nco|ncod|ncode|ncoded|ncodedcommand|c)?\s"#,
    ).ok()
});

static ENCODED_COMMAND: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)-e(?:n|nc|nco|ncod|ncode|ncoded|ncodedcommand|c)?\s+["']?([A-Za-z0-9+/]{16,}={0,2})"#).ok()
});

static CHAR_CODES: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r#"(?i)\bchrw?\s*\(|fromcharcode|charcodeat|\[char\]\s*\d"#).ok());

static CONCAT: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r#"["']\s*[+&]\s*["']"#).ok());

static EVAL: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r#"(?i)\beval\s*\(|\bexecute(?:global)?\s*[("]|\bunescape\s*\("#).ok()
});

/// Records the markers of `text` (one script, or one decoded layer of it) at `at`.
pub(super) fn scan(walk: &mut Walk<'_>, at: &str, text: &str) {
    scan_layer(walk, at, text);
    let mut decoded = 0;
    let Some(encoded) = ENCODED_COMMAND.as_ref() else {
        return;
    };
    for cap in encoded.captures_iter(text) {
        if decoded >= MAX_ENCODED_COMMANDS {
            walk.limit("max_encoded_commands", at);
            break;
        }
        let Some(b64) = cap.get(1) else { continue };
        let Some(inner) = decode_encoded_command(b64.as_str()) else {
            continue;
        };
        decoded += 1;
        walk.finding(
            "script.encoded-command",
            at,
            crate::walk::bounded(inner.clone(), 200),
        );
        scan_layer(walk, at, &inner);
    }
}

fn scan_layer(walk: &mut Walk<'_>, at: &str, text: &str) {
    if let Some(words) = distinct_matches(&DOWNLOAD, text) {
        walk.finding("script.download", at, words);
    }
    if let Some(words) = distinct_matches(&EXECUTE, text) {
        walk.finding("script.execute", at, words);
    }
    let mut reasons = Vec::new();
    let longest = text.lines().map(str::len).max().unwrap_or(0);
    if longest >= LONG_LINE_CHARS {
        reasons.push(format!("line of {longest} chars"));
    }
    let char_codes = count(&CHAR_CODES, text);
    if char_codes >= CHAR_CODE_CALLS {
        reasons.push(format!("{char_codes} char-code calls"));
    }
    let concats = count(&CONCAT, text);
    if concats >= CONCATENATIONS {
        reasons.push(format!("{concats} concatenations"));
    }
    let evals = count(&EVAL, text);
    if evals > 0 && (char_codes >= CHAR_CODE_CALLS / 5 || concats >= CONCATENATIONS / 4) {
        reasons.push(format!("eval of built text ({evals})"));
    }
    if !reasons.is_empty() {
        walk.finding("script.obfuscated", at, reasons.join(", "));
    }
    let source = format!("{at}.script");
    for url in super::urls_in(text) {
        walk.url(url, &source);
    }
}

/// The distinct matches of `re` in `text`, lower-cased and joined, or `None`.
fn distinct_matches(re: &LazyLock<Option<Regex>>, text: &str) -> Option<String> {
    let re = re.as_ref()?;
    let mut words: Vec<String> = Vec::new();
    for m in re.find_iter(text) {
        let w: String = m
            .as_str()
            .chars()
            .take(40)
            .collect::<String>()
            .to_lowercase();
        if !words.contains(&w) {
            words.push(w);
        }
        if words.len() >= 8 {
            break;
        }
    }
    (!words.is_empty()).then(|| words.join(", "))
}

/// Matches of `re` in `text`.
fn count(re: &LazyLock<Option<Regex>>, text: &str) -> usize {
    re.as_ref().map_or(0, |re| re.find_iter(text).count())
}

/// PowerShell `-EncodedCommand` argument: base64 of UTF-16LE text. `None` when it is not.
fn decode_encoded_command(b64: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .ok()
        .or_else(|| {
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(b64.trim_end_matches('='))
                .ok()
        })?;
    // Mostly ASCII commands: most high bytes are zero. Anything else is not UTF-16 text.
    let zeros = bytes.iter().skip(1).step_by(2).filter(|&&b| b == 0).count();
    if bytes.len() < 4 || zeros * 5 < bytes.len() / 2 * 4 {
        return None;
    }
    let (text, _, bad) = encoding_rs::UTF_16LE.decode(&bytes);
    (!bad).then(|| text.into_owned())
}
