//! The TLS part of `[http]`: the console listener's certificate and key, and whether its
//! cookies are marked `Secure`.

use super::HttpFile;
use anyhow::{Result, bail};
use std::path::PathBuf;

/// PEM files that make the HTTP listener speak HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// `[http] tls_cert`/`tls_key` (both or neither; checked for readability now, so a typo
/// stops `serve` before the ready line) and the cookie flag: `Secure` with TLS here, or
/// when `secure_cookies = true` says a TLS proxy sits in front.
pub(super) fn tls(h: &HttpFile) -> Result<(Option<HttpTls>, bool)> {
    let tls = match (&h.tls_cert, &h.tls_key) {
        (None, None) => None,
        (Some(cert), Some(key)) => {
            for (field, path) in [("http.tls_cert", cert), ("http.tls_key", key)] {
                if let Err(e) = std::fs::metadata(path) {
                    bail!("{field} {} cannot be read: {e}", path.display());
                }
            }
            Some(HttpTls {
                cert: cert.clone(),
                key: key.clone(),
            })
        }
        _ => bail!("http.tls_cert and http.tls_key go together: set both or neither"),
    };
    if tls.is_some() && h.secure_cookies == Some(false) {
        bail!(
            "http.secure_cookies = false with TLS on the listener: cookies are always Secure over TLS"
        );
    }
    let secure = tls.is_some() || h.secure_cookies.unwrap_or(false);
    Ok((tls, secure))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(cert: Option<&str>, key: Option<&str>, secure: Option<bool>) -> HttpFile {
        HttpFile {
            tls_cert: cert.map(PathBuf::from),
            tls_key: key.map(PathBuf::from),
            secure_cookies: secure,
            ..HttpFile::default()
        }
    }

    #[test]
    fn tls_needs_both_readable_files_and_makes_cookies_secure() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        std::fs::write(&cert, "x").expect("write");
        std::fs::write(&key, "x").expect("write");
        let (c, k) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));

        assert_eq!(tls(&file(None, None, None)).expect("plain"), (None, false));
        assert_eq!(
            tls(&file(None, None, Some(true))).expect("proxy"),
            (None, true)
        );
        let (on, secure) = tls(&file(Some(c), Some(k), None)).expect("tls");
        assert_eq!(on.map(|t| t.cert), Some(cert.clone()));
        assert!(secure);

        let half = tls(&file(Some(c), None, None)).expect_err("half");
        assert!(half.to_string().contains("go together"), "{half}");
        let missing = dir.path().join("nope.pem");
        let gone = tls(&file(Some(c), missing.to_str(), None)).expect_err("missing");
        assert!(gone.to_string().contains("http.tls_key"), "{gone}");
        assert!(tls(&file(Some(c), Some(k), Some(false))).is_err());
    }
}
