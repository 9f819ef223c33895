//! Who may read what: credentials to the set of audiences a request may read.
//!
//! `Authorization: Basic` matches the users of an audience, `Token <t>` and `Bearer <t>` its
//! tokens; audiences marked `anonymous` are readable by everyone. Secrets are compared in
//! constant time (over SHA-256 digests, so neither the length nor the first differing byte
//! leaks), every configured secret is checked (no early exit), and nothing here logs a
//! credential. Presented credentials that match nothing are refused (401) even when
//! anonymous audiences exist: a typo must not silently downgrade a consumer to the public feed.

use crate::error::ApiError;
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use base64::Engine;
use feeds::intel::Audience;
use sha2::{Digest, Sha256};

/// Longest `Authorization` value looked at; longer ones are refused unread.
pub const MAX_AUTHORIZATION_BYTES: usize = 4096;

/// The audiences a request may read, by index into the configured list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    readable: Vec<bool>,
    /// Credentials were presented (and matched). Decides 401 versus 404 for what stays hidden.
    authenticated: bool,
}

impl Access {
    pub fn can_read(&self, audience: usize) -> bool {
        self.readable.get(audience).copied().unwrap_or(false)
    }

    /// Indexes of the readable audiences, in configuration order.
    pub fn readable(&self) -> impl Iterator<Item = usize> + '_ {
        self.readable
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.then_some(i))
    }

    pub fn any(&self) -> bool {
        self.readable.iter().any(|r| *r)
    }

    /// What to answer for something the request may not see: 401 with a challenge when no
    /// credentials were presented (they might help), else 404 (it does not exist for them).
    pub fn hidden(&self) -> ApiError {
        if self.authenticated {
            ApiError::not_found()
        } else {
            ApiError::unauthorized()
        }
    }

    /// `Ok` when at least one audience is readable (discovery, index pages), else 401.
    pub fn require_any(&self) -> Result<(), ApiError> {
        if self.any() {
            Ok(())
        } else {
            Err(ApiError::unauthorized())
        }
    }
}

/// The access the request's `Authorization` header grants over `audiences`.
pub fn authenticate(headers: &HeaderMap, audiences: &[Audience]) -> Result<Access, ApiError> {
    let anonymous: Vec<bool> = audiences.iter().map(|a| a.anonymous).collect();
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(Access {
            readable: anonymous,
            authenticated: false,
        });
    };
    if values.next().is_some() || value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(ApiError::unauthorized());
    }
    let value = value.to_str().map_err(|_| ApiError::unauthorized())?;
    let matched = match parse(value) {
        Some(Credentials::Basic { user, password }) => audiences
            .iter()
            .map(|a| {
                a.users.iter().fold(false, |hit, u| {
                    // `&` not `&&`: both comparisons run for every configured user.
                    let this = ct_eq(u.user.as_bytes(), user.as_bytes())
                        & ct_eq(u.password.as_bytes(), password.as_bytes());
                    hit | this
                })
            })
            .collect::<Vec<bool>>(),
        Some(Credentials::Token(token)) => audiences
            .iter()
            .map(|a| {
                a.tokens
                    .iter()
                    .fold(false, |hit, t| hit | ct_eq(t.as_bytes(), token.as_bytes()))
            })
            .collect(),
        None => return Err(ApiError::unauthorized()),
    };
    if !matched.iter().any(|m| *m) {
        return Err(ApiError::unauthorized());
    }
    Ok(Access {
        readable: matched
            .iter()
            .zip(&anonymous)
            .map(|(m, a)| *m || *a)
            .collect(),
        authenticated: true,
    })
}

enum Credentials {
    Basic { user: String, password: String },
    Token(String),
}

/// Parses `Basic <base64 user:password>`, `Token <t>` or `Bearer <t>` (scheme names are
/// case-insensitive per RFC 7235).
fn parse(value: &str) -> Option<Credentials> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (user, password) = text.split_once(':')?;
        return Some(Credentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
        });
    }
    if (scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer"))
        && !rest.is_empty()
    {
        return Some(Credentials::Token(rest.to_string()));
    }
    None
}

/// Constant-time equality: compares SHA-256 digests with a fold that never exits early.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(ct_eq(b"secret-token-123", b"secret-token-123"));
        assert!(!ct_eq(b"secret-token-123", b"secret-token-124"));
        assert!(!ct_eq(b"secret", b"secret-token-123"));
        assert!(ct_eq(b"", b""));
    }

    #[test]
    fn schemes_parse_case_insensitively() {
        assert!(matches!(parse("bearer abc"), Some(Credentials::Token(t)) if t == "abc"));
        assert!(matches!(parse("TOKEN abc"), Some(Credentials::Token(t)) if t == "abc"));
        // "user:pa:ss" -> password keeps its colon.
        let b = base64::engine::general_purpose::STANDARD.encode("user:pa:ss");
        assert!(matches!(
            parse(&format!("Basic {b}")),
            Some(Credentials::Basic { user, password }) if user == "user" && password == "pa:ss"
        ));
        assert!(parse("Basic !!!").is_none());
        assert!(parse("Digest x").is_none());
        assert!(parse("Bearer").is_none());
    }
}
