//! A small HTTP/1.1 POST client: one request on a fresh connection (plain TCP or rustls),
//! bounded by a deadline, redirects never followed, the answer's status and the start of its
//! body returned.
//!
//! Shared by the alert webhooks (which only need the status) and the submission connectors
//! (abuse.ch answers `200` with `{"query_status": "..."}`, so the body decides there). One
//! connection per request keeps the client stateless: the callers send a few requests a minute.

use crate::alert::DeliveryError;
use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject as _};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Most of a response body that is read: enough for any JSON status object the services
/// answer with, and a hostile receiver cannot make us buffer more.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024;
/// How much of a body goes into a failure message (characters).
pub const MAX_ERROR_SNIPPET_CHARS: usize = 200;
/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("spamhattan/", env!("CARGO_PKG_VERSION"));

/// Where to POST: host, port and TLS settings resolved once from a URL.
#[derive(Clone)]
pub struct Endpoint {
    /// Host to connect to, without IPv6 brackets.
    host: String,
    port: u16,
    /// `Host` header value (with brackets and non-default port).
    authority: String,
    /// Path and query of the configured URL.
    path_and_query: String,
    /// TLS client configuration and the name to verify; `None` for `http://`.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("authority", &self.authority)
            .field("path_and_query", &self.path_and_query)
            .field("https", &self.tls.is_some())
            .finish()
    }
}

/// The answer: its status and up to [`MAX_RESPONSE_BYTES`] of its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: http::StatusCode,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as one line of at most [`MAX_ERROR_SNIPPET_CHARS`] characters, for messages.
    pub fn snippet(&self) -> String {
        snippet(&self.body)
    }
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Post<'a> {
    /// Path and query; `None` uses the endpoint's own.
    pub path: Option<&'a str>,
    pub content_type: &'a str,
    /// More headers (name, value); values must be valid header values.
    pub headers: Vec<(&'a str, String)>,
    pub body: Vec<u8>,
    /// Read the body of a 2xx answer too (abuse.ch puts its verdict there). Off for webhooks:
    /// their status decides, and a receiver that keeps a 200 open must not hold us.
    pub read_success_body: bool,
}

impl Endpoint {
    /// Resolves an `http://` or `https://` URL; for `https`, trusts the system roots plus the
    /// certificates of `ca_file`.
    pub fn parse(url: &str, ca_file: Option<&Path>) -> Result<Endpoint, String> {
        let url = url::Url::parse(url).map_err(|e| e.to_string())?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "url scheme {:?} is not http or https",
                url.scheme()
            ));
        }
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err("url has no host".to_owned()),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "url has no port".to_owned())?;
        let authority = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err("url has no host".to_owned()),
        };
        let mut path_and_query = url.path().to_owned();
        if let Some(query) = url.query() {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        let tls = if url.scheme() == "https" {
            let name = ServerName::try_from(host.clone())
                .map_err(|e| format!("url host is not a TLS server name: {e}"))?;
            Some((tls_config(ca_file)?, name))
        } else {
            None
        };
        Ok(Endpoint {
            host,
            port,
            authority,
            path_and_query,
            tls,
        })
    }

    /// `host[:port]` as sent in `Host`.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The configured URL's path and query.
    pub fn path(&self) -> &str {
        &self.path_and_query
    }

    /// Sends `post` and reads the answer, all within `timeout`. Connection trouble and the
    /// deadline are retryable errors; any answer, whatever its status, is `Ok`.
    pub async fn post(&self, post: Post<'_>, timeout: Duration) -> Result<Response, DeliveryError> {
        let mut request = http::Request::post(post.path.unwrap_or(&self.path_and_query))
            .header(header::HOST, self.authority.as_str())
            .header(header::CONTENT_TYPE, post.content_type)
            .header(header::CONTENT_LENGTH, post.body.len())
            .header(header::USER_AGENT, USER_AGENT)
            .header(header::CONNECTION, "close");
        for (name, value) in &post.headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(post.body)))
            .map_err(|e| DeliveryError::permanent(format!("cannot build request: {e}")))?;
        let deadline = Instant::now() + timeout;
        let full = post.read_success_body;
        let work = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| {
                    DeliveryError::retryable(format!("connect {}: {e}", self.authority))
                })?;
            match &self.tls {
                None => round_trip(tcp, request, deadline, full).await,
                Some((config, name)) => {
                    let tls = tokio_rustls::TlsConnector::from(config.clone())
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(|e| {
                            DeliveryError::retryable(format!("TLS with {}: {e}", self.authority))
                        })?;
                    round_trip(tls, request, deadline, full).await
                }
            }
        };
        match tokio::time::timeout_at(deadline, work).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::retryable(format!(
                "no answer from {} within {timeout:?}",
                self.authority
            ))),
        }
    }
}

/// Sends one request on `io` and returns the status and the start of the body.
async fn round_trip<I>(
    io: I,
    request: http::Request<Full<Bytes>>,
    deadline: Instant,
    read_success_body: bool,
) -> Result<Response, DeliveryError>
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| DeliveryError::retryable(format!("HTTP handshake: {e}")))?;
    let exchange = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| DeliveryError::retryable(format!("HTTP request: {e}")))?;
        let status = response.status();
        let body = if status.is_success() && !read_success_body {
            Vec::new()
        } else {
            read_body(response.into_body(), deadline).await
        };
        Ok(Response { status, body })
    };
    let mut exchange = std::pin::pin!(exchange);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        result = &mut exchange => result,
        closed = &mut conn => match closed {
            Err(e) => Err(DeliveryError::retryable(format!("HTTP connection: {e}"))),
            Ok(()) => exchange.await,
        },
    }
}

/// Up to [`MAX_RESPONSE_BYTES`] of the body, or what arrived before the deadline (best
/// effort: a body cut short is judged on what arrived).
async fn read_body(mut body: hyper::body::Incoming, deadline: Instant) -> Vec<u8> {
    let mut buf = Vec::new();
    let read = async {
        while buf.len() < MAX_RESPONSE_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        let room = MAX_RESPONSE_BYTES - buf.len();
                        buf.extend_from_slice(&data[..data.len().min(room)]);
                    }
                }
                _ => break,
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline, read).await;
    buf
}

/// A body as one printable line for a log or error message.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_SNIPPET_CHARS)
        .collect();
    text.trim().to_owned()
}

/// 2xx is `Ok`; 408, 425, 429 and 5xx are retryable; redirects and other statuses permanent.
pub fn classify(response: &Response) -> Result<(), DeliveryError> {
    let status = response.status;
    if status.is_success() {
        return Ok(());
    }
    let snippet = response.snippet();
    let message = if snippet.is_empty() {
        format!("receiver answered {status}")
    } else {
        format!("receiver answered {status}: {snippet}")
    };
    let retry = status.is_server_error() || matches!(status.as_u16(), 408 | 425 | 429);
    if status.is_redirection() {
        Err(DeliveryError::permanent(format!(
            "{message} (redirects are not followed)"
        )))
    } else if retry {
        Err(DeliveryError::retryable(message))
    } else {
        Err(DeliveryError::permanent(message))
    }
}

/// System roots plus `ca_file`, with the ring provider chosen explicitly (no process default).
fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable or unparsable system certificates are skipped: one bad file must not take
    // every receiver down.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = ca_file {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("ca_file {}: {e}", path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("ca_file {} holds no certificate", path.display()));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("ca_file {}: {e}", path.display()))?;
        }
    }
    if roots.is_empty() {
        return Err("no trusted CA certificates (no system roots and no ca_file)".to_owned());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
