//! One pass of `lol_html` over the page: the addresses in attributes, the forms, the refresh
//! targets, the frames, and the text of every script (plus inline event handlers).

use lol_html::html_content::{Element, TextChunk};
use lol_html::{HtmlRewriter, MemorySettings, Settings, element, text};
use model::report::HtmlForm;
use std::cell::RefCell;

/// Parser memory for tags and attributes split across its buffer; a page that needs more is a
/// bomb, not a lure.
const MAX_PARSER_MEMORY: usize = 32 << 20;
/// Attribute URLs kept per page.
const MAX_PAGE_URLS: usize = 2_000;
/// Forms kept per page.
const MAX_FORMS: usize = 100;

/// What the page is made of.
#[derive(Debug, Default)]
pub(super) struct Page {
    /// (attribute kind: `href`, `src`, `action`, `refresh`, ...; value)
    pub urls: Vec<(&'static str, String)>,
    pub forms: Vec<HtmlForm>,
    pub scripts: u32,
    /// Script element text and inline event handlers, joined by newlines (bounded).
    pub script: String,
    pub refresh: Vec<String>,
    pub iframes: Vec<String>,
    /// `<a download>` written in the markup.
    pub download_attribute: bool,
    max_script: usize,
}

/// Reads `data` as HTML. The error, when the parser gave up, comes with what was read so far.
pub(super) fn read(data: &[u8], max_script: usize) -> (Page, Option<String>) {
    let page = RefCell::new(Page {
        max_script,
        ..Page::default()
    });
    let settings = Settings::new()
        .with_strict(false)
        .with_memory_settings(
            MemorySettings::new().with_max_allowed_memory_usage(MAX_PARSER_MEMORY),
        )
        .append_element_content_handler(element!("*", |el: &mut Element<'_, '_>| {
            on_element(&mut page.borrow_mut(), el);
            Ok(())
        }))
        .append_element_content_handler(text!("script", |t: &mut TextChunk<'_>| {
            let mut p = page.borrow_mut();
            p.push_script(t.as_str());
            if t.last_in_text_node() {
                p.push_script("\n");
            }
            Ok(())
        }));
    let error = {
        let mut rewriter = HtmlRewriter::new(settings, |_: &[u8]| {});
        match rewriter.write(data) {
            Ok(()) => rewriter.end().err(),
            Err(e) => Some(e),
        }
    };
    (page.into_inner(), error.map(|e| e.to_string()))
}

impl Page {
    fn push_script(&mut self, s: &str) {
        if self.script.len() + s.len() <= self.max_script {
            self.script.push_str(s);
        }
    }

    fn push_url(&mut self, kind: &'static str, value: Option<String>) {
        if let Some(v) = value.map(|v| unentity(v.trim()))
            && !v.is_empty()
            && self.urls.len() < MAX_PAGE_URLS
        {
            self.urls.push((kind, v));
        }
    }
}

fn on_element(p: &mut Page, el: &Element<'_, '_>) {
    let tag = el.tag_name();
    match tag.as_str() {
        "a" | "area" | "link" | "base" => {
            if el.has_attribute("download") {
                p.download_attribute = true;
            }
            p.push_url("href", el.get_attribute("href"));
        }
        "img" | "embed" | "source" | "video" | "audio" | "input" => {
            p.push_url("src", el.get_attribute("src"));
        }
        "script" => {
            p.scripts += 1;
            p.push_url("src", el.get_attribute("src"));
        }
        "iframe" | "frame" => {
            let src = el.get_attribute("src").map(|s| unentity(s.trim()));
            if let Some(s) = src.clone() {
                p.iframes.push(s);
            }
            p.push_url("src", src);
        }
        "object" => p.push_url("src", el.get_attribute("data")),
        "form" if p.forms.len() < MAX_FORMS => {
            let action = el.get_attribute("action").map(|a| unentity(a.trim()));
            p.push_url("action", action.clone());
            p.forms.push(HtmlForm {
                action: action.unwrap_or_default(),
                method: el
                    .get_attribute("method")
                    .unwrap_or_else(|| "get".to_string())
                    .to_ascii_lowercase(),
                password_field: false,
            });
        }
        "meta" => {
            let refresh = el
                .get_attribute("http-equiv")
                .is_some_and(|h| h.eq_ignore_ascii_case("refresh"));
            if refresh
                && let Some(target) = el.get_attribute("content").and_then(|c| refresh_target(&c))
            {
                p.push_url("refresh", Some(target.clone()));
                p.refresh.push(target);
            }
        }
        _ => {}
    }
    if tag == "input"
        && el
            .get_attribute("type")
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("password"))
    {
        match p.forms.last_mut() {
            Some(form) => form.password_field = true,
            // A password field outside any form is sent by script: recorded as a form with
            // no action.
            None => p.forms.push(HtmlForm {
                action: String::new(),
                method: String::new(),
                password_field: true,
            }),
        }
    }
    for attr in el.attributes() {
        let value = attr.value();
        let script = attr.name().starts_with("on")
            || (attr.name() == "href"
                && value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("javascript:"));
        if script {
            p.push_script(&value);
            p.push_script("\n");
        }
    }
}

/// The address of `<meta http-equiv=refresh content="0; url=...">`.
fn refresh_target(content: &str) -> Option<String> {
    let lower = content.to_ascii_lowercase();
    let at = lower.find("url")?;
    let rest = content.get(at + 3..)?.trim_start();
    let rest = rest.strip_prefix('=')?.trim();
    let t = rest.trim_matches(|c| c == '\'' || c == '"').trim();
    (!t.is_empty()).then(|| unentity(t))
}

/// The few entities that appear in attribute URLs (`&amp;`, numeric references).
fn unentity(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or_default());
        rest = rest.get(i..).unwrap_or_default();
        let end = rest.get(..rest.len().min(12)).and_then(|h| h.find(';'));
        let decoded = end.and_then(|e| {
            let name = rest.get(1..e)?;
            match name {
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "lt" => Some('<'),
                "gt" => Some('>'),
                _ => {
                    let n = name.strip_prefix('#')?;
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }
        });
        match (decoded, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = rest.get(e + 1..).unwrap_or_default();
            }
            _ => {
                out.push('&');
                rest = rest.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}
