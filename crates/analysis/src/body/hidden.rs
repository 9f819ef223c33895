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

/// The character tricks in `text`: `zero-width`, `bidi-override`.
pub(crate) fn char_tricks(text: &str) -> Vec<&'static str> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    if body.chars().any(is_zero_width) {
        out.push("zero-width");
    }
    if body.chars().any(is_bidi) {
        out.push("bidi-override");
    }
    out
}

/// `text` without invisible characters, so keyword matching sees `paypal` in `pa\u{200b}ypal`.
pub(crate) fn strip_invisible(text: &str) -> String {
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
            let key = key.trim().to_ascii_lowercase();
            let value: String = value
                .trim()
                .trim_end_matches("!important")
                .trim()
                .to_ascii_lowercase();
            match key.as_str() {
                "display" if value == "none" => return trick("hidden-css"),
                "visibility" if value == "hidden" || value == "collapse" => {
                    return trick("hidden-css");
                }
                "mso-hide" if value == "all" => return trick("hidden-css"),
                "opacity" if value.parse::<f32>().is_ok_and(|o| o <= 0.05) => {
                    return trick("hidden-css");
                }
                "font-size" if tiny(&value) => return trick("tiny-font"),
                "color" => colour = Some(normalise_colour(&value)),
                "background-color" | "background" => {
                    background = Some(normalise_colour(&value));
                }
                _ => {}
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
    let number: String = value
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let unit = value.get(number.len()..).unwrap_or_default().trim();
    match number.parse::<f32>() {
        Ok(0.0) => true,
        Ok(n) => n <= 1.0 && matches!(unit, "px" | "pt"),
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
