//! The message search language (Mailpit style) → [`store::MessageFilter`].
//!
//! `from:`, `to:`, `subject:`, `filename:`, `has:attachment` (or `has:none`), `verdict:`,
//! `campaign:`, `ioc:`, `before:` / `after:` (a date `2026-12-01`, midnight UTC, or RFC 3339),
//! and free text. A value may be quoted to hold spaces or colons: `subject:"your invoice"`,
//! `"http://x.example/a"`. Terms combine with AND; several `verdict:` terms mean any of them.
//!
//! The parser never panics and is bounded ([`MAX_QUERY_BYTES`], [`MAX_QUERY_TERMS`]). It
//! produces plain strings; the store quotes every one as an FTS5 phrase, so nothing a user
//! types is FTS5 syntax. An unknown `key:` is an error rather than free text, so a mistyped
//! operator is not silently searched as words.

use model::VerdictClass;
use std::fmt;
use store::MessageFilter;
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};

/// Longest query accepted, in bytes. A search box holds a line; 1 KiB is several times the
/// longest real query and keeps parsing and the FTS query small.
pub const MAX_QUERY_BYTES: usize = 1024;

/// Most terms (operators and words together) in one query: each is one more FTS5 phrase or
/// condition; 32 is far beyond what anyone types.
pub const MAX_QUERY_TERMS: usize = 32;

/// The keys the language knows, for the error message.
pub const KEYS: &[&str] = &[
    "from", "to", "subject", "filename", "has", "verdict", "campaign", "ioc", "before", "after",
];

/// Why a query was refused; the text is shown to the user (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError(pub String);

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SearchError {}

fn err<T>(msg: impl Into<String>) -> Result<T, SearchError> {
    Err(SearchError(msg.into()))
}

/// Parses a search query. Empty (or blank) queries give the empty filter (everything).
pub fn parse(q: &str) -> Result<MessageFilter, SearchError> {
    if q.len() > MAX_QUERY_BYTES {
        return err(format!("the query is longer than {MAX_QUERY_BYTES} bytes"));
    }
    let mut f = MessageFilter::default();
    let terms = tokenize(q)?;
    if terms.len() > MAX_QUERY_TERMS {
        return err(format!("the query has more than {MAX_QUERY_TERMS} terms"));
    }
    for (key, value) in terms {
        apply(&mut f, key.as_deref(), value)?;
    }
    for (name, list) in [
        ("free-text", &f.text),
        ("from:", &f.from),
        ("to:", &f.to),
        ("subject:", &f.subject),
        ("filename:", &f.filename),
    ] {
        if list.len() > store::MAX_TERMS {
            return err(format!(
                "at most {} {name} terms in one query",
                store::MAX_TERMS
            ));
        }
    }
    Ok(f)
}

/// Splits into `(key, value)` terms. A key is the ASCII word (letters, digits, `_`) before
/// the first `:` of an unquoted token, so `http://x` names the key `http` (an error): values
/// with colons are quoted. Stops early past [`MAX_QUERY_TERMS`] (the caller refuses those).
fn tokenize(q: &str) -> Result<Vec<(Option<String>, String)>, SearchError> {
    let mut out = Vec::new();
    let mut chars = q.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if out.len() > MAX_QUERY_TERMS {
            break;
        }
        // Key: ASCII letters up to ':'.
        let mut key = None;
        let rest = &q[start..];
        if let Some((k, _)) = rest.split_once(':') {
            let is_word = !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if is_word && !k.contains(char::is_whitespace) {
                key = Some(k.to_ascii_lowercase());
                for _ in 0..=k.chars().count() {
                    chars.next();
                }
            }
        }
        let value = match chars.peek() {
            Some(&(_, '"')) => {
                chars.next();
                let mut v = String::new();
                for (_, c) in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    v.push(c);
                }
                v
            }
            _ => {
                let mut v = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() {
                        break;
                    }
                    v.push(c);
                    chars.next();
                }
                v
            }
        };
        out.push((key, value));
    }
    Ok(out)
}

fn apply(f: &mut MessageFilter, key: Option<&str>, value: String) -> Result<(), SearchError> {
    if value.len() > store::MAX_TERM_BYTES {
        return err(format!(
            "a search term is longer than {} bytes",
            store::MAX_TERM_BYTES
        ));
    }
    let Some(key) = key else {
        if !value.is_empty() {
            f.text.push(value);
        }
        return Ok(());
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return err(format!("`{key}:` needs a value"));
    }
    match key {
        "from" => f.from.push(value),
        "to" => f.to.push(value),
        "subject" => f.subject.push(value),
        "filename" => f.filename.push(value),
        "has" => {
            f.has_attachment = Some(match value.to_ascii_lowercase().as_str() {
                "attachment" | "attachments" => true,
                "none" | "no-attachment" => false,
                _ => {
                    return err(format!(
                        "`has:` takes `attachment` or `none`, not `{value}`"
                    ));
                }
            })
        }
        "verdict" => {
            let v = value.to_ascii_lowercase();
            let class = VerdictClass::ALL
                .into_iter()
                .find(|c| {
                    c.as_str() == v || (v == "ransomware" && *c == VerdictClass::RansomwareDelivery)
                })
                .ok_or_else(|| {
                    let names: Vec<_> = VerdictClass::ALL.iter().map(|c| c.as_str()).collect();
                    SearchError(format!(
                        "unknown verdict `{value}`; one of: {}",
                        names.join(", ")
                    ))
                })?;
            if !f.verdict.contains(&class) {
                f.verdict.push(class);
            }
        }
        "campaign" => {
            let id = value
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    SearchError(format!(
                        "`campaign:` takes a campaign number, not `{value}`"
                    ))
                })?;
            once(&mut f.campaign, id, "campaign")?;
        }
        "ioc" => once(&mut f.ioc, value, "ioc")?,
        "before" => once(&mut f.before, time_of(&value, "before")?, "before")?,
        "after" => once(&mut f.after, time_of(&value, "after")?, "after")?,
        other => {
            return err(format!(
                "unknown search key `{other}:`; known keys: {} (quote a value that contains `:`)",
                KEYS.join(", ")
            ));
        }
    }
    Ok(())
}

fn once<T>(slot: &mut Option<T>, v: T, key: &str) -> Result<(), SearchError> {
    if slot.is_some() {
        return err(format!("`{key}:` may appear once"));
    }
    *slot = Some(v);
    Ok(())
}

/// `2026-12-01` (midnight UTC) or an RFC 3339 time.
fn time_of(v: &str, key: &str) -> Result<OffsetDateTime, SearchError> {
    if let Ok(t) = OffsetDateTime::parse(v, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(v, &fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            SearchError(format!(
                "`{key}:` takes a date like 2026-12-01 or an RFC 3339 time, not `{v}`"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_parses() {
        let f = parse(
            r#"from:billing@x.example to:trap subject:"your invoice" has:attachment
               verdict:malware verdict:ransomware campaign:7 ioc:evil.example filename:a.zip
               before:2026-12-01 after:2026-11-01T10:00:00Z "http://x.example/a" hello"#,
        )
        .expect("parse");
        assert_eq!(f.from, vec!["billing@x.example"]);
        assert_eq!(f.to, vec!["trap"]);
        assert_eq!(f.subject, vec!["your invoice"]);
        assert_eq!(f.filename, vec!["a.zip"]);
        assert_eq!(f.has_attachment, Some(true));
        assert_eq!(
            f.verdict,
            vec![VerdictClass::Malware, VerdictClass::RansomwareDelivery]
        );
        assert_eq!(f.campaign, Some(7));
        assert_eq!(f.ioc.as_deref(), Some("evil.example"));
        assert_eq!(f.before, Some(time::macros::datetime!(2026-12-01 0:00 UTC)));
        assert_eq!(f.after, Some(time::macros::datetime!(2026-11-01 10:00 UTC)));
        assert_eq!(f.text, vec!["http://x.example/a", "hello"]);
    }

    #[test]
    fn keys_are_case_insensitive_and_blank_is_everything() {
        assert_eq!(parse("  ").expect("blank"), MessageFilter::default());
        assert_eq!(parse("SUBJECT:x").expect("p").subject, vec!["x"]);
        assert_eq!(parse("has:none").expect("p").has_attachment, Some(false));
    }

    #[test]
    fn bad_queries_are_clear_errors() {
        for (q, needle) in [
            ("colour:red", "unknown search key `colour:`"),
            ("http://x", "unknown search key `http:`"),
            ("verdict:nasty", "unknown verdict `nasty`"),
            ("has:pdf", "`has:` takes"),
            ("campaign:x", "campaign number"),
            ("campaign:-1", "campaign number"),
            ("campaign:1 campaign:2", "may appear once"),
            ("before:yesterday", "date like 2026-12-01"),
            ("before:2026-13-01", "date like"),
            ("subject:", "needs a value"),
            ("subject:\"\"", "needs a value"),
        ] {
            let e = parse(q).expect_err(q);
            assert!(e.0.contains(needle), "{q}: {e}");
        }
        assert!(parse(&"a ".repeat(MAX_QUERY_TERMS + 1)).is_err());
        assert!(parse(&"x".repeat(MAX_QUERY_BYTES + 1)).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;
        use std::sync::OnceLock;

        /// One store for all cases. FTS5 parses a MATCH expression whether or not rows exist, so
        /// an empty index still catches a query that would be a syntax error.
        fn store() -> &'static store::Store {
            static STORE: OnceLock<(tempfile::TempDir, store::Store)> = OnceLock::new();
            &STORE
                .get_or_init(|| {
                    let dir = tempfile::tempdir().expect("tmp");
                    let s = store::Store::open(store::StoreConfig::new(dir.path())).expect("open");
                    (dir, s)
                })
                .1
        }

        fn query() -> impl Strategy<Value = String> {
            let atom = prop_oneof![
                r#"[a-z"*:()^+\-]{0,12}"#,
                Just("from:".to_string()),
                Just("subject:\"".to_string()),
                Just("verdict:spam".to_string()),
                Just("has:attachment".to_string()),
                Just("before:2026-12-01".to_string()),
                Just("campaign:3".to_string()),
                Just("ioc:".to_string()),
                Just("NEAR(".to_string()),
                Just(" OR ".to_string()),
                Just("\"".to_string()),
                any::<String>(),
            ];
            proptest::collection::vec(atom, 0..12).prop_map(|v| v.join(" "))
        }

        proptest! {
            #[test]
            fn never_panics_and_every_filter_runs(q in query()) {
                if let Ok(f) = parse(&q) {
                    store().search_messages(&f, 10, None).map_err(|e| {
                        TestCaseError::fail(format!("{q:?} -> {f:?}: {e}"))
                    })?;
                }
            }

            #[test]
            fn arbitrary_bytes_never_panic(q in any::<String>()) {
                let _ = parse(&q);
            }
        }
    }

    #[test]
    fn quotes_hold_spaces_and_an_unterminated_quote_runs_to_the_end() {
        let f = parse(r#"subject:"a b:c" "d e"#).expect("parse");
        assert_eq!(f.subject, vec!["a b:c"]);
        assert_eq!(f.text, vec!["d e"]);
    }
}
