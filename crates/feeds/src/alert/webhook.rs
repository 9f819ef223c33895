//! Webhook delivery: one HTTP/1.1 POST on a fresh connection (plain TCP or rustls), bounded
//! by a deadline, redirects never followed.

use super::config::{WebhookConfig, WebhookFormat};
use super::error::{ConfigError, DeliveryError};
use super::sign::{sign_with_key, signing_key};
use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject as _};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// How much of an error response is read, for the failure message only: enough for a JSON
/// error object, and a hostile receiver cannot make us buffer more.
pub const MAX_RESPONSE_BYTES: usize = 16 * 1024;
/// How much of that body goes into the failure message (characters).
const MAX_ERROR_SNIPPET_CHARS: usize = 200;

/// Where and how to POST, resolved once from the configuration.
pub(crate) struct WebhookTarget {
    /// Host to connect to, without IPv6 brackets.
    host: String,
    port: u16,
    /// `Host` header value (with brackets and non-default port).
    authority: String,
    path_and_query: String,
    /// TLS client configuration and the name to verify; `None` for `http://`.
    tls: Option<(Arc<rustls::ClientConfig>, ServerName<'static>)>,
    key: Option<Vec<u8>>,
    pub(crate) format: WebhookFormat,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("authority", &self.authority)
            .field("path_and_query", &self.path_and_query)
            .field("https", &self.tls.is_some())
            .field("signed", &self.key.is_some())
            .field("format", &self.format)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl WebhookTarget {
    pub(crate) fn from_config(cfg: &WebhookConfig) -> Result<WebhookTarget, ConfigError> {
        cfg.validate()?;
        let bad = |problem: String| ConfigError::new(&cfg.name, problem);
        let url = url::Url::parse(&cfg.url).map_err(|e| bad(e.to_string()))?;
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(bad("url has no host".to_owned())),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| bad("url has no port".to_owned()))?;
        let authority = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => return Err(bad("url has no host".to_owned())),
        };
        let mut path_and_query = url.path().to_owned();
        if let Some(query) = url.query() {
            path_and_query.push('?');
            path_and_query.push_str(query);
        }
        let tls = if url.scheme() == "https" {
            let name = ServerName::try_from(host.clone())
                .map_err(|e| bad(format!("url host is not a TLS server name: {e}")))?;
            Some((tls_config(cfg).map_err(bad)?, name))
        } else {
            None
        };
        let key = match &cfg.secret {
            Some(secret) => Some(signing_key(secret).map_err(bad)?),
            None => None,
        };
        Ok(WebhookTarget {
            host,
            port,
            authority,
            path_and_query,
            tls,
            key,
            format: cfg.format,
            timeout: Duration::from_secs(cfg.timeout_secs),
        })
    }

    /// POSTs `body` for alert `id`; signs with the send time when a secret is configured.
    pub(crate) async fn post(&self, id: &str, body: Vec<u8>) -> Result<(), DeliveryError> {
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut request = http::Request::post(self.path_and_query.as_str())
            .header(header::HOST, self.authority.as_str())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CONTENT_LENGTH, body.len())
            .header(
                header::USER_AGENT,
                concat!("spamhattan/", env!("CARGO_PKG_VERSION")),
            )
            .header(header::CONNECTION, "close")
            // Sent unsigned too: receivers deduplicate on the id.
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp);
        if let Some(key) = &self.key {
            request = request.header(
                "webhook-signature",
                sign_with_key(key, id, timestamp, &body),
            );
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| DeliveryError::permanent(format!("cannot build request: {e}")))?;
        let deadline = Instant::now() + self.timeout;
        let (status, snippet) = self.exchange(request, deadline).await?;
        classify(status, &snippet)
    }

    async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
        deadline: Instant,
    ) -> Result<(http::StatusCode, String), DeliveryError> {
        let work = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| {
                    DeliveryError::retryable(format!("connect {}: {e}", self.authority))
                })?;
            match &self.tls {
                None => round_trip(tcp, request, deadline).await,
                Some((config, name)) => {
                    let tls = tokio_rustls::TlsConnector::from(config.clone())
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(|e| {
                            DeliveryError::retryable(format!("TLS with {}: {e}", self.authority))
                        })?;
                    round_trip(tls, request, deadline).await
                }
            }
        };
        match tokio::time::timeout_at(deadline, work).await {
            Ok(result) => result,
            Err(_) => Err(DeliveryError::retryable(format!(
                "no answer from {} within {:?}",
                self.authority, self.timeout
            ))),
        }
    }
}

/// Sends one request on `io` and returns the status and the start of the body.
async fn round_trip<I>(
    io: I,
    request: http::Request<Full<Bytes>>,
    deadline: Instant,
) -> Result<(http::StatusCode, String), DeliveryError>
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
        // The status decides; the body is only read for a failure message, best effort.
        let snippet = if status.is_success() {
            String::new()
        } else {
            read_snippet(response.into_body(), deadline).await
        };
        Ok((status, snippet))
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

/// Up to [`MAX_RESPONSE_BYTES`] of the body, or what arrived before the deadline.
async fn read_snippet(mut body: hyper::body::Incoming, deadline: Instant) -> String {
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
    let text = String::from_utf8_lossy(&buf);
    let text: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_ERROR_SNIPPET_CHARS)
        .collect();
    text.trim().to_owned()
}

/// 2xx delivered; 408, 425, 429 and 5xx retried; redirects and other statuses failed for good.
fn classify(status: http::StatusCode, snippet: &str) -> Result<(), DeliveryError> {
    if status.is_success() {
        return Ok(());
    }
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
fn tls_config(cfg: &WebhookConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable or unparsable system certificates are skipped: one bad file must not take
    // every receiver down.
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = &cfg.ca_file {
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
