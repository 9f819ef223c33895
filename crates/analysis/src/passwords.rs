//! Archive passwords announced in the message text: senders of encrypted archives must tell
//! the victim the password, and that sentence is in the body ("Password: 1234", "wachtwoord
//! is abc"). What follows the keyword is a candidate; wrong candidates cost one failed try.

use regex::Regex;
use std::sync::OnceLock;

/// Candidates kept per text: a real mail announces one password, sometimes two; a long list
/// is noise (or an attempt to make us try thousands of passwords on each entry).
pub(crate) const MAX_PASSWORDS: usize = 16;
/// Characters kept per candidate: archive passwords in malspam are short.
pub(crate) const MAX_PASSWORD_CHARS: usize = 64;
/// Characters of text searched: the announcement sits near the top of the mail.
const MAX_TEXT_BYTES: usize = 256 << 10;

/// Keyword, optional "is"/"ist"/"est"/"es"/"é", a separator, then the password token.
/// Word boundaries are ASCII (`(?-u:\b)`): a Unicode `\b` keeps the regex off its DFA and made
/// this search the most expensive step of the analysis of a plain mail.
fn pattern() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r#"(?ix)
            (?:(?-u:\b)|_)
            (?: password | passwort | passwd | pass | pwd | pw | code | kennwort | wachtwoord
              | mot\ de\ passe | contraseña | contrasena | senha | parola\ d['’]ordine
              | clave | hasło | haslo | heslo | lösenord | salasana )
            \s* (?: \( [^)\n]{0,20} \) \s* )?
            (?: [:=：\-–] \s* (?: (?:is|ist|est|es|é|è) [\s:=] \s* [:=]? \s* )?
              | \s+ (?: is|ist|est|es|é|è|lautet|luidt|ès ) \s* [:=]? \s*
              | \s+ (?: for\ the\ \w+ | of\ the\ \w+ | del\ archivo | du\ fichier | zum\ \w+ ) \s* (?: is | : )? \s* [:=]? \s*
            )
            (?P<token> [^\s<>]+ )
            "#,
        )
        .ok()
    })
    .as_ref()
}

/// Candidate passwords found in body text (`Password: 1234`, `wachtwoord: abc`...), in order
/// of appearance, without duplicates.
pub(crate) fn from_text(text: &str) -> Vec<String> {
    let Some(re) = pattern() else {
        return Vec::new();
    };
    let mut cut = text.len().min(MAX_TEXT_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out: Vec<String> = Vec::new();
    for caps in re.captures_iter(&text[..cut]) {
        let Some(token) = caps.name("token") else {
            continue;
        };
        let Some(p) = clean(token.as_str()) else {
            continue;
        };
        if !out.contains(&p) {
            out.push(p);
        }
        if out.len() >= MAX_PASSWORDS {
            break;
        }
    }
    out
}

/// Strips quotes and trailing sentence punctuation; drops empty and over-long tokens.
fn clean(token: &str) -> Option<String> {
    const QUOTES: &[char] = &[
        '"', '\'', '«', '»', '“', '”', '‘', '’', '`', '„', '*', '[', ']',
    ];
    let mut t = token.trim_matches(QUOTES);
    t = t.trim_end_matches(['.', ',', ';', ':', '!', '?', ')']);
    t = t.trim_matches(QUOTES);
    if t.is_empty() || t.chars().count() > MAX_PASSWORD_CHARS {
        return None;
    }
    Some(t.to_string())
}
