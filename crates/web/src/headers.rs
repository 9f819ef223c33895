//! Security headers on every response, unless the handler chose its own.
//!
//! The console shows attacker-written text all day; these are the browser-side fences
//! behind the escaping: no MIME sniffing into script, no framing of our pages, no referrer
//! leaking a console URL to a site an analyst visits, and a CSP that allows nothing but our
//! own origin. A handler that needs a stricter or different policy (the sandboxed mail body)
//! sets its own header, and it is kept.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The default Content-Security-Policy: our own scripts, styles and images only, images
/// also from `data:` (charts), no plugins, no `<base>` tricks, forms post only to us, and
/// no page of ours inside a frame of anyone else.
pub const DEFAULT_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
     script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Paths whose responses may be cached: static assets, and the feed and TAXII endpoints,
/// which answer with validators (`ETag`) of their own. Everything else shows data and is
/// `no-store`, so a shared machine's cache never keeps a page of mail.
const CACHEABLE_PREFIXES: [&str; 3] = ["/static/", "/feeds/", "/taxii2/"];

const DEFAULTS: [(HeaderName, &str); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::CONTENT_SECURITY_POLICY, DEFAULT_CSP),
];

/// The middleware (`axum::middleware::from_fn(security)`), applied by [`crate::app`].
pub async fn security(req: Request, next: Next) -> Response {
    let cacheable = CACHEABLE_PREFIXES
        .iter()
        .any(|p| req.uri().path().starts_with(p));
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    for (name, value) in DEFAULTS {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    let coop = HeaderName::from_static("cross-origin-opener-policy");
    if !h.contains_key(&coop) {
        h.insert(coop, HeaderValue::from_static("same-origin"));
    }
    if !cacheable && !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}
