//! Mail HTML made inert before it is served to the sandboxed frame.
//!
//! The frame's `sandbox` attribute and the body response's Content-Security-Policy are what
//! stop scripts and remote loads; this rewrite is the second wall, for a browser that ignores
//! one of them. It removes `<script>`, `<meta http-equiv>` (refresh), `<base>`, `<link>`,
//! frames and plugin elements, every `on*` handler, every address attribute that is not
//! `data:`, `cid:` or a fragment, and the `@import`/`url(` of style sheets and style
//! attributes. Links stay readable as text but lead nowhere.

use lol_html::html_content::{ContentType, Element, TextChunk};
use lol_html::{HtmlRewriter, MemorySettings, Settings, element, text};
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Memory the HTML rewriter may buffer (lol_html's own bound). Bodies are already cut at
/// [`crate::mail_view::MAX_BODY_BYTES`]; this bounds the parser state for crafted markup.
pub const MAX_REWRITE_MEMORY: usize = 8 * 1024 * 1024;

/// Shown instead of a body the rewriter gave up on.
pub const UNSHOWABLE: &str = "<p>This HTML body could not be made safe to show. Download the \
                              mail to look at it.</p>";

/// Elements removed with their content.
/// (`animate` and `set` are SVG's way to rewrite an attribute, `href` included, after load.)
const REMOVED: &str = "script, noscript, meta[http-equiv], base, link, iframe, frame, frameset, \
                       object, embed, applet, portal, template, animate, set";

/// Attributes that hold an address the browser would fetch or navigate to.
const ADDRESS_ATTRIBUTES: &[&str] = &[
    "src",
    "href",
    "srcset",
    "background",
    "action",
    "formaction",
    "poster",
    "data",
    "xlink:href",
    "ping",
    "lowsrc",
    "dynsrc",
    "codebase",
    "cite",
    "longdesc",
    "manifest",
    "usemap",
    "archive",
    "profile",
    "icon",
    "imagesrcset",
];

/// The inert form of `html`. Never panics.
pub fn make_inert(html: &str) -> String {
    catch_unwind(AssertUnwindSafe(|| rewrite(html)))
        .ok()
        .flatten()
        .unwrap_or_else(|| UNSHOWABLE.to_owned())
}

fn rewrite(html: &str) -> Option<String> {
    let mut out = Vec::with_capacity(html.len());
    let style = RefCell::new(String::new());
    let settings = Settings::new()
        .with_strict(false)
        .with_memory_settings(
            MemorySettings::new().with_max_allowed_memory_usage(MAX_REWRITE_MEMORY),
        )
        .append_element_content_handler(element!(REMOVED, |el: &mut Element<'_, '_>| {
            el.remove();
            Ok(())
        }))
        .append_element_content_handler(element!("*", |el: &mut Element<'_, '_>| {
            clean_attributes(el);
            Ok(())
        }))
        .append_element_content_handler(text!("style", |t: &mut TextChunk<'_>| {
            // A chunk may end inside `url(`: collect the whole text node first.
            let mut buf = style.borrow_mut();
            buf.push_str(t.as_str());
            if t.last_in_text_node() {
                t.replace(&neutralise_css(&buf), ContentType::Html);
                buf.clear();
            } else {
                t.remove();
            }
            Ok(())
        }));
    let mut rewriter = HtmlRewriter::new(settings, |c: &[u8]| out.extend_from_slice(c));
    rewriter.write(html.as_bytes()).ok()?;
    rewriter.end().ok()?;
    String::from_utf8(out).ok()
}

fn clean_attributes(el: &mut Element<'_, '_>) {
    let names: Vec<(String, String)> = el
        .attributes()
        .iter()
        .map(|a| (a.name(), a.value()))
        .collect();
    for (name, value) in names {
        let lower = name.to_ascii_lowercase();
        let drop = if lower.starts_with("on") {
            true
        } else if ADDRESS_ATTRIBUTES.contains(&lower.as_str()) {
            !is_inline_address(&lower, &value)
        } else if lower == "style" {
            is_loading_css(&value)
        } else {
            // `<meta content>`, `<a target>`... are harmless once the above are gone; `formtarget`
            // and `target` cannot name a window the sandbox lets them reach.
            false
        };
        if drop {
            el.remove_attribute(&name);
        }
    }
}

/// Addresses that load nothing from a network: an inline `data:` image, a `cid:` part
/// reference (which the browser cannot resolve), a fragment.
fn is_inline_address(attribute: &str, value: &str) -> bool {
    let v: String = value
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    if v.starts_with('#') || v.starts_with("cid:") {
        return true;
    }
    // `data:` only where it is an image source, never as a link or form target.
    matches!(attribute, "src" | "srcset" | "background" | "poster") && v.starts_with("data:image/")
}

fn is_loading_css(css: &str) -> bool {
    let l = css.to_ascii_lowercase();
    ["url(", "@import", "expression(", "image-set(", "\\"]
        .iter()
        .any(|p| l.contains(p))
}

/// What a style sheet could load with, and what it becomes: an invalid token, so the rule
/// is dropped. Escapes (`\75rl(` spells `url(`) are broken too, and addresses lose their
/// scheme.
const CSS_REWRITES: [(&str, &str); 6] = [
    ("@import", "blocked-import "),
    ("url(", "blocked-url "),
    ("expression(", "blocked-expression "),
    ("image-set(", "blocked-image-set "),
    ("\\", "blocked-escape "),
    ("http", "hxxp"),
];

/// Style sheet text with every way to load something renamed into an invalid token.
fn neutralise_css(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let lower = css.to_ascii_lowercase();
    let mut i = 0;
    while i < css.len() {
        let rest = &lower[i..];
        if let Some((p, to)) = CSS_REWRITES.iter().find(|(p, _)| rest.starts_with(*p)) {
            out.push_str(to);
            i += p.len();
        } else {
            let ch = css[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_refresh_base_and_frames_are_removed() {
        let out = make_inert(
            "<base href=http://x/><meta http-equiv=refresh content=\"0;url=http://x/r\">\
             <script>alert(1)</script><iframe src=http://x/f></iframe><p>kept</p>",
        );
        assert_eq!(out, "<p>kept</p>");
    }

    #[test]
    fn remote_addresses_and_handlers_are_dropped() {
        let out = make_inert(
            "<img src=http://x/i onerror=alert(1)><img src=\"data:image/png;base64,AA\">\
             <a href=\"https://evil.example/\">go</a><form action=//x/f><input></form>\
             <a href=\" javascript:alert(1)\">j</a><img src=\"data:text/html,x\">",
        );
        assert!(!out.contains("http"), "{out}");
        assert!(!out.contains("onerror"), "{out}");
        assert!(!out.contains("javascript"), "{out}");
        assert!(!out.contains("data:text"), "{out}");
        assert!(out.contains("data:image/png"), "{out}");
        assert!(out.contains(">go</a>"), "{out}");
    }

    #[test]
    fn css_cannot_load_anything() {
        let out = make_inert(
            "<style>@import 'http://x/c.css'; body{background:URL(http://x/b)} \
             p{background:\\75rl(http://x/e)}</style><p style=\"background:url(http://x/s)\">t</p>",
        );
        let l = out.to_ascii_lowercase();
        assert!(!l.contains("@import"), "{out}");
        assert!(!l.contains("url("), "{out}");
        assert!(!l.contains("\\75"), "{out}");
        assert!(!l.contains("style=\""), "{out}");
    }

    #[test]
    fn broken_markup_never_panics() {
        for h in [
            "<",
            "<style>",
            "<a href='",
            "\u{0}<script",
            "<svg><use xlink:href=http://x/>",
        ] {
            let out = make_inert(h);
            assert!(!out.contains("http"), "{out}");
        }
    }
}
