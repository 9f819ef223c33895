//! Text a reader does not see: inline styles that hide an element's text (the filler that
//! fools statistical filters), and invisible or reordering characters that split keywords
//! (`pa\u{200b}ypal`) or reverse what is displayed.

use super::html::Tag;

/// Zero-width characters: U+200B–U+200D, U+2060 (word joiner), U+FEFF (inside text; a leading
/// one is a byte-order mark).
fn is_zero_width(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
}

/// Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The zero-width and bidi characters of `text`. Each is three bytes in UTF-8, led by `0xE2` or
/// `0xEF`, so only the characters at those bytes are decoded: most bodies have none.
fn invisible(text: &str) -> impl Iterator<Item = char> + '_ {
    memchr::memchr2_iter(0xe2, 0xef, text.as_bytes())
        .filter_map(move |i| text.get(i..)?.chars().next())
        .filter(|&c| is_zero_width(c) || is_bidi(c))
}

/// The character tricks in `text`: `zero-width`, `bidi-override`.
pub(crate) fn char_tricks(text: &str) -> Vec<&'static str> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let (mut zero_width, mut bidi) = (false, false);
    for c in invisible(body) {
        zero_width |= is_zero_width(c);
        bidi |= is_bidi(c);
        if zero_width && bidi {
            break;
        }
    }
    let mut out = Vec::new();
    if zero_width {
        out.push("zero-width");
    }
    if bidi {
        out.push("bidi-override");
    }
    out
}

/// `text` without invisible characters, so keyword matching sees `paypal` in `pa\u{200b}ypal`.
/// The soft hyphen (U+00AD) is led by `0xC2`; text with none of the three lead bytes is copied.
pub(crate) fn strip_invisible(text: &str) -> String {
    if memchr::memchr3(0xe2, 0xef, 0xc2, text.as_bytes()).is_none() {
        return text.to_string();
    }
    text.chars()
        .filter(|&c| !is_zero_width(c) && !is_bidi(c) && c != '\u{ad}')
        .collect()
}

/// What an element's presentation says about its text.
#[derive(Debug, Default)]
pub(crate) struct Style {
    /// `hidden-css` (display:none, visibility:hidden, opacity:0, mso-hide:all, `hidden`) or
    /// `tiny-font` (font-size 0 or 1px).
    pub trick: Option<&'static str>,
    /// Text colour set on this element (normalised), from `style` or `<font color>`.
    pub colour: Option<String>,
    /// Background set on this element (`style` or `bgcolor`).
    pub background: Option<String>,
}

/// Reads the inline presentation of `tag`. Colours are compared by the caller, which knows
/// the inherited background (`same-colour`: text colour equal to the background in effect,
/// white on the default white page included).
pub(crate) fn style_of(tag: &Tag) -> Style {
    let trick = |t| Style {
        trick: Some(t),
        ..Style::default()
    };
    if tag.attr("hidden").is_some() {
        return trick("hidden-css");
    }
    let mut colour = tag.attr("color").map(normalise_colour);
    let mut background = tag.attr("bgcolor").map(normalise_colour);
    if let Some(style) = tag.attr("style") {
        for decl in style.split(';') {
            let Some((key, value)) = decl.split_once(':') else {
                continue;
            };
            // Compared without allocating: this runs for every styled element of every body.
            let key = key.trim();
            let value = value.trim().trim_end_matches("!important").trim();
            let key_is = |k: &str| key.eq_ignore_ascii_case(k);
            let value_is = |v: &str| value.eq_ignore_ascii_case(v);
            let hidden = (key_is("display") && value_is("none"))
                || (key_is("visibility") && (value_is("hidden") || value_is("collapse")))
                || (key_is("mso-hide") && value_is("all"))
                || (key_is("opacity") && value.parse::<f32>().is_ok_and(|o| o <= 0.05));
            if hidden {
                return trick("hidden-css");
            }
            if key_is("font-size") && tiny(value) {
                return trick("tiny-font");
            }
            if key_is("color") {
                colour = Some(normalise_colour(value));
            } else if key_is("background-color") || key_is("background") {
                background = Some(normalise_colour(value));
            }
        }
    }
    Style {
        trick: None,
        colour: colour.filter(|c| !c.is_empty()),
        background: background.filter(|b| !b.is_empty() && b != "none" && b != "transparent"),
    }
}

/// The page background when no element sets one.
pub(crate) const PAGE_BACKGROUND: &str = "#ffffff";

/// `0`, `0px`, `1px`, `0pt`, `0em`...: text no one can read.
fn tiny(value: &str) -> bool {
    let digits = value
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits);
    let unit = unit.trim();
    match number.parse::<f32>() {
        Ok(0.0) => true,
        Ok(n) => n <= 1.0 && (unit.eq_ignore_ascii_case("px") || unit.eq_ignore_ascii_case("pt")),
        Err(_) => false,
    }
}

/// Colours compared by value: `#fff`, `#FFFFFF`, `white`, `rgb(255,255,255)` are one colour.
fn normalise_colour(value: &str) -> String {
    let v: String = value
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let v = v.split('!').next().unwrap_or_default().to_string();
    match v.as_str() {
        "white" | "#fff" | "#ffffff" | "rgb(255,255,255)" => "#ffffff".to_string(),
        "black" | "#000" | "#000000" | "rgb(0,0,0)" => "#000000".to_string(),
        _ => match v.strip_prefix('#') {
            Some(h) if h.len() == 3 => {
                let mut full = String::from("#");
                for c in h.chars() {
                    full.push(c);
                    full.push(c);
                }
                full
            }
            _ => v,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only characters led by `0xE2`/`0xEF` are decoded: other characters with those lead
    /// bytes (`€`, `…`, U+FFFD) are not tricks, and a leading byte-order mark is not either.
    #[test]
    fn tricks_are_told_from_their_byte_neighbours() {
        assert!(char_tricks("€ 10 … \u{fffd} ok").is_empty());
        assert!(char_tricks("\u{feff}a byte-order mark first").is_empty());
        assert_eq!(char_tricks("pa\u{200b}ypal"), ["zero-width"]);
        assert_eq!(char_tricks("a\u{feff}b"), ["zero-width"]);
        assert_eq!(
            char_tricks("x\u{2067}y\u{2060}"),
            ["zero-width", "bidi-override"]
        );
        assert_eq!(strip_invisible("pa\u{200b}y\u{ad}pal €"), "paypal €");
        assert_eq!(strip_invisible("plain text"), "plain text");
    }
}
