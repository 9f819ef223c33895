//! The `[feeds]` and `[http]` sections: what the trap shares, with which audiences, where the
//! published files go, and the HTTP listener that serves them (TAXII, `/feeds/`).

use anyhow::{Result, bail};
use feeds::intel::policy::{Audience, TtlDays};
use feeds::intel::submit::ConnectorConfig;
use feeds::intel::{Redactor, SharingPolicy, Tlp};
use model::VerdictClass;
use model::report::IndicatorKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Shortest publishing interval: a full export of a large store takes seconds per format.
pub const MIN_REFRESH_SECS: u64 = 30;
/// Default publishing interval.
pub const DEFAULT_REFRESH_SECS: u64 = 600;
/// Most audiences: each is a TAXII collection and a directory of files refreshed per cycle.
pub const MAX_AUDIENCES: usize = 64;
/// Most submission connectors: each runs its own pass on a timer.
pub const MAX_CONNECTORS: usize = 32;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedsFile {
    /// Producer name (STIX identity, MISP `Orgc`). Default `spamhattan at <hostname>`.
    pub producer: Option<String>,
    /// Contact address published with the identity.
    pub contact: Option<String>,
    /// Marking of everything published (default `green`).
    pub tlp: Option<String>,
    /// Per-kind markings, e.g. `{ email = "amber" }`.
    pub tlp_by_kind: Option<BTreeMap<String, String>>,
    /// Campaign verdicts whose indicators are shared (default: spam, phishing, malware,
    /// ransomware-delivery, scam).
    pub verdicts: Option<Vec<VerdictClass>>,
    pub ttl_days: Option<TtlDays>,
    /// Publish expired indicators in full snapshots too (default false).
    pub include_expired: Option<bool>,
    /// Publish indicators whose message is in no campaign (default false: they are
    /// published with their campaign once clustered; true when `[campaigns]` is off).
    pub include_unclustered: Option<bool>,
    /// Where the scheduler writes `<audience>/<file>` (relative to the data dir; default `feeds`).
    pub publish_dir: Option<PathBuf>,
    /// Seconds between publications (default 600; 0 disables the scheduler).
    pub refresh_secs: Option<u64>,
    /// Origin of the RPZ zone (default `rpz.spamhattan.invalid.`).
    pub rpz_origin: Option<String>,
    /// More never-listed domains, one per line, `shared <domain>` for services whose URLs
    /// are listed but not the domain (same format as the shipped
    /// `crates/feeds/data/well-known-domains.txt`).
    pub allowlist: Option<PathBuf>,
    pub audience: Option<Vec<Audience>>,
    /// Submission connectors (`[[feeds.connector]]`): nothing is pushed anywhere without one.
    pub connector: Option<Vec<ConnectorConfig>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpFile {
    /// Listener for TAXII 2.1 and `/feeds/` (none by default). Bind it to loopback and put a
    /// TLS-terminating proxy in front when it must be reachable from outside.
    pub listen: Option<String>,
    /// PEM certificate chain; with `tls_key` the listener speaks HTTPS (and cookies are
    /// `Secure`).
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Mark the session cookie `Secure` without TLS on this listener: the console is
    /// behind a TLS-terminating proxy (default false; always true with `tls_cert`). The
    /// proxy must pass the browser's `Host` header (the login form's `Origin` is checked
    /// against it), and every client then shares the proxy's failed-login budget.
    pub secure_cookies: Option<bool>,
    /// Bearer token `/metrics` asks for (none by default: open, like the health probes).
    pub metrics_token: Option<String>,
}

/// Shortest `[http] metrics_token`: a short one can be guessed by anyone who reaches the
/// listener, and a long random one costs the operator nothing.
pub const MIN_METRICS_TOKEN_CHARS: usize = 16;

/// Where the console, the API and TAXII listen unless `[http] listen` says otherwise:
/// loopback only, so a fresh install never exposes the console to the network.
pub const DEFAULT_HTTP_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 8025);

/// The resolved `[feeds]` and `[http]` sections.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    pub producer: String,
    pub contact: String,
    pub tlp: Tlp,
    pub tlp_by_kind: BTreeMap<IndicatorKind, Tlp>,
    pub verdicts: Vec<VerdictClass>,
    pub ttl: TtlDays,
    pub include_expired: bool,
    pub include_unclustered: bool,
    pub publish_dir: PathBuf,
    /// `None`: no scheduler.
    pub refresh: Option<Duration>,
    pub rpz_origin: String,
    pub allowlist: feeds::intel::allowlist::Allowlist,
    pub audiences: Vec<Audience>,
    /// Validated: unique names, an existing audience, an http(s) URL.
    pub connectors: Vec<ConnectorConfig>,
    pub http_listen: Option<SocketAddr>,
    /// `[http] tls_cert`/`tls_key`: HTTPS on the listener.
    pub http_tls: Option<super::http::HttpTls>,
    /// Session cookies get `Secure` (TLS here or at a proxy).
    pub secure_cookies: bool,
    /// `[http] metrics_token`: `/metrics` wants it as a bearer token.
    pub metrics_token: Option<String>,
}

impl FeedSettings {
    /// The sharing policy, keyed with the store's secret, protecting the trap's names.
    pub fn policy(
        &self,
        secret: [u8; 32],
        trap_names: &[String],
        hosts: &[String],
    ) -> SharingPolicy {
        let mut p = SharingPolicy::new(self.tlp, Redactor::new(trap_names, hosts, secret));
        p.tlp_by_kind = self.tlp_by_kind.clone();
        p.verdicts = self.verdicts.clone();
        p.ttl = self.ttl.clone();
        p.include_expired = self.include_expired;
        p.include_unclustered = self.include_unclustered;
        p.allowlist = self.allowlist.clone();
        p
    }

    /// An audience by name; with none configured, `local` is everything up to the policy's
    /// TLP (the operator's own exports).
    pub fn audience(&self, name: Option<&str>) -> Result<Audience> {
        match name {
            None if self.audiences.is_empty() => Ok(Audience::local(Tlp::Red)),
            None => bail!(
                "choose an audience with --audience (configured: {})",
                self.audience_names()
            ),
            Some("local") if self.audiences.iter().all(|a| a.name != "local") => {
                Ok(Audience::local(Tlp::Red))
            }
            Some(n) => match self.audiences.iter().find(|a| a.name == n) {
                Some(a) => Ok(a.clone()),
                None => bail!("no audience {n:?} (configured: {})", self.audience_names()),
            },
        }
    }

    fn audience_names(&self) -> String {
        let names: Vec<&str> = self.audiences.iter().map(|a| a.name.as_str()).collect();
        if names.is_empty() {
            "none; `local` is everything".to_string()
        } else {
            names.join(", ")
        }
    }
}

pub(super) fn build(
    f: &FeedsFile,
    h: &HttpFile,
    hostname: &str,
    data_dir: &std::path::Path,
    clustering: bool,
) -> Result<FeedSettings> {
    let tlp = parse_tlp(f.tlp.as_deref().unwrap_or("green"), "feeds.tlp")?;
    let mut tlp_by_kind = BTreeMap::new();
    for (k, v) in f.tlp_by_kind.clone().unwrap_or_default() {
        let Some(kind) =
            IndicatorKind::parse(&k).filter(|k| feeds::intel::policy::FEED_KINDS.contains(k))
        else {
            bail!(
                "feeds.tlp_by_kind: unknown indicator kind {k:?} (url, domain, ip, email, sha256)"
            );
        };
        tlp_by_kind.insert(kind, parse_tlp(&v, "feeds.tlp_by_kind")?);
    }
    let audiences = f.audience.clone().unwrap_or_default();
    if audiences.len() > MAX_AUDIENCES {
        bail!("feeds.audience: at most {MAX_AUDIENCES} audiences");
    }
    let mut names = std::collections::BTreeSet::new();
    for a in &audiences {
        a.validate().map_err(anyhow::Error::msg)?;
        if !names.insert(a.name.clone()) {
            bail!("two feeds.audience entries are named {:?}", a.name);
        }
    }
    let connectors = f.connector.clone().unwrap_or_default();
    if connectors.len() > MAX_CONNECTORS {
        bail!("feeds.connector: at most {MAX_CONNECTORS} connectors");
    }
    let mut connector_names = std::collections::BTreeSet::new();
    for c in &connectors {
        c.validate().map_err(anyhow::Error::msg)?;
        if !connector_names.insert(c.name.clone()) {
            bail!("two feeds.connector entries are named {:?}", c.name);
        }
        if !names.contains(&c.audience) {
            bail!(
                "feeds.connector {}: no feeds.audience named {:?} (connectors push only what a configured audience may read)",
                c.name,
                c.audience
            );
        }
    }
    let refresh = match f.refresh_secs.unwrap_or(DEFAULT_REFRESH_SECS) {
        0 => None,
        s if s < MIN_REFRESH_SECS => {
            bail!("feeds.refresh_secs must be 0 (off) or at least {MIN_REFRESH_SECS}")
        }
        s => Some(Duration::from_secs(s)),
    };
    let rpz_origin = f
        .rpz_origin
        .clone()
        .unwrap_or_else(|| "rpz.spamhattan.invalid.".to_string());
    if !valid_origin(&rpz_origin) {
        bail!("feeds.rpz_origin {rpz_origin:?} is not a DNS name ending in a dot");
    }
    let http_listen = match h.listen.as_deref() {
        Some("off") => None,
        Some(a) => Some(a.parse::<SocketAddr>().map_err(|e| {
            anyhow::anyhow!(
                "http.listen {a:?} is not an address such as 127.0.0.1:8025 (or \"off\"): {e}"
            )
        })?),
        None => Some(DEFAULT_HTTP_LISTEN),
    };
    let (http_tls, secure_cookies) = super::http::tls(h)?;
    let metrics_token = match &h.metrics_token {
        Some(t) if t.trim() != t || t.chars().count() < MIN_METRICS_TOKEN_CHARS => bail!(
            "http.metrics_token must be at least {MIN_METRICS_TOKEN_CHARS} characters, without \
             surrounding spaces (try `openssl rand -hex 32`)"
        ),
        t => t.clone(),
    };
    let publish_dir = f
        .publish_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("feeds"));
    let mut allowlist = feeds::intel::allowlist::Allowlist::shipped();
    if let Some(path) = &f.allowlist {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!("feeds.allowlist {} cannot be read: {e}", path.display())
        })?;
        allowlist
            .add_text(&text)
            .map_err(|e| anyhow::anyhow!("feeds.allowlist {}: {e}", path.display()))?;
    }
    Ok(FeedSettings {
        producer: f
            .producer
            .clone()
            .unwrap_or_else(|| format!("spamhattan at {hostname}")),
        contact: f.contact.clone().unwrap_or_default(),
        tlp,
        tlp_by_kind,
        verdicts: f.verdicts.clone().unwrap_or_else(|| {
            SharingPolicy::new(Tlp::Clear, Redactor::new(&[], &[], [0; 32])).verdicts
        }),
        ttl: f.ttl_days.clone().unwrap_or_default(),
        include_expired: f.include_expired.unwrap_or(false),
        include_unclustered: f.include_unclustered.unwrap_or(!clustering),
        publish_dir: if publish_dir.is_absolute() {
            publish_dir
        } else {
            data_dir.join(publish_dir)
        },
        refresh,
        rpz_origin,
        allowlist,
        audiences,
        connectors,
        http_listen,
        http_tls,
        secure_cookies,
        metrics_token,
    })
}

fn parse_tlp(s: &str, field: &str) -> Result<Tlp> {
    Tlp::parse(s).ok_or_else(|| {
        anyhow::anyhow!(
            "{field}: {s:?} is not a TLP level (clear, green, amber, amber+strict, red)"
        )
    })
}

fn valid_origin(s: &str) -> bool {
    s.ends_with('.')
        && s.len() <= 254
        && s.trim_end_matches('.').split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
