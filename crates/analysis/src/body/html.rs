//! HTML body to visible text, in one linear pass of a small tokenizer (no DOM): tags and
//! attributes, comments, raw-text elements (`script`, `style`) and entities. It keeps what the
//! body analysis needs: the visible text, the text hidden by inline styles, the links with
//! their anchor text, URL-bearing attributes, CSS, and forms.
//!
//! Why not lol_html: its streaming handlers do not give a text chunk its ancestors' styles, and
//! hidden-text detection needs exactly that; an own tokenizer is a few lines and never fails.

use super::entities::decode_entities;
use super::hidden;

/// Open elements tracked. Real mail nests 20–40 deep (tables in tables); deeper nesting is an
/// attack on parsers and is flattened (its text still counts, its styles no longer do).
pub(crate) const MAX_STACK: usize = 256;

/// Links, URL attributes and forms kept per body: beyond this the URL limit stops anyway.
pub(crate) const MAX_ITEMS: usize = 10_000;

/// Characters of anchor text kept per link (enough to read a shown URL).
const MAX_ANCHOR_TEXT: usize = 256;

/// Bytes of `<style>` content kept for `url()` extraction.
const MAX_CSS: usize = 256 << 10;

/// Elements with no end tag: never pushed on the stack.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen",
];

/// Elements whose content a reader does not see, with no intent to hide (not a trick).
const NOT_RENDERED: &[&str] = &["head", "title", "template", "noscript", "xml"];

#[derive(Debug, Default)]
pub(crate) struct Link {
    pub href: String,
    pub text: String,
}

#[derive(Debug, Default)]
pub(crate) struct Form {
    pub action: String,
    pub password: bool,
}

/// What one HTML body holds.
#[derive(Debug, Default)]
pub(crate) struct Doc {
    pub text: String,
    /// Tricks (`hidden-css`, `tiny-font`, `same-colour`) that hid some non-blank text.
    pub hidden: Vec<&'static str>,
    pub links: Vec<Link>,
    /// `(attribute, value)` of URL-bearing attributes other than `a href`.
    pub url_attrs: Vec<(String, String)>,
    pub css: String,
    pub forms: Vec<Form>,
    /// The nesting limit was reached.
    pub too_deep: bool,
}

struct Frame {
    name: String,
    hide: Option<&'static str>,
    silent: bool,
    /// Background in effect inside this element (own or inherited).
    background: Option<String>,
}

/// Parses `html` (already bounded by the caller) in one pass.
pub(crate) fn parse(html: &str) -> Doc {
    let mut doc = Doc::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut link: Option<usize> = None;
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = memchr::memchr(b'<', rest.as_bytes()) else {
            text(&mut doc, &stack, link, rest);
            break;
        };
        text(&mut doc, &stack, link, rest.get(..lt).unwrap_or_default());
        rest = rest.get(lt..).unwrap_or_default();
        let after = rest.get(1..).unwrap_or_default();
        if let Some(body) = after.strip_prefix("!--") {
            rest = body
                .find("-->")
                .and_then(|e| body.get(e + 3..))
                .unwrap_or_default();
        } else if let Some(end) = after.strip_prefix('/') {
            let name = tag_name(end);
            rest = end
                .find('>')
                .and_then(|e| end.get(e + 1..))
                .unwrap_or_default();
            if let Some(pos) = stack.iter().rposition(|f| f.name == name) {
                stack.truncate(pos);
            }
            if name == "a" {
                link = None;
            }
        } else if after.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let (tag, remaining) = start_tag(after);
            rest = remaining;
            let raw = matches!(tag.name.as_str(), "script" | "style").then(|| tag.name.clone());
            let depth = stack.len();
            open(&mut doc, &mut stack, &mut link, tag);
            if let Some(name) = raw {
                let (content, remaining) = raw_text(rest, &name);
                if name == "style" && doc.css.len() + content.len() <= MAX_CSS {
                    doc.css.push_str(content);
                }
                rest = remaining;
                stack.truncate(depth);
            }
        } else if after.starts_with(['!', '?']) {
            rest = after
                .find('>')
                .and_then(|e| after.get(e + 1..))
                .unwrap_or_default();
        } else {
            text(&mut doc, &stack, link, "<");
            rest = after;
        }
    }
    doc
}

/// A start tag: lower-case name and attributes (names lower case, values entity-decoded).
pub(crate) struct Tag {
    pub name: String,
    pub attrs: Vec<(String, String)>,
}

impl Tag {
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Attributes kept per tag: a tag with 100,000 attributes is an attack, not markup.
const MAX_ATTRS: usize = 64;

fn tag_name(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | ':' | '_'))
        .take(32)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Parses a start tag after its `<`; returns the tag and the input after its `>`.
fn start_tag(s: &str) -> (Tag, &str) {
    let name = tag_name(s);
    let mut rest = s.get(name.len()..).unwrap_or_default();
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        if rest.is_empty() {
            break;
        }
        if let Some(r) = rest.strip_prefix('>') {
            rest = r;
            break;
        }
        let n = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '=' | '>' | '/'))
            .unwrap_or(rest.len())
            .max(1);
        let attr = rest.get(..n).unwrap_or_default().to_ascii_lowercase();
        rest = rest.get(n..).unwrap_or_default().trim_start();
        let mut value = String::new();
        if let Some(r) = rest.strip_prefix('=') {
            let r = r.trim_start();
            let (v, remaining) = match r.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let inner = r.get(1..).unwrap_or_default();
                    match inner.find(q) {
                        Some(e) => (
                            inner.get(..e).unwrap_or_default(),
                            inner.get(e + 1..).unwrap_or_default(),
                        ),
                        None => (inner, ""),
                    }
                }
                _ => {
                    let e = r
                        .find(|c: char| c.is_whitespace() || c == '>')
                        .unwrap_or(r.len());
                    (
                        r.get(..e).unwrap_or_default(),
                        r.get(e..).unwrap_or_default(),
                    )
                }
            };
            value = decode_entities(v).into_owned();
            rest = remaining;
        }
        if attrs.len() < MAX_ATTRS {
            attrs.push((attr, value));
        }
    }
    (Tag { name, attrs }, rest)
}

/// Content of a raw-text element up to its end tag, and the input after that end tag.
fn raw_text<'a>(s: &'a str, name: &str) -> (&'a str, &'a str) {
    let close = format!("</{name}");
    let mut from = 0;
    while let Some(p) = s
        .get(from..)
        .and_then(|r| memchr::memchr(b'<', r.as_bytes()))
    {
        let at = from + p;
        let candidate = s.get(at..at + close.len()).unwrap_or_default();
        if candidate.eq_ignore_ascii_case(&close) {
            let after = s.get(at..).unwrap_or_default();
            let end = after
                .find('>')
                .and_then(|e| after.get(e + 1..))
                .unwrap_or_default();
            return (s.get(..at).unwrap_or_default(), end);
        }
        from = at + 1;
    }
    (s, "")
}

fn open(doc: &mut Doc, stack: &mut Vec<Frame>, link: &mut Option<usize>, tag: Tag) {
    let style = hidden::style_of(&tag);
    let inherited = stack.last().and_then(|f| f.background.clone());
    let background = style.background.clone().or(inherited);
    let shown_on = background.as_deref().unwrap_or(hidden::PAGE_BACKGROUND);
    let hide = style.trick.or_else(|| {
        style
            .colour
            .as_deref()
            .is_some_and(|c| c == shown_on)
            .then_some("same-colour")
    });
    let silent = NOT_RENDERED.contains(&tag.name.as_str());
    match tag.name.as_str() {
        "a" => {
            if let Some(href) = tag.attr("href")
                && doc.links.len() < MAX_ITEMS
            {
                *link = Some(doc.links.len());
                doc.links.push(Link {
                    href: href.trim().to_string(),
                    text: String::new(),
                });
            }
        }
        "form" if doc.forms.len() < MAX_ITEMS => doc.forms.push(Form {
            action: tag.attr("action").unwrap_or_default().trim().to_string(),
            password: false,
        }),
        "input"
            if tag
                .attr("type")
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("password")) =>
        {
            match doc.forms.last_mut() {
                Some(f) => f.password = true,
                None => doc.forms.push(Form {
                    action: String::new(),
                    password: true,
                }),
            }
        }
        "meta"
            if tag
                .attr("http-equiv")
                .is_some_and(|v| v.eq_ignore_ascii_case("refresh")) =>
        {
            if let Some(c) = tag.attr("content") {
                doc.url_attrs.push(("refresh".to_string(), c.to_string()));
            }
        }
        _ => {}
    }
    for (name, value) in &tag.attrs {
        if (matches!(
            name.as_str(),
            "src" | "action" | "background" | "srcset" | "style" | "formaction" | "data"
        ) || (name == "href" && tag.name != "a"))
            && doc.url_attrs.len() < MAX_ITEMS
        {
            doc.url_attrs.push((name.clone(), value.clone()));
        }
    }
    if VOID.contains(&tag.name.as_str()) {
        return;
    }
    if stack.len() >= MAX_STACK {
        doc.too_deep = true;
        return;
    }
    stack.push(Frame {
        name: tag.name,
        hide,
        silent,
        background,
    });
}

fn text(doc: &mut Doc, stack: &[Frame], link: Option<usize>, raw: &str) {
    if raw.is_empty() {
        return;
    }
    if stack.iter().any(|f| f.silent) {
        return;
    }
    let decoded = decode_entities(raw);
    if let Some(trick) = stack.iter().rev().find_map(|f| f.hide) {
        if !decoded.trim().is_empty() && !doc.hidden.contains(&trick) {
            doc.hidden.push(trick);
        }
        return;
    }
    if let Some(l) = link.and_then(|i| doc.links.get_mut(i))
        && l.text.len() < MAX_ANCHOR_TEXT
    {
        l.text.push_str(&decoded);
    }
    // Block boundaries are lost without a DOM; a space keeps words from gluing together.
    if !doc.text.ends_with(char::is_whitespace) && !doc.text.is_empty() {
        doc.text.push(' ');
    }
    doc.text.push_str(&decoded);
}
