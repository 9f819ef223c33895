//! TLS: the server certificate (configured PEM files or a self-signed one made at first start)
//! and the rustls server configuration.
//!
//! rustls speaks only TLS 1.2 and 1.3. Old bots that fail the handshake are data, not errors:
//! the session records the failure and the ClientHello fingerprint (see `ja4.rs`).

use crate::config::TlsSource;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} holds no usable PEM {what}")]
    Pem { path: PathBuf, what: &'static str },
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
    #[error("the certificate and key do not fit together: {0}")]
    Config(String),
}

/// Builds the rustls server configuration from the configured source.
pub fn server_config(source: &TlsSource, hostname: &str) -> Result<Arc<ServerConfig>, TlsError> {
    let (cert_path, key_path) = match source {
        TlsSource::Files { cert, key } => (cert.clone(), key.clone()),
        TlsSource::SelfSigned { dir } => ensure_self_signed(dir, hostname)?,
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|_| TlsError::Pem {
            path: cert_path.clone(),
            what: "certificate",
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: cert_path,
            what: "certificate",
        });
    }
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|_| TlsError::Pem {
        path: key_path.clone(),
        what: "private key",
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    Ok(Arc::new(config))
}

/// Returns the paths of the self-signed certificate in `dir`, creating it on first use.
///
/// The subject is the trap's hostname and nothing else: a generator's default subject (rcgen
/// says "rcgen self signed cert") would fingerprint the trap to anyone who opens a connection.
fn ensure_self_signed(dir: &Path, hostname: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    if cert_path.exists() && key_path.exists() {
        return Ok((cert_path, key_path));
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
        path: dir.to_owned(),
        source,
    })?;
    let mut params = rcgen::CertificateParams::new(vec![hostname.to_owned()])
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, hostname);
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(3650);
    let key = rcgen::KeyPair::generate().map_err(|e| TlsError::Generate(e.to_string()))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    write_new(&key_path, key.serialize_pem().as_bytes())?;
    write_new(&cert_path, cert.pem().as_bytes())?;
    Ok((cert_path, key_path))
}

/// Writes a generated file whole or not at all: temporary file (owner-only: one of them is the
/// private key), fsync, rename, fsync of the directory. Without the syncs a crash or a file
/// system turning read-only right after the first start left an empty `cert.pem` behind, and
/// the next start refused to run ("holds no usable PEM certificate").
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| TlsError::Write { path, source }
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(failed(&tmp))?;
    file.write_all(bytes).map_err(failed(&tmp))?;
    file.sync_all().map_err(failed(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(failed(path))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(failed(dir))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn the_generated_key_is_private_and_nothing_temporary_is_left() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (cert, key) = ensure_self_signed(dir.path(), "mx.example.net")?;
        let mode = std::fs::metadata(&key)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the private key must be owner-only");
        assert!(std::fs::read_to_string(&cert)?.contains("BEGIN CERTIFICATE"));
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir.path())? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
        // A second start reuses the pair instead of generating a new one.
        let before = std::fs::read(&cert)?;
        ensure_self_signed(dir.path(), "mx.example.net")?;
        assert_eq!(std::fs::read(&cert)?, before);
        Ok(())
    }
}
