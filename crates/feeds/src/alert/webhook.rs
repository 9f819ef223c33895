//! Webhook delivery: one signed HTTP/1.1 POST through [`crate::http_client`] (fresh
//! connection, plain TCP or rustls, bounded by a deadline, redirects never followed).

use super::config::{WebhookConfig, WebhookFormat};
use super::error::{ConfigError, DeliveryError};
use super::sign::{sign_with_key, signing_key};
use crate::http_client::{Endpoint, Post, classify};
use std::time::Duration;

/// How much of an error response is read, for the failure message only (the shared client's
/// bound).
pub const MAX_RESPONSE_BYTES: usize = crate::http_client::MAX_RESPONSE_BYTES;

/// Where and how to POST, resolved once from the configuration.
pub(crate) struct WebhookTarget {
    endpoint: Endpoint,
    key: Option<Vec<u8>>,
    pub(crate) format: WebhookFormat,
    pub(crate) timeout: Duration,
}

impl std::fmt::Debug for WebhookTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookTarget")
            .field("endpoint", &self.endpoint)
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
        let endpoint = Endpoint::parse(&cfg.url, cfg.ca_file.as_deref()).map_err(bad)?;
        let key = match &cfg.secret {
            Some(secret) => Some(signing_key(secret).map_err(bad)?),
            None => None,
        };
        Ok(WebhookTarget {
            endpoint,
            key,
            format: cfg.format,
            timeout: Duration::from_secs(cfg.timeout_secs),
        })
    }

    /// POSTs `body` for alert `id`; signs with the send time when a secret is configured.
    pub(crate) async fn post(&self, id: &str, body: Vec<u8>) -> Result<(), DeliveryError> {
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        // Sent unsigned too: receivers deduplicate on the id.
        let mut headers = vec![
            ("webhook-id", id.to_owned()),
            ("webhook-timestamp", timestamp.to_string()),
        ];
        if let Some(key) = &self.key {
            headers.push((
                "webhook-signature",
                sign_with_key(key, id, timestamp, &body),
            ));
        }
        let post = Post {
            path: None,
            content_type: "application/json",
            headers,
            body,
            read_success_body: false,
        };
        let response = self.endpoint.post(post, self.timeout).await?;
        classify(&response)
    }
}
