//! Alert sinks: deliver an [`Alert`] to a signed webhook, a Slack/Mattermost channel or syslog.
//!
//! A [`Sink`] is built once from its configuration section ([`WebhookConfig`],
//! [`SyslogConfig`]), filters by severity ([`Sink::accepts`]) and makes exactly one delivery
//! attempt per [`Sink::deliver`] call. Retrying, ordering and "exactly once" belong to the
//! store's outbox and the binary's worker, which use [`backoff`] and one [`RateLimiter`] per
//! receiver; a [`DeliveryError`] says whether another attempt makes sense.
//!
//! Layout: `config.rs` (sections and validation), `sign.rs` (Standard Webhooks signature and
//! body), `chat.rs` (Slack/Mattermost bodies, defanging), `syslog.rs` (RFC 5424 / CEF lines and
//! framing), `webhook.rs` (webhook POST over TCP or TLS), `transport.rs` (syslog UDP/TCP),
//! `retry.rs` (backoff, rate limit), `error.rs`.

mod chat;
mod config;
mod error;
mod retry;
mod sign;
mod syslog;
mod transport;
mod webhook;

pub use chat::{
    ChatFlavour, MAX_CHAT_EVIDENCE, MAX_CHAT_FIELD_CHARS, MAX_CHAT_INDICATORS, MAX_CHAT_LINE_CHARS,
    MAX_CHAT_TITLE_CHARS, chat_body, chat_message, defang, escape_slack, truncate_chars,
};
pub use config::{
    DEFAULT_FACILITY, MAX_APP_NAME_LEN, MAX_FACILITY, MAX_HOSTNAME_LEN, MAX_NAME_LEN,
    MAX_PER_MINUTE, MAX_TIMEOUT_SECS, SyslogConfig, SyslogFormat, SyslogTransport, WebhookConfig,
    WebhookFormat,
};
pub use error::{ConfigError, DeliveryError};
pub use retry::{BACKOFF_BASE, BACKOFF_CAP, RateLimiter, backoff, backoff_seed};
pub use sign::{EVENT_TYPE, SECRET_PREFIX, sign, sign_with_key, signing_key, standard_body};
pub use syslog::{
    MAX_TCP_MESSAGE, MAX_UDP_MESSAGE, MSG_ID, SD_ID, SyslogOrigin, cef_message, cef_severity,
    format_cef, format_rfc5424, tcp_frame, truncate_bytes, udp_datagram,
};
pub use webhook::MAX_RESPONSE_BYTES;

use model::{Alert, Severity};
use std::time::Duration;

/// One configured receiver, ready to deliver.
#[derive(Debug)]
pub enum Sink {
    Webhook(WebhookSink),
    Syslog(SyslogSink),
}

/// A webhook receiver (standard, Slack or Mattermost body).
#[derive(Debug)]
pub struct WebhookSink {
    name: String,
    min_severity: Severity,
    max_per_minute: u32,
    target: webhook::WebhookTarget,
}

/// A syslog receiver (RFC 5424 or CEF, UDP or TCP).
#[derive(Debug)]
pub struct SyslogSink {
    name: String,
    min_severity: Severity,
    max_per_minute: u32,
    target: transport::SyslogTarget,
}

impl Sink {
    /// Validates the section, decodes the secret and loads the TLS roots (system + `ca_file`).
    pub fn from_webhook(cfg: WebhookConfig) -> Result<Sink, ConfigError> {
        let target = webhook::WebhookTarget::from_config(&cfg)?;
        Ok(Sink::Webhook(WebhookSink {
            name: cfg.name,
            min_severity: cfg.min_severity,
            max_per_minute: cfg.max_per_minute,
            target,
        }))
    }

    /// Validates the section and fixes the HOSTNAME (configured or the system's).
    pub fn from_syslog(cfg: SyslogConfig) -> Result<Sink, ConfigError> {
        let target = transport::SyslogTarget::from_config(&cfg)?;
        Ok(Sink::Syslog(SyslogSink {
            name: cfg.name,
            min_severity: cfg.min_severity,
            max_per_minute: cfg.max_per_minute,
            target,
        }))
    }

    /// The receiver's configured name (the outbox keys deliveries by it).
    pub fn name(&self) -> &str {
        match self {
            Sink::Webhook(s) => &s.name,
            Sink::Syslog(s) => &s.name,
        }
    }

    /// Whether this receiver wants `alert` (its severity reaches `min_severity`).
    pub fn accepts(&self, alert: &Alert) -> bool {
        let min = match self {
            Sink::Webhook(s) => s.min_severity,
            Sink::Syslog(s) => s.min_severity,
        };
        alert.severity >= min
    }

    /// A fresh rate limiter with this receiver's `max_per_minute`.
    pub fn rate_limiter(&self) -> RateLimiter {
        RateLimiter::per_minute(match self {
            Sink::Webhook(s) => s.max_per_minute,
            Sink::Syslog(s) => s.max_per_minute,
        })
    }

    /// Replaces the configured timeout (whole seconds in the file); tests and shutdown paths
    /// need shorter ones.
    pub fn with_timeout(mut self, timeout: Duration) -> Sink {
        match &mut self {
            Sink::Webhook(s) => s.target.timeout = timeout,
            Sink::Syslog(s) => s.target.timeout = timeout,
        }
        self
    }

    /// The receiver's timeout: one [`Sink::deliver`] takes at most this long.
    pub fn timeout(&self) -> Duration {
        match self {
            Sink::Webhook(s) => s.target.timeout,
            Sink::Syslog(s) => s.target.timeout,
        }
    }

    /// One delivery attempt, bounded by the receiver's timeout.
    pub async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        match self {
            Sink::Webhook(s) => {
                let body = match s.target.format {
                    WebhookFormat::Standard => standard_body(alert),
                    WebhookFormat::Slack => chat_body(alert, ChatFlavour::Slack),
                    WebhookFormat::Mattermost => chat_body(alert, ChatFlavour::Mattermost),
                }
                .map_err(|e| DeliveryError::permanent(format!("cannot encode alert: {e}")))?;
                s.target.post(&alert.id.to_string(), body).await
            }
            Sink::Syslog(s) => s.target.send(alert).await,
        }
    }
}
