//! Words for PostgreSQL full-text search, cut the way SQLite's FTS5 `unicode61` tokenizer cuts
//! them, so that a search finds the same messages on both stores.
//!
//! PostgreSQL's own parser (even with the `simple` configuration) keeps `bob@example.com`,
//! `inv.zip` or `https://x.example/a` as one token of its own type, so a search for `example`
//! would miss what FTS5 finds. Instead both sides are tokenized here and handed to PostgreSQL
//! as literals (`$1::tsvector`, `$1::tsquery`), which it stores and compares without parsing:
//! a token is a run of alphanumeric characters, lower-cased, with the diacritics of Latin
//! letters removed (`é` → `e`), like `unicode61` with its default `remove_diacritics 1`.
//!
//! Known differences from FTS5, all at the edges: diacritics are removed for Latin-1 and Latin
//! Extended-A letters only (FTS5 knows more scripts); private-use characters separate words
//! here (FTS5 keeps them); a token longer than [`MAX_LEXEME`] bytes is not indexed (nothing
//! searchable is that long: terms are at most [`crate::MAX_TERM_BYTES`]); PostgreSQL keeps
//! positions up to 16383 and 256 per word, so a phrase far into a long body, or after a word's
//! 256th repetition, may not be found as a phrase.

/// PostgreSQL's longest lexeme, in bytes (its limit is 2047; one byte of margin).
const MAX_LEXEME: usize = 2046;

/// PostgreSQL's highest word position; later words share it.
const MAX_POSITION: usize = 16383;

/// The words of `text`, in order.
pub(crate) fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            // `İ` lower-cases to `i` and a combining dot: marks are dropped, as the
            // diacritics of a decomposed letter are.
            word.extend(c.to_lowercase().filter(|l| !is_mark(*l)).map(fold));
        } else if is_mark(c) {
            // A combining mark after a letter (decomposed text) belongs to the word.
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// `text` as a `tsvector` literal: each word with its positions. Words are alphanumeric only,
/// so quoting them needs no escapes.
pub(crate) fn tsvector(text: &str) -> String {
    let mut positions: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for (i, w) in tokens(text).into_iter().enumerate() {
        if w.len() <= MAX_LEXEME {
            positions
                .entry(w)
                .or_default()
                .push((i + 1).min(MAX_POSITION));
        }
    }
    let mut out = String::new();
    for (w, ps) in positions {
        out.push('\'');
        out.push_str(&w);
        out.push_str("':");
        let list: Vec<String> = ps.iter().map(usize::to_string).collect();
        out.push_str(&list.join(","));
        out.push(' ');
    }
    out
}

/// One search term as a `tsquery` literal: its words as a phrase (`'a' <-> 'b'`), like the
/// quoted FTS5 string of [`crate::fts_phrase`]. `None` when the term has no word.
pub(crate) fn phrase(term: &str) -> Option<String> {
    let words: Vec<String> = tokens(term).into_iter().map(|w| format!("'{w}'")).collect();
    (!words.is_empty()).then(|| words.join(" <-> "))
}

/// Combining diacritical marks (U+0300..U+036F).
fn is_mark(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

/// A lower-case Latin letter without its diacritic, when it has a canonical decomposition
/// into one base letter and marks (`æ`, `ø`, `ł`, `đ` have none and stay).
fn fold(c: char) -> char {
    const LATIN1: &str = "aaaaaaæceeeeiiiiðnooooo÷øuuuuyþy";
    // U+0100..=U+017F in lower case: pairs of (upper, lower) share one entry per code point.
    const EXT_A: &str = "aaaaaaccccccccddđđeeeeeeeeeegggggggghhħħiiiiiiiiiıĳĳjjkkĸllllllŀŀłłnnnnnnŉŋŋooooooœœrrrrrrssssssssttttŧŧuuuuuuuuuuuuwwyyyzzzzzzſ";
    match u32::from(c) {
        n @ 0xe0..=0xff => LATIN1.chars().nth((n - 0xe0) as usize).unwrap_or(c),
        n @ 0x100..=0x17f => EXT_A.chars().nth((n - 0x100) as usize).unwrap_or(c),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_like_unicode61() {
        assert_eq!(
            tokens("Bob@Example.COM inv.zip Ünïcödé"),
            ["bob", "example", "com", "inv", "zip", "unicode"]
        );
        assert_eq!(
            tokens("\"quoted\" OR NOT (x*)"),
            ["quoted", "or", "not", "x"]
        );
        assert!(tokens("\"' * ( ) 🎉 \0").is_empty());
        assert_eq!(tokens("Łódź Æther Straße"), ["łodz", "æther", "straße"]);
    }

    #[test]
    fn every_latin_letter_folds_to_one_char() {
        assert_eq!(fold('é'), 'e');
        assert_eq!(fold('ÿ'), 'y');
        assert_eq!(fold('ā'), 'a');
        assert_eq!(fold('ž'), 'z');
        assert_eq!(fold('ſ'), 'ſ');
        assert_eq!(fold('ñ'), 'n');
        assert_eq!(fold('ő'), 'o');
        assert_eq!(fold('ř'), 'r');
        assert_eq!(fold('ŵ'), 'w');
        assert_eq!(fold('ł'), 'ł');
        assert_eq!(tokens("İstanbul e\u{301}te"), ["istanbul", "ete"]);
    }

    #[test]
    fn literals_need_no_escapes() {
        assert_eq!(tsvector("a b a"), "'a':1,3 'b':2 ");
        assert_eq!(phrase("x'y").as_deref(), Some("'x' <-> 'y'"));
        assert_eq!(phrase("' \""), None);
        let long = "x".repeat(MAX_LEXEME + 1);
        assert_eq!(tsvector(&long), "");
    }
}
