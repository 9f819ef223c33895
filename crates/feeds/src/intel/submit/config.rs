//! The `[[feeds.connector]]` section: one service to push to, its credentials and the audience
//! whose rules (TLP ceiling, kinds, minimum confidence) decide what it receives.

use super::super::policy::{Audience, Ioc};
use model::VerdictClass;
use model::report::IndicatorKind;
use serde::{Deserialize, Serialize};

/// Default seconds between passes: the abuse.ch services ask for no more than one bulk
/// submission every few minutes.
pub const DEFAULT_EVERY_SECS: u64 = 300;
/// Shortest interval between passes.
pub const MIN_EVERY_SECS: u64 = 30;
/// Default per-request timeout: uploads of a few MiB to MalwareBazaar.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// Longest per-request timeout.
pub const MAX_TIMEOUT_SECS: u64 = 600;
/// Default indicators per request (ThreatFox and URLhaus bulk submissions).
pub const DEFAULT_BATCH: usize = 100;
/// Most indicators per request: abuse.ch refuses very large bulk submissions, and a batch is
/// what a failure sends again.
pub const MAX_BATCH: usize = 1000;
/// Extra tags, at most (each at most [`MAX_TAG_LEN`] characters).
pub const MAX_TAGS: usize = 16;
/// Longest tag.
pub const MAX_TAG_LEN: usize = 64;
/// Longest connector name (it is part of the store cursor key and of log lines).
pub const MAX_NAME_LEN: usize = 64;

/// The services spamhattan can push to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// Malware download URLs.
    Urlhaus,
    /// URLs, domains and payload hashes with a malware family.
    Threatfox,
    /// The payload files themselves (top-level attachments), `delivery_method`
    /// `email_attachment`.
    Malwarebazaar,
    /// One event per campaign on a MISP instance.
    Misp,
}

impl ConnectorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorKind::Urlhaus => "urlhaus",
            ConnectorKind::Threatfox => "threatfox",
            ConnectorKind::Malwarebazaar => "malwarebazaar",
            ConnectorKind::Misp => "misp",
        }
    }

    /// The documented endpoint of the public service (MISP has none: `url` is required).
    pub fn default_url(self) -> Option<&'static str> {
        match self {
            ConnectorKind::Urlhaus => Some("https://urlhaus.abuse.ch/api/"),
            ConnectorKind::Threatfox => Some("https://threatfox-api.abuse.ch/api/v1/"),
            ConnectorKind::Malwarebazaar => Some("https://mb-api.abuse.ch/api/v1/"),
            ConnectorKind::Misp => None,
        }
    }

    /// Indicator kinds read from the store for this service.
    pub fn kinds(self) -> &'static [IndicatorKind] {
        use IndicatorKind::*;
        match self {
            ConnectorKind::Urlhaus => &[Url],
            ConnectorKind::Threatfox => &[Url, Domain, Sha256],
            ConnectorKind::Malwarebazaar => &[Sha256],
            ConnectorKind::Misp => &[Url, Domain, Ip, Email, Sha256],
        }
    }

    /// Whether the service takes `ioc` (already through the policy and the audience).
    ///
    /// URLhaus lists malware URLs only, so only URLs of malware and ransomware-delivery
    /// campaigns go there (a phishing URL is not a `malware_download`). ThreatFox takes
    /// URLs, domains and payload hashes; a bare IP is not a ThreatFox IOC (`ip:port` is,
    /// and the trap knows no port for a sending host), so IPs are not sent. MalwareBazaar
    /// takes files; whether the file is at hand is the runner's question.
    pub fn wants(self, ioc: &Ioc) -> bool {
        if !self.kinds().contains(&ioc.kind) {
            return false;
        }
        match self {
            ConnectorKind::Urlhaus => ioc.campaign.as_ref().is_some_and(|c| {
                matches!(
                    c.brief.verdict,
                    VerdictClass::Malware | VerdictClass::RansomwareDelivery
                )
            }),
            ConnectorKind::Misp => ioc.campaign.is_some(),
            _ => true,
        }
    }
}

/// One `[[feeds.connector]]`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Unique name: `spamhattan submit --connector <name>`, the store cursor `submit:<name>`.
    pub name: String,
    pub kind: ConnectorKind,
    /// Endpoint; defaults to the service's documented API URL (required for MISP: the
    /// instance's base URL).
    #[serde(default)]
    pub url: Option<String>,
    /// abuse.ch `Auth-Key` or the MISP automation key. Printed as `<redacted>`.
    #[serde(default, serialize_with = "redacted_opt")]
    pub api_key: Option<String>,
    /// The `[[feeds.audience]]` whose TLP ceiling, kinds and `min_confidence` apply.
    pub audience: String,
    #[serde(default)]
    pub every_secs: Option<u64>,
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Indicators per request (default 100).
    #[serde(default)]
    pub batch: Option<usize>,
    /// abuse.ch: submit without crediting the account publicly (default false).
    #[serde(default)]
    pub anonymous: bool,
    /// Extra tags on every submission.
    #[serde(default)]
    pub tags: Vec<String>,
    /// More trusted CA certificates (PEM) for an `https` MISP with a private CA.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

fn redacted_opt<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_str("<redacted>"),
        None => s.serialize_none(),
    }
}

impl std::fmt::Debug for ConnectorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &self.url)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("audience", &self.audience)
            .field("every_secs", &self.every_secs)
            .field("timeout_secs", &self.timeout_secs)
            .field("batch", &self.batch)
            .field("anonymous", &self.anonymous)
            .field("tags", &self.tags)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl ConnectorConfig {
    /// The URL requests go to.
    pub fn url(&self) -> &str {
        self.url
            .as_deref()
            .or(self.kind.default_url())
            .unwrap_or_default()
    }

    pub fn every(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.every_secs.unwrap_or(DEFAULT_EVERY_SECS))
    }

    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS))
    }

    pub fn batch(&self) -> usize {
        self.batch.unwrap_or(DEFAULT_BATCH)
    }

    /// Checks everything that does not need the other sections (audience existence and name
    /// uniqueness are the config loader's); the message names the connector and the field.
    pub fn validate(&self) -> Result<(), String> {
        let n = &self.name;
        if n.is_empty()
            || n.len() > MAX_NAME_LEN
            || !n
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "feeds.connector name {n:?}: 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 - _"
            ));
        }
        let url = match (&self.url, self.kind.default_url()) {
            (Some(u), _) => u.as_str(),
            (None, Some(u)) => u,
            (None, None) => {
                return Err(format!(
                    "feeds.connector {n}: url is required for kind {}",
                    self.kind.as_str()
                ));
            }
        };
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
            _ => {
                return Err(format!(
                    "feeds.connector {n}: url {url:?} is not an http(s) URL"
                ));
            }
        }
        if self.kind == ConnectorKind::Misp && self.api_key.is_none() {
            return Err(format!(
                "feeds.connector {n}: a MISP connector needs api_key (an automation key)"
            ));
        }
        if let Some(k) = &self.api_key
            && (k.is_empty() || k.bytes().any(|b| !(0x21..0x7f).contains(&b)))
        {
            return Err(format!(
                "feeds.connector {n}: api_key must be printable ASCII without spaces"
            ));
        }
        if let Some(s) = self.every_secs
            && s < MIN_EVERY_SECS
        {
            return Err(format!(
                "feeds.connector {n}: every_secs must be at least {MIN_EVERY_SECS}"
            ));
        }
        if let Some(t) = self.timeout_secs
            && !(1..=MAX_TIMEOUT_SECS).contains(&t)
        {
            return Err(format!(
                "feeds.connector {n}: timeout_secs must be 1..={MAX_TIMEOUT_SECS}"
            ));
        }
        if let Some(b) = self.batch
            && !(1..=MAX_BATCH).contains(&b)
        {
            return Err(format!(
                "feeds.connector {n}: batch must be 1..={MAX_BATCH}"
            ));
        }
        if self.tags.len() > MAX_TAGS
            || self.tags.iter().any(|t| {
                t.is_empty() || t.chars().count() > MAX_TAG_LEN || t.chars().any(char::is_control)
            })
        {
            return Err(format!(
                "feeds.connector {n}: at most {MAX_TAGS} tags of 1 to {MAX_TAG_LEN} printable characters"
            ));
        }
        if self.ca_file.is_some() && !url.starts_with("https://") {
            return Err(format!(
                "feeds.connector {n}: ca_file is set but the url is not https"
            ));
        }
        Ok(())
    }

    /// Whether `ioc` goes to this connector: the audience admits it and the service takes it.
    pub fn admits(&self, audience: &Audience, ioc: &Ioc) -> bool {
        audience.admits(ioc) && self.kind.wants(ioc)
    }
}
