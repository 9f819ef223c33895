//! Text that goes into alerts: attacker strings made safe and short, brand and glob matching,
//! and dedup-key parts.
//!
//! Subjects, domains, rule names and facet values reach chat channels and syslog through alert
//! titles. They are bounded (in characters, so multi-byte text is never cut mid-character),
//! control characters become spaces (a newline would forge a second syslog line) and
//! bidirectional controls and zero-width characters are dropped (an RLO would reverse the rest
//! of a chat line, `gpj.exe` style). Right-to-left letters themselves stay: they are content.

use sha2::Digest;

/// Longest alert title, in characters: one chat line or one syslog MSG summary.
pub const MAX_TITLE_CHARS: usize = 160;
/// Longest single attacker-derived value quoted inside a title (a subject, a facet value), so
/// one long value cannot push the campaign number and counts out of the title.
pub const MAX_TITLE_VALUE_CHARS: usize = 60;
/// Longest summary, in characters: "a few lines".
pub const MAX_SUMMARY_CHARS: usize = 1_000;
/// Longest evidence detail, in characters.
pub const MAX_EVIDENCE_CHARS: usize = 300;
/// How much of an attacker string a brand is searched in. Subjects and templates are far
/// shorter; the bound keeps a 10 MB header from costing more than a few microseconds.
pub const MAX_MATCH_CHARS: usize = 4_096;
/// Longest value kept verbatim in a dedup key; longer or odd values are hashed (the key is a
/// unique database column and a receiver-visible id).
pub const MAX_KEY_PART_CHARS: usize = 100;

/// Bidirectional controls and zero-width characters: dropped from alert text.
fn is_invisible_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// `text` made single-line and safe, at most `max` characters (an ellipsis marks a cut).
pub fn clean(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = false;
    for c in text.chars() {
        if is_invisible_control(c) {
            continue;
        }
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        // Runs of blanks collapse, so padding cannot hide the end of a title.
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if count == max {
            out.pop();
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// Quoted value for a title: cleaned and cut to [`MAX_TITLE_VALUE_CHARS`].
pub fn quote(value: &str) -> String {
    format!("\"{}\"", clean(value, MAX_TITLE_VALUE_CHARS))
}

/// The first [`MAX_MATCH_CHARS`] characters of `text`, lower-cased: the form
/// [`contains_word`] searches.
pub fn fold(text: &str) -> String {
    text.chars()
        .take(MAX_MATCH_CHARS)
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `needle` (lower case) occurs in `hay` (made by [`fold`]) as a whole word: not
/// preceded or followed by a letter or digit. So `ing` is found in `ING bank`, `ing.nl` and
/// `secure-ing-login.com` but not in `booking`.
pub fn contains_word(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return false;
    }
    hay.match_indices(needle).any(|(at, _)| {
        let before = hay[..at].chars().next_back();
        let after = hay[at + needle.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

/// Whether `name` matches `pattern`, where `*` is any run and `?` one character; ASCII case is
/// ignored (rule files are written by hand). Linear backtracking on the last `*`: no
/// exponential cases.
pub fn glob(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().map(|c| c.to_ascii_lowercase()).collect();
    let n: Vec<char> = name
        .chars()
        .take(MAX_MATCH_CHARS)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `candidate` is `watched` or a subdomain of it (case and a trailing dot ignored).
pub fn domain_within(candidate: &str, watched: &str) -> bool {
    let c = candidate.trim_end_matches('.').to_ascii_lowercase();
    let w = watched.trim_end_matches('.');
    c == w || c.strip_suffix(w).is_some_and(|rest| rest.ends_with('.'))
}

/// A dedup-key part: the value itself when short and plain, else `h-` and 32 hex digits of
/// its SHA-256 (stable across runs and machines).
pub fn key_part(value: &str) -> String {
    let plain = !value.is_empty()
        && value.chars().count() <= MAX_KEY_PART_CHARS
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '/' && c != '%');
    if plain {
        value.to_string()
    } else {
        let digest = sha2::Sha256::digest(value.as_bytes());
        format!("h-{}", hex::encode(&digest[..16]))
    }
}
