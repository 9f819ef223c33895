//! [`PageUser`]: who is looking at a console page; anonymous visitors go to the login page.

use crate::error::PlainError;
use crate::principal::{self, Principal, Via};
use crate::state::Console;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Longest `next` target carried through the login page; longer ones become `/`.
pub const MAX_NEXT_BYTES: usize = 2048;

/// The signed-in user of a console page. Unlike [`Principal`], a request without a valid
/// session (or token) is answered `303 See Other` to `/login?next=<this page>`.
#[derive(Debug, Clone)]
pub struct PageUser(pub Principal);

impl PageUser {
    pub fn principal(&self) -> &Principal {
        &self.0
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn is_admin(&self) -> bool {
        self.0.is_admin()
    }

    /// The session's CSRF token, for the hidden `csrf` field of every form (and the
    /// `X-CSRF-Token` header of script requests). Empty for token callers, who need none.
    pub fn csrf(&self) -> &str {
        match &self.0.via {
            Via::Session { csrf } => csrf,
            Via::Token => "",
        }
    }
}

impl FromRequestParts<Arc<Console>> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        let shared = Arc::clone(console);
        let headers = parts.headers.clone();
        let found =
            tokio::task::spawn_blocking(move || principal::authenticate(&shared, &headers)).await;
        match found {
            Ok(Ok(Some(p))) => Ok(PageUser(p)),
            // No credentials, or stale ones (an expired session): log in again.
            Ok(Ok(None)) => Err(login_redirect(
                parts.uri.path_and_query().map(|p| p.as_str()),
            )),
            Ok(Err(e)) if e.status == StatusCode::UNAUTHORIZED => Err(login_redirect(
                parts.uri.path_and_query().map(|p| p.as_str()),
            )),
            Ok(Err(e)) => Err(PlainError(e).into_response()),
            Err(e) => Err(
                PlainError(crate::error::ApiError::internal("authentication task", &e))
                    .into_response(),
            ),
        }
    }
}

/// `303 See Other` to the login page, which returns to `target` (when it is a local path).
pub fn login_redirect(target: Option<&str>) -> Response {
    let next = safe_next(target.unwrap_or("/"));
    let location = if next == "/" {
        "/login".to_string()
    } else {
        format!("/login?next={}", percent_encode(next))
    };
    see_other(&location)
}

pub(crate) fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `next` when it is a path on this site, else `/`. Refused: anything not starting with one
/// `/` (absolute URLs, `//host` and `/\host`, which browsers treat as another host), control
/// characters and backslashes anywhere, overlong targets. This is what keeps the login page
/// from being an open redirect.
pub fn safe_next(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= MAX_NEXT_BYTES
        && !next.bytes().any(|b| b == b'\\' || b.is_ascii_control());
    if local { next } else { "/" }
}

/// Percent-encodes all but unreserved characters and `/` (for a query value).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil.example",
            "/ok\r\nSet-Cookie: x=1",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
        assert_eq!(safe_next("/messages?q=from:a"), "/messages?q=from:a");
        assert_eq!(safe_next(&format!("/{}", "a".repeat(MAX_NEXT_BYTES))), "/");
    }

    #[test]
    fn the_redirect_carries_the_page_encoded() {
        let r = login_redirect(Some("/messages?q=a b&x=1"));
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(
            r.headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok()),
            Some("/login?next=/messages%3Fq%3Da%20b%26x%3D1")
        );
        let r = login_redirect(Some("https://evil.example/"));
        assert_eq!(
            r.headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok()),
            Some("/login")
        );
    }
}
