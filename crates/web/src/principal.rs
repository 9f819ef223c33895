//! Who is asking: an API token or a console login session, turned into a [`Principal`].
//!
//! Two ways in, checked in this order:
//! - `Authorization: Bearer <token>` (automation). Tokens are 256-bit random values, looked up
//!   by their SHA-256 digest, so the store never holds one that could be replayed.
//! - the session cookie set at login (browsers). Its requests that change something must also
//!   carry the session's CSRF token (see [`Principal::check_csrf`]).
//!
//! Handlers take [`Principal`] (any role) or [`Admin`] as an extractor; a request without valid
//! credentials gets 401 before the handler runs, a reader asking for an admin action 403.

use crate::error::{ApiError, JsonError};
use crate::state::Console;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use store::Role;

/// Name of the login session cookie.
pub const SESSION_COOKIE: &str = "spamhattan_session";

/// Longest cookie or `Authorization` value looked at; longer ones are refused unread.
pub const MAX_CREDENTIAL_BYTES: usize = 4096;

/// How the request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A login session; forms must echo `csrf`.
    Session { csrf: String },
    /// An API token (never subject to CSRF: browsers do not attach it by themselves).
    Token,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub name: String,
    pub role: Role,
    pub via: Via,
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// For requests that change state: a session caller must present its CSRF token
    /// (compared in constant time); token callers pass.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), ApiError> {
        match &self.via {
            Via::Token => Ok(()),
            Via::Session { csrf } => match presented {
                Some(p) if constant_time_eq(p.as_bytes(), csrf.as_bytes()) => Ok(()),
                _ => Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "Forbidden",
                    "missing or wrong CSRF token; reload the page and try again",
                )),
            },
        }
    }
}

/// SHA-256 of a secret (token or session id), the form the store keeps.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The value of cookie `name` in the request's `Cookie` headers, if present once.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        if value.len() > MAX_CREDENTIAL_BYTES {
            return None;
        }
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k == name
            {
                if found.is_some() {
                    // Two cookies of the same name: one was planted (cookie tossing).
                    return None;
                }
                found = Some(v);
            }
        }
    }
    found
}

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() || value.len() > MAX_CREDENTIAL_BYTES {
        return Err(ApiError::unauthorized());
    }
    let value = value.to_str().map_err(|_| ApiError::unauthorized())?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(Some(token.trim())),
        _ => Err(ApiError::unauthorized()),
    }
}

/// The principal of a request, or `None` when it carries no credentials. Credentials that
/// are presented but wrong are an error (401), never a silent anonymous request.
pub fn authenticate(console: &Console, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    let now = model::now();
    if let Some(token) = bearer(headers)? {
        let found = console
            .store
            .token_by_digest(&digest(token))
            .map_err(|e| ApiError::internal("token lookup", &e))?
            .ok_or_else(ApiError::unauthorized)?;
        // Best effort: a failed `last_used` update must not fail the request.
        if let Err(e) = console.store.touch_token(&found.name, now) {
            tracing::warn!(error = %e, "could not record a token's use");
        }
        return Ok(Some(Principal {
            name: found.name,
            role: found.role,
            via: Via::Token,
        }));
    }
    if let Some(session) = cookie(headers, SESSION_COOKIE) {
        let found = console
            .store
            .web_session(&digest(session), now)
            .map_err(|e| ApiError::internal("session lookup", &e))?
            .ok_or_else(ApiError::unauthorized)?;
        return Ok(Some(Principal {
            name: found.user,
            role: found.role,
            via: Via::Session { csrf: found.csrf },
        }));
    }
    Ok(None)
}

/// Rejections are JSON (the API's shape); console pages use their own extractor that
/// redirects to the login page instead.
impl FromRequestParts<Arc<Console>> for Principal {
    type Rejection = JsonError;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        let console = Arc::clone(console);
        let headers = parts.headers.clone();
        Ok(
            tokio::task::spawn_blocking(move || authenticate(&console, &headers))
                .await
                .map_err(|e| ApiError::internal("authentication task", &e))??
                .ok_or_else(ApiError::unauthorized)?,
        )
    }
}

/// A principal with the admin role (403 for readers).
#[derive(Debug, Clone)]
pub struct Admin(pub Principal);

impl FromRequestParts<Arc<Console>> for Admin {
    type Rejection = JsonError;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        let p = Principal::from_request_parts(parts, console).await?;
        if p.is_admin() {
            Ok(Admin(p))
        } else {
            Err(JsonError(ApiError::new(
                StatusCode::FORBIDDEN,
                "Forbidden",
                "this needs the admin role",
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_cookie_set_twice_is_refused() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; spamhattan_session=x"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("x"));
        h.append(
            header::COOKIE,
            HeaderValue::from_static("spamhattan_session=y"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), None);
    }

    #[test]
    fn csrf_is_required_of_sessions_only() {
        let session = Principal {
            name: "a".into(),
            role: Role::Admin,
            via: Via::Session { csrf: "t0k".into() },
        };
        assert!(session.check_csrf(None).is_err());
        assert!(session.check_csrf(Some("t0j")).is_err());
        assert!(session.check_csrf(Some("t0k")).is_ok());
        let token = Principal {
            via: Via::Token,
            ..session
        };
        assert!(token.check_csrf(None).is_ok());
    }
}
