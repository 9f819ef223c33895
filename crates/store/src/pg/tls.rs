//! TLS to PostgreSQL with libpq's `sslmode` meanings (rustls on ring).
//!
//! A collector's store usually sits on another host, and every raw message crosses that link.
//! Operators paste libpq connection strings, so the settings mean what libpq says they mean:
//!
//! | `sslmode` | TLS | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (default) | when the server offers it | not checked |
//! | `require` | always, or no connection | not checked; with `sslrootcert`, as `verify-ca` |
//! | `verify-ca` | always | chains to `sslrootcert` |
//! | `verify-full` | always | chains to `sslrootcert` and names the host connected to |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the operating system's
//! roots (libpq's keyword). tokio-postgres knows only the first three modes and no
//! `sslrootcert`, so [`Tls::split`] takes both settings out of the connection string (URL or
//! `key=value` form) before tokio-postgres parses the rest.
//!
//! Unlike libpq, `verify-*` without `sslrootcert` is refused (libpq would read
//! `~/.postgresql/root.crt`, a file a service account rarely has), and `sslrootcert` with
//! `prefer` is refused (it asks for a check that `prefer` never makes). Channel binding
//! (SCRAM-SHA-256-PLUS) is not offered: plain SCRAM over the verified channel.

use crate::error::{Result, StoreError};
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How a connection is protected, from `sslmode` (and `sslrootcert`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// The TLS settings of one store, made once when it opens (the CA file is read then).
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) mode: Mode,
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("mode", &self.mode).finish()
    }
}

impl Tls {
    /// Takes `sslmode` and `sslrootcert` out of a connection string: the rest (for
    /// tokio-postgres) and the TLS settings they name.
    pub(crate) fn split(conninfo: &str) -> Result<(String, Tls)> {
        let (rest, settings) = take_settings(conninfo)?;
        let mode = match settings.mode.as_deref() {
            None | Some("prefer") => Mode::Prefer,
            Some("disable") => Mode::Disable,
            Some("require") if settings.root.is_some() => Mode::VerifyCa,
            Some("require") => Mode::Require,
            Some("verify-ca") => Mode::VerifyCa,
            Some("verify-full") => Mode::VerifyFull,
            // libpq's `allow` tries plain first: a downgrade nobody should choose for raw mail.
            Some(other) => {
                return Err(StoreError::invalid(format!(
                    "[store] postgres url: sslmode={other}: use disable, prefer, require, verify-ca or verify-full"
                )));
            }
        };
        let verifying = matches!(mode, Mode::VerifyCa | Mode::VerifyFull);
        let config = match (&settings.root, verifying) {
            (Some(root), true) => verified_config(root, mode)?,
            (None, true) => {
                return Err(StoreError::invalid(
                    "[store] postgres url: sslmode=verify-ca and verify-full need sslrootcert (a PEM file of CA certificates, or `system`)",
                ));
            }
            (Some(_), false) => {
                return Err(StoreError::invalid(
                    "[store] postgres url: sslrootcert asks for a certificate check: use sslmode=verify-full (or verify-ca, require)",
                ));
            }
            (None, false) => unchecked_config()?,
        };
        Ok((rest, Tls { mode, config }))
    }

    /// The mode tokio-postgres negotiates with (every verifying mode requires TLS).
    pub(crate) fn ssl_mode(&self) -> postgres::config::SslMode {
        match self.mode {
            Mode::Disable => postgres::config::SslMode::Disable,
            Mode::Prefer => postgres::config::SslMode::Prefer,
            Mode::Require | Mode::VerifyCa | Mode::VerifyFull => postgres::config::SslMode::Require,
        }
    }

    /// What tokio-postgres calls to start TLS on a new connection.
    pub(crate) fn connector(&self) -> MakeRustls {
        MakeRustls {
            config: Arc::clone(&self.config),
            names_checked: self.mode == Mode::VerifyFull,
        }
    }
}

/// `sslmode` and `sslrootcert` as written (percent-decoded or unquoted).
#[derive(Debug, Default, PartialEq)]
struct Settings {
    mode: Option<String>,
    root: Option<String>,
}

const TAKEN: [&str; 2] = ["sslmode", "sslrootcert"];

fn take_settings(conninfo: &str) -> Result<(String, Settings)> {
    if conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://") {
        take_from_url(conninfo)
    } else {
        take_from_pairs(conninfo)
    }
}

fn remember(settings: &mut Settings, key: &str, value: String) {
    match key {
        "sslmode" => settings.mode = Some(value),
        _ => settings.root = Some(value),
    }
}

/// URL form: the settings are query parameters.
fn take_from_url(url: &str) -> Result<(String, Settings)> {
    let mut settings = Settings::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), settings));
    };
    let mut kept = Vec::new();
    for param in query.split('&') {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        if TAKEN.contains(&key) {
            remember(&mut settings, key, percent_decode(value)?);
        } else {
            kept.push(param);
        }
    }
    let rest = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, settings))
}

fn percent_decode(value: &str) -> Result<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| StoreError::invalid("[store] postgres url: a bad %-escape"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| StoreError::invalid("[store] postgres url: not UTF-8"))
}

/// `key=value` form (libpq's: spaces around `=` allowed, values quoted with `'`, `\` escapes):
/// the two settings' text is cut out, the rest left exactly as written.
fn take_from_pairs(conninfo: &str) -> Result<(String, Settings)> {
    let mut settings = Settings::default();
    let mut rest = String::with_capacity(conninfo.len());
    let chars: Vec<(usize, char)> = conninfo.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|(_, c)| *c);
    let offset = |i: usize| chars.get(i).map_or(conninfo.len(), |(o, _)| *o);
    let mut i = 0;
    let mut copied = 0;
    while i < chars.len() {
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        let start = i;
        while at(i).is_some_and(|c| c != '=' && !c.is_whitespace()) {
            i += 1;
        }
        let key = &conninfo[offset(start)..offset(i)];
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        if at(i) != Some('=') {
            // Not ours to judge: tokio-postgres reports the malformed string.
            return Ok((conninfo.to_string(), Settings::default()));
        }
        i += 1;
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        let mut value = String::new();
        let quoted = at(i) == Some('\'');
        if quoted {
            i += 1;
        }
        while let Some(c) = at(i) {
            if (quoted && c == '\'') || (!quoted && c.is_whitespace()) {
                break;
            }
            if c == '\\' {
                i += 1;
            }
            if let Some(c) = at(i) {
                value.push(c);
            }
            i += 1;
        }
        if quoted {
            if at(i) != Some('\'') {
                return Err(StoreError::invalid(
                    "[store] postgres url: an unterminated quoted value",
                ));
            }
            i += 1;
        }
        if TAKEN.contains(&key) {
            rest.push_str(&conninfo[copied..offset(start)]);
            copied = offset(i);
            remember(&mut settings, key, value);
        }
    }
    rest.push_str(&conninfo[copied..]);
    Ok((rest.trim().to_string(), settings))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn builder() -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>> {
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::invalid(format!("TLS to PostgreSQL: {e}")))
}

/// `prefer` and `require`: encrypted, the certificate not checked (libpq's meaning).
fn unchecked_config() -> Result<Arc<rustls::ClientConfig>> {
    let verifier = Arc::new(Unchecked(provider()));
    Ok(Arc::new(
        builder()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    ))
}

fn verified_config(root: &str, mode: Mode) -> Result<Arc<rustls::ClientConfig>> {
    let what = |e: &dyn std::fmt::Display| {
        StoreError::invalid(format!("[store] postgres url: sslrootcert={root}: {e}"))
    };
    let mut roots = rustls::RootCertStore::empty();
    if root == "system" {
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    } else {
        for cert in CertificateDer::pem_file_iter(root).map_err(|e| what(&e))? {
            roots
                .add(cert.map_err(|e| what(&e))?)
                .map_err(|e| what(&e))?;
        }
    }
    if roots.is_empty() {
        return Err(what(&"no CA certificate in it"));
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| what(&e))?;
    let verifier: Arc<dyn ServerCertVerifier> = if mode == Mode::VerifyFull {
        webpki
    } else {
        Arc::new(ChainOnly(webpki))
    };
    Ok(Arc::new(
        builder()?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth(),
    ))
}

/// Accepts any certificate, but still checks that the server holds its key (the handshake
/// signatures): `prefer` and `require` protect against listening, not against impersonation.
#[derive(Debug)]
struct Unchecked(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `verify-ca`: the chain is checked (webpki checks it before the name), the name is not.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// tokio-postgres's hook: one [`Connect`] per host it dials.
#[derive(Clone)]
pub(crate) struct MakeRustls {
    config: Arc<rustls::ClientConfig>,
    names_checked: bool,
}

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<Connect> {
        let name = match ServerName::try_from(host.to_string()) {
            Ok(name) => name,
            // A host that is no DNS name or address (a socket directory): nothing can be
            // checked against it, which only matters when names are checked.
            Err(_) if !self.names_checked => ServerName::try_from("localhost")
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            Err(e) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("sslmode=verify-full: {host:?} is not a host name to check: {e}"),
                ));
            }
        };
        Ok(Connect {
            connector: tokio_rustls::TlsConnector::from(Arc::clone(&self.config)),
            name,
        })
    }
}

pub(crate) struct Connect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let tls = self.connector.connect(self.name, stream).await?;
            Ok(Stream(tls))
        })
    }
}

/// A TLS connection to the server.
pub(crate) struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::{Mode, Settings, Tls, take_settings};

    fn taken(conninfo: &str) -> (String, Settings) {
        take_settings(conninfo).expect("parses")
    }

    #[test]
    fn url_settings_are_taken_out_and_the_rest_kept_as_written() {
        let (rest, s) = taken(
            "postgresql://u:p%40ss@db1.example.org:5433/spam?application_name=x&sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20file.pem&connect_timeout=3",
        );
        assert_eq!(
            rest,
            "postgresql://u:p%40ss@db1.example.org:5433/spam?application_name=x&connect_timeout=3"
        );
        assert_eq!(s.mode.as_deref(), Some("verify-full"));
        assert_eq!(s.root.as_deref(), Some("/etc/ca file.pem"));
        let (rest, s) = taken("postgres://db/spam?sslmode=require");
        assert_eq!(
            (rest.as_str(), s.mode.as_deref()),
            ("postgres://db/spam", Some("require"))
        );
        assert_eq!(taken("postgres://db/spam").1, Settings::default());
        assert!(take_settings("postgres://db/x?sslrootcert=%zz").is_err());
    }

    #[test]
    fn key_value_settings_are_taken_out_with_quotes_and_escapes() {
        let (rest, s) = taken(
            "host=db1 sslmode = verify-ca password='it\\'s' sslrootcert='/etc/my ca\\'s.pem' dbname=spam",
        );
        assert_eq!(rest, "host=db1  password='it\\'s'  dbname=spam");
        assert_eq!(s.mode.as_deref(), Some("verify-ca"));
        assert_eq!(s.root.as_deref(), Some("/etc/my ca's.pem"));
        assert!(take_settings("host=db sslrootcert='/never/closed").is_err());
        // Malformed strings are left to tokio-postgres, which names the problem.
        assert_eq!(taken("host").0, "host");
    }

    #[test]
    fn modes_follow_libpq_and_refuse_what_cannot_be_meant() {
        let mode = |s: &str| Tls::split(s).map(|(_, t)| t.mode);
        assert_eq!(mode("host=db").ok(), Some(Mode::Prefer));
        assert_eq!(mode("host=db sslmode=disable").ok(), Some(Mode::Disable));
        assert_eq!(mode("host=db sslmode=require").ok(), Some(Mode::Require));
        assert!(
            mode("host=db sslmode=allow").is_err(),
            "a downgrade is refused"
        );
        assert!(mode("host=db sslmode=bogus").is_err());
        assert!(
            mode("host=db sslmode=verify-full").is_err(),
            "no sslrootcert"
        );
        assert!(
            mode("host=db sslrootcert=/x.pem").is_err(),
            "prefer checks nothing"
        );
        let missing = Tls::split("host=db sslmode=verify-full sslrootcert=/nonexistent/ca.pem")
            .expect_err("an unreadable CA file");
        assert!(
            missing.to_string().contains("/nonexistent/ca.pem"),
            "{missing}"
        );
    }
}
