//! New secrets (session ids, CSRF tokens, API tokens) and the session cookie's header values.

use crate::principal::SESSION_COOKIE;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::time::Duration;

/// Random bytes in a session id, a CSRF token and an API token: 256 bits, beyond guessing,
/// which is why the store may keep them as a plain SHA-256.
pub const SECRET_BYTES: usize = 32;

/// Prefix of API tokens, so secret scanners and people recognise a leaked one.
pub const API_TOKEN_PREFIX: &str = "sht_";

/// A fresh random secret, base64url without padding (43 characters).
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A fresh API token: `sht_` and a secret. Shown once; the store keeps its digest.
pub fn new_api_token() -> Result<String, getrandom::Error> {
    Ok(format!("{API_TOKEN_PREFIX}{}", new_secret()?))
}

/// `Set-Cookie` for a new session: only sent back to this site's own requests (`Strict`:
/// no cross-site request carries it, which is the first CSRF defence), never readable by
/// scripts, gone when the session ends.
pub(crate) fn set_cookie(id: &str, ttl: Duration, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that removes the session cookie.
pub(crate) fn clear_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_and_url_safe() {
        let a = new_secret().expect("random");
        assert_eq!(a.len(), 43);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(a, new_secret().expect("random"));
        assert!(new_api_token().expect("random").starts_with("sht_"));
    }
}
