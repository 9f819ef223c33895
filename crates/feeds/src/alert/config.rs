//! Receiver configuration: the webhook and syslog sections of the binary's TOML, and their checks.

use super::error::ConfigError;
use super::sign::signing_key;
use model::Severity;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Longest receiver name: it appears in logs, the outbox and the CLI, so it stays short.
pub const MAX_NAME_LEN: usize = 64;
/// Longest request timeout: beyond five minutes a receiver is down, not slow.
pub const MAX_TIMEOUT_SECS: u64 = 300;
/// Highest per-receiver rate: more than this per minute would flood any human channel and
/// usually means a rule is misconfigured.
pub const MAX_PER_MINUTE: u32 = 10_000;
/// RFC 5424 §6.2.5: APP-NAME is at most 48 printable US-ASCII characters.
pub const MAX_APP_NAME_LEN: usize = 48;
/// RFC 5424 §6.2.4: HOSTNAME is at most 255 printable US-ASCII characters.
pub const MAX_HOSTNAME_LEN: usize = 255;
/// RFC 5424 §6.2.1: facilities are 0 (kernel) to 23 (local7).
pub const MAX_FACILITY: u8 = 23;

/// The default syslog facility, 13 ("log audit").
///
/// Alerts are security findings meant for a SIEM, not the daemon's own operational log, so
/// they should not share `daemon` (3) or `user` (1) with it; `auth`/`authpriv` (4/10) would
/// mix them with login records; `local0`..`local7` belong to the site and a default must not
/// take one. "Log audit" is the standard facility for audit findings.
pub const DEFAULT_FACILITY: u8 = 13;

/// Body shape a webhook receiver expects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// Standard Webhooks event: `{"type", "timestamp", "data": <Alert>}`.
    #[default]
    Standard,
    /// Slack incoming-webhook message with an attachment.
    Slack,
    /// Mattermost incoming webhook (Slack-compatible, Mattermost markdown).
    Mattermost,
}

/// One webhook receiver (`[[alerts.webhook]]`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub name: String,
    /// `http://` or `https://` only.
    pub url: String,
    /// Standard Webhooks secret (`whsec_` + base64, or any string used as raw bytes); when
    /// set, every request carries `webhook-signature`. Printed (by `config check`) as
    /// `<redacted>`.
    #[serde(default, serialize_with = "redacted")]
    pub secret: Option<String>,
    #[serde(default)]
    pub format: WebhookFormat,
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    /// Whole request (connect, TLS, send, response head), in seconds.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    #[serde(default = "default_max_per_minute")]
    pub max_per_minute: u32,
    /// Extra trusted CA certificates (PEM) for `https://`, added to the system roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn redacted<S: serde::Serializer>(secret: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(_) => s.serialize_some("<redacted>"),
        None => s.serialize_none(),
    }
}

/// The secret never appears in logs or error messages.
impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("format", &self.format)
            .field("min_severity", &self.min_severity)
            .field("timeout_secs", &self.timeout_secs)
            .field("max_per_minute", &self.max_per_minute)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Syslog transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogTransport {
    /// RFC 5426: one datagram per alert, truncated to a safe size.
    #[default]
    Udp,
    /// RFC 6587 octet counting, one connection per alert.
    Tcp,
}

/// Syslog message format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SyslogFormat {
    /// RFC 5424 with a `spamhattan@32473` structured-data element.
    #[default]
    Rfc5424,
    /// ArcSight CEF carried as the MSG of an RFC 5424 frame.
    Cef,
}

/// One syslog receiver (`[[alerts.syslog]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogConfig {
    pub name: String,
    /// `host:port`; IPv6 literals in brackets (`[::1]:514`).
    pub address: String,
    #[serde(default)]
    pub transport: SyslogTransport,
    #[serde(default)]
    pub format: SyslogFormat,
    /// 0..=23; see [`DEFAULT_FACILITY`] for why 13.
    #[serde(default = "default_facility")]
    pub facility: u8,
    #[serde(default = "default_app_name")]
    pub app_name: String,
    /// HOSTNAME field; by default the system host name, `-` when it cannot be read.
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
    #[serde(default = "default_max_per_minute")]
    pub max_per_minute: u32,
    /// TCP connect and send, in seconds (UDP sends do not wait).
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_min_severity() -> Severity {
    Severity::Low
}
fn default_timeout_secs() -> u64 {
    10
}
fn default_max_per_minute() -> u32 {
    60
}
fn default_facility() -> u8 {
    DEFAULT_FACILITY
}
fn default_app_name() -> String {
    "spamhattan".to_owned()
}

impl WebhookConfig {
    /// Checks everything that can be checked without I/O (the CA file is read by the sink).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |problem: String| Err(ConfigError::new(&self.name, problem));
        validate_name(&self.name)?;
        let url = match url::Url::parse(&self.url) {
            Ok(url) => url,
            Err(e) => return bad(format!("url {:?} is not a valid URL: {e}", self.url)),
        };
        if !matches!(url.scheme(), "http" | "https") {
            return bad(format!(
                "url scheme {:?} is not http or https",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return bad("url has no host".to_owned());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return bad("url carries credentials; use `secret` instead".to_owned());
        }
        if url.scheme() == "http" && self.ca_file.is_some() {
            return bad("ca_file is set but the url is plain http".to_owned());
        }
        if let Some(secret) = &self.secret
            && let Err(problem) = signing_key(secret)
        {
            return bad(problem);
        }
        validate_timeout(&self.name, self.timeout_secs)?;
        validate_rate(&self.name, self.max_per_minute)
    }
}

impl SyslogConfig {
    /// Checks the address shape, facility, header fields and limits (no name resolution).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |problem: String| Err(ConfigError::new(&self.name, problem));
        validate_name(&self.name)?;
        if let Err(problem) = split_host_port(&self.address) {
            return bad(problem);
        }
        if self.facility > MAX_FACILITY {
            return bad(format!(
                "facility {} is above {MAX_FACILITY}",
                self.facility
            ));
        }
        if !is_header_token(&self.app_name, MAX_APP_NAME_LEN) {
            return bad(format!(
                "app_name {:?} must be 1..={MAX_APP_NAME_LEN} printable ASCII characters without spaces",
                self.app_name
            ));
        }
        if let Some(hostname) = &self.hostname
            && !is_header_token(hostname, MAX_HOSTNAME_LEN)
        {
            return bad(format!(
                "hostname {hostname:?} must be 1..={MAX_HOSTNAME_LEN} printable ASCII characters without spaces"
            ));
        }
        validate_timeout(&self.name, self.timeout_secs)?;
        validate_rate(&self.name, self.max_per_minute)
    }
}

/// Splits `host:port` (IPv6 literal in brackets); the host comes back without brackets.
pub(crate) fn split_host_port(address: &str) -> Result<(String, u16), String> {
    let problem = || format!("address {address:?} is not host:port");
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(problem)?;
        (host, after.strip_prefix(':').ok_or_else(problem)?)
    } else {
        let (host, port) = address.rsplit_once(':').ok_or_else(problem)?;
        if host.contains(':') {
            return Err(format!("address {address:?}: put an IPv6 host in brackets"));
        }
        (host, port)
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem());
    }
    match port.parse::<u16>() {
        Ok(port) if port != 0 => Ok((host.to_owned(), port)),
        _ => Err(format!("address {address:?}: port must be 1..=65535")),
    }
}

/// RFC 5424 header fields: PRINTUSASCII (33..=126), non-empty, bounded.
pub(crate) fn is_header_token(value: &str, max_len: usize) -> bool {
    !value.is_empty() && value.len() <= max_len && value.bytes().all(|b| (33..=126).contains(&b))
}

fn validate_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            name,
            format!("name must be 1..={MAX_NAME_LEN} characters of A-Z a-z 0-9 - _ ."),
        ))
    }
}

fn validate_timeout(name: &str, secs: u64) -> Result<(), ConfigError> {
    if (1..=MAX_TIMEOUT_SECS).contains(&secs) {
        Ok(())
    } else {
        Err(ConfigError::new(
            name,
            format!("timeout_secs must be 1..={MAX_TIMEOUT_SECS}, not {secs}"),
        ))
    }
}

fn validate_rate(name: &str, per_minute: u32) -> Result<(), ConfigError> {
    if (1..=MAX_PER_MINUTE).contains(&per_minute) {
        Ok(())
    } else {
        Err(ConfigError::new(
            name,
            format!("max_per_minute must be 1..={MAX_PER_MINUTE}, not {per_minute}"),
        ))
    }
}
