//! Fuzz the console/API search language (`web::search::parse`). Checks beyond "no panic": an
//! accepted query is within the store's bounds (at most `store::MAX_TERMS` terms of one kind,
//! each non-empty and at most `store::MAX_TERM_BYTES`), and the FTS5 text the store searches
//! with is made of quoted phrases only (optionally after a known column), joined by ` AND `,
//! each phrase being one term with its `"` doubled: nothing typed is FTS5 syntax.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The FTS5 columns a keyed term may name.
const COLUMNS: &[&str] = &["sender", "rcpt", "subject", "filenames"];

fuzz_target!(|data: &[u8]| {
    let q = String::from_utf8_lossy(data);
    let Ok(f) = web::search::parse(&q) else {
        return;
    };
    assert!(q.len() <= web::search::MAX_QUERY_BYTES);
    let keyed = [
        (None, &f.text),
        (Some("sender"), &f.from),
        (Some("rcpt"), &f.to),
        (Some("subject"), &f.subject),
        (Some("filenames"), &f.filename),
    ];
    let mut expected = Vec::new();
    for (col, list) in keyed {
        assert!(
            list.len() <= store::MAX_TERMS,
            "{q:?}: {} terms",
            list.len()
        );
        for t in list {
            assert!(
                !t.is_empty() && t.len() <= store::MAX_TERM_BYTES,
                "{q:?}: term {t:?}"
            );
            // The store drops terms without a word character (an empty phrase).
            if t.chars().any(char::is_alphanumeric) {
                expected.push((col, t.as_str()));
            }
        }
    }
    if let Some(ioc) = &f.ioc {
        assert!(
            !ioc.is_empty() && ioc.len() <= store::MAX_TERM_BYTES,
            "{q:?}"
        );
    }
    assert!(f.campaign.is_none_or(|c| c > 0), "{q:?}");
    for (i, v) in f.verdict.iter().enumerate() {
        assert!(!f.verdict[..i].contains(v), "{q:?}: verdict {v:?} twice");
    }
    match f.fts_query() {
        None => assert!(
            expected.is_empty(),
            "{q:?}: terms {expected:?} but no FTS query"
        ),
        Some(fts) => {
            let got = phrases(&fts);
            let got: Vec<(Option<&str>, &str)> =
                got.iter().map(|(c, p)| (*c, p.as_str())).collect();
            assert_eq!(got, expected, "{q:?}: FTS query {fts:?}");
        }
    }
});

/// Splits an FTS5 query into `(column, phrase)` pairs, panicking on anything that is not
/// `[column : ]"phrase"` joined by ` AND `, where a `"` inside a phrase is doubled.
fn phrases(fts: &str) -> Vec<(Option<&'static str>, String)> {
    let mut out = Vec::new();
    let mut rest = fts;
    loop {
        let mut col = None;
        if !rest.starts_with('"') {
            let (c, r) = rest
                .split_once(" : ")
                .unwrap_or_else(|| panic!("{fts:?}: neither a phrase nor a column"));
            let known = COLUMNS.iter().find(|k| **k == c);
            col = Some(*known.unwrap_or_else(|| panic!("{fts:?}: unknown column {c:?}")));
            rest = r;
        }
        let body = rest
            .strip_prefix('"')
            .unwrap_or_else(|| panic!("{fts:?}: phrase does not open with a quote"));
        let mut phrase = String::new();
        let mut chars = body.char_indices().peekable();
        let end = loop {
            let (i, c) = chars
                .next()
                .unwrap_or_else(|| panic!("{fts:?}: phrase not closed"));
            if c != '"' {
                phrase.push(c);
            } else if chars.peek().is_some_and(|&(_, n)| n == '"') {
                chars.next();
                phrase.push('"');
            } else {
                break i + 1;
            }
        };
        out.push((col, phrase));
        rest = &body[end..];
        if rest.is_empty() {
            return out;
        }
        rest = rest
            .strip_prefix(" AND ")
            .unwrap_or_else(|| panic!("{fts:?}: phrases not joined by AND"));
    }
}
