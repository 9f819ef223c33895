//! Language guess by stop words: the short function words every sentence of a language uses.
//! Enough to tell the languages a European trap receives apart on a paragraph of text, with no
//! model to ship; below [`MIN_WORDS`] words it declines to guess.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Fewer words than this give no reliable guess (a subject line, a signature).
const MIN_WORDS: usize = 20;

/// Words looked at: a few hundred decide; 5,000 keeps a 2 MiB body cheap.
const MAX_WORDS: usize = 5_000;

/// Stop words per language. Words shared between languages (`de`, `en`, `a`) count for each
/// of them; the distinctive ones decide.
const STOP_WORDS: &[(&str, &str)] = &[
    (
        "nl",
        "de het een en van ik je dat niet is op te zijn voor met uw u wij we ons onze deze dit \
         wordt worden bij naar ook maar nog al heeft hebben kunt kan uit aan om als er hun zij \
         hij wat zo geen meer dan tot graag wilt uw jouw jij zich",
    ),
    (
        "en",
        "the and of to a in is you that it for on with as are this be your have we from or by \
         not will at an was can our please if has been would which their there what all any",
    ),
    (
        "de",
        "der die und den das ist nicht ein eine zu mit sie ich es für auf dem im sich des von \
         wir ihr ihre ihnen sind werden wird oder bitte auch noch nur bei aus einen einer haben",
    ),
    (
        "fr",
        "le la les et des un une est que qui pas pour dans du sur vous nous au avec ce il elle \
         sont votre vos être ou par plus cette ces aux mais été",
    ),
    (
        "es",
        "el la los las y que de en un una es por para con no su se al del lo como usted sus más \
         pero este esta está son hay muy ha sido",
    ),
    (
        "it",
        "il lo la gli le di che è e un una per non con sono del della si da ci questo questa \
         suo vostro nel alla anche come ha più delle dei",
    ),
    (
        "pt",
        "o a os as e de que um uma não para com do da em por se você seu sua são mais como ao \
         dos das foi está nos também pelo pela",
    ),
];

/// Bytes of the longest stop word (`STOP_WORDS` is checked against it by a test).
const MAX_STOP_WORD_BYTES: usize = 7;

/// Word → bit set of the languages it is a stop word of (bit i = `STOP_WORDS[i]`).
static INDEX: LazyLock<HashMap<&'static str, u8>> = LazyLock::new(|| {
    let mut map: HashMap<&'static str, u8> = HashMap::new();
    for (i, (_, words)) in STOP_WORDS.iter().enumerate() {
        for w in words.split_whitespace() {
            *map.entry(w).or_default() |= 1 << i;
        }
    }
    map
});

/// ISO 639-1 code of the language of `text`, `None` when unsure.
pub(crate) fn guess(text: &str) -> Option<&'static str> {
    let mut scores = [0usize; STOP_WORDS.len()];
    let mut words = 0;
    let mut word = String::new();
    for w in text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
    {
        words += 1;
        word.clear();
        // Lower-cased only as far as a stop word could reach: most words are longer, and
        // those need neither the full copy nor the lookup.
        for c in w.chars().flat_map(char::to_lowercase) {
            word.push(c);
            if word.len() > MAX_STOP_WORD_BYTES {
                break;
            }
        }
        if word.len() > MAX_STOP_WORD_BYTES {
            continue;
        }
        if let Some(&bits) = INDEX.get(word.as_str()) {
            for (i, s) in scores.iter_mut().enumerate() {
                if bits & (1 << i) != 0 {
                    *s += 1;
                }
            }
        }
    }
    if words < MIN_WORDS {
        return None;
    }
    let mut ranked: Vec<(usize, usize)> = scores.iter().copied().enumerate().collect();
    ranked.sort_by_key(|&(_, s)| std::cmp::Reverse(s));
    let (best, best_score) = ranked.first().copied()?;
    let second = ranked.get(1).map_or(0, |&(_, s)| s);
    // At least one word in ten a stop word, and a clear lead over the runner-up.
    if best_score * 10 < words || best_score < 4 || best_score * 4 < second * 5 {
        return None;
    }
    STOP_WORDS.get(best).map(|(code, _)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stop_word_fits_the_lookup_bound() {
        let longest = INDEX.keys().map(|w| w.len()).max().unwrap_or(0);
        assert!(
            longest <= MAX_STOP_WORD_BYTES,
            "longest stop word: {longest} bytes"
        );
    }

    #[test]
    fn upper_case_stop_words_count_and_long_words_do_not() {
        let dutch = "WIJ HEBBEN UW BETALING NIET ONTVANGEN EN DAT IS VOOR ONS EEN PROBLEEM \
                     OMDAT DE FACTUUR VAN DEZE MAAND NOG OPEN STAAT BIJ ONZE ADMINISTRATIEAFDELING";
        assert_eq!(guess(dutch), Some("nl"));
        let padded = format!("{dutch} {}", "overeenkomstig ".repeat(200));
        assert_eq!(
            guess(&padded),
            None,
            "200 long non-stop words dilute the score"
        );
    }
}
