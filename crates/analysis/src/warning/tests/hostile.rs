//! Attacker strings in alerts: long, multi-line, bidirectional.

use super::Fixture;
use crate::warning::text::{clean, contains_word, fold, glob, key_part};
use crate::warning::{MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, MAX_TITLE_VALUE_CHARS, Novelty};
use model::VerdictClass;

/// Right-to-left override, left-to-right isolate, zero-width space, and a newline.
const HOSTILE: &str = "\u{202E}fdp.exe\u{2066}\u{200B}\r\nINJECTED: ";

fn assert_safe(text: &str, max: usize) {
    assert!(
        text.chars().count() <= max,
        "{} > {max}",
        text.chars().count()
    );
    assert!(
        !text.chars().any(|c| c.is_control()
            || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200B}')),
        "{text:?}"
    );
}

#[test]
fn ten_kilobyte_rtl_subject_gives_a_bounded_title() {
    let mut fx = Fixture::new(VerdictClass::Phishing);
    let subject = format!("ING {}", HOSTILE.repeat(10_240 / HOSTILE.len()));
    assert!(subject.len() >= 10_000);
    fx.features.subject = Some(subject);
    let alerts =
        fx.run("[[rule]]\nid = \"w\"\nkind = \"watch\"\nseverity = \"high\"\nbrands = [\"ING\"]\n");
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_safe(&a.title, MAX_TITLE_CHARS);
    assert!(a.summary.chars().count() <= MAX_SUMMARY_CHARS);
    for line in a.summary.lines() {
        assert_safe(line, MAX_SUMMARY_CHARS);
    }
    for e in &a.evidence {
        assert_safe(&e.detail, crate::warning::text::MAX_EVIDENCE_CHARS);
    }
}

#[test]
fn long_novel_value_is_cut_in_title_and_hashed_in_key() {
    let mut fx = Fixture::new(VerdictClass::Malware);
    let value = format!("א{}", "ب\u{202E}".repeat(5_000));
    fx.novel = vec![Novelty {
        facet: "lure".to_string(),
        value: value.clone(),
    }];
    let rule = "[[rule]]\nid = \"n\"\nkind = \"novel\"\nseverity = \"low\"\nfacets = [\"lure\"]\n";
    let alerts = fx.run(rule);
    let a = &alerts[0];
    assert_safe(&a.title, MAX_TITLE_CHARS);
    assert!(
        a.title.contains("#42"),
        "the campaign stays visible: {}",
        a.title
    );
    assert!(
        a.title.starts_with("Never-seen lure \"אب"),
        "RTL letters are content: {}",
        a.title
    );
    assert!(a.dedup_key.starts_with("n/lure/h-") && a.dedup_key.len() == "n/lure/h-".len() + 32);
    assert_eq!(fx.run(rule)[0].dedup_key, a.dedup_key, "hashing is stable");
    fx.novel[0].value.push('x');
    assert_ne!(fx.run(rule)[0].dedup_key, a.dedup_key);
}

#[test]
fn clean_bounds_by_characters_and_marks_the_cut() {
    assert_eq!(clean("a\u{202E}b\n\n\tc", 10), "ab c");
    let cut = clean(&"é".repeat(100), MAX_TITLE_VALUE_CHARS);
    assert_eq!(cut.chars().count(), MAX_TITLE_VALUE_CHARS);
    assert!(cut.ends_with('…'));
    assert_eq!(clean("exact", 5), "exact");
}

#[test]
fn key_parts_keep_plain_values_and_hash_the_rest() {
    assert_eq!(key_part("Emotet_Loader"), "Emotet_Loader");
    assert!(
        key_part("a/b").starts_with("h-"),
        "a slash would forge a key level"
    );
    assert!(key_part("with space").starts_with("h-"));
    assert!(key_part("").starts_with("h-"));
}

#[test]
fn glob_and_word_matching() {
    assert!(glob("*", "anything"));
    assert!(glob("emotet_*", "Emotet_Loader"));
    assert!(glob("a*b*c", "axxbyyc"));
    assert!(!glob("a*b*c", "axxbyy"));
    assert!(glob("q?ot", "qbot"));
    assert!(!glob("q?ot", "qbbot"));
    assert!(
        !glob(&"*a".repeat(50), &"a".repeat(40)),
        "no exponential blow-up, no false match"
    );
    assert!(contains_word(&fold("Uw ING."), "ing"));
    assert!(contains_word(&fold("ing"), "ing"));
    assert!(!contains_word(&fold("ringing"), "ing"));
    assert!(contains_word(&fold("DIGID-login"), "digid"));
    assert!(!contains_word(&fold("x"), ""));
}
