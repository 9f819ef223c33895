//! Configuration, resolved once at start-up: defaults ← TOML file ← `SPAMHATTAN_*` environment
//! ← command-line flags. Unknown keys are errors; every component receives only its section.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use trap::{AddressPolicy, Limits, ListenerConfig, TlsMode, TlsSource, TrapConfig};

mod alerts;
mod analysis;
mod bait;
mod domains;
mod feeds;
mod http;
mod network;
pub use self::alerts::{AlertSettings, AlertsFile, CampaignsFile};
pub use self::analysis::{AnalysisFile, AnalysisSettings, DEFAULT_MAX_BACKLOG, SandboxSettings};
pub use self::bait::{BaitConfig, BaitFile};
pub use self::domains::DomainFile;
pub use self::feeds::{FeedSettings, FeedsFile, HttpFile};
pub use self::network::{CollectorFile, CollectorSettings, SensorFile, SensorSettings};

/// The config file's shape. Every field is optional; the resolved form has them all.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub hostname: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub trap_domains: Option<Vec<String>>,
    /// `[[domain]]`: trap domains with a lifecycle (`domains.rs`).
    pub domain: Option<Vec<DomainFile>>,
    pub persona: Option<String>,
    /// Event log path (relative to the data dir), or `-` for stdout.
    pub event_log: Option<String>,
    pub listener: Option<Vec<ListenerFile>>,
    pub tls: Option<TlsFile>,
    pub limits: Option<LimitsFile>,
    pub address: Option<Vec<AddressFile>>,
    pub auth_lure: Option<AuthLureFile>,
    pub retention: Option<RetentionFile>,
    pub store: Option<StoreFile>,
    pub analysis: Option<AnalysisFile>,
    pub campaigns: Option<CampaignsFile>,
    pub alerts: Option<AlertsFile>,
    pub feeds: Option<FeedsFile>,
    pub http: Option<HttpFile>,
    /// `[bait]`: the public bait-page listener (`bait.rs`); absent: off.
    pub bait: Option<BaitFile>,
    /// `[trap]`: how the process runs (the account it drops to after binding).
    pub trap: Option<TrapFile>,
    /// `[sensor]`: identity and spool of `spamhattan sensor` (`network.rs`).
    pub sensor: Option<SensorFile>,
    /// `[collector]`: the shared consumer of `spamhattan collector`.
    pub collector: Option<CollectorFile>,
    /// `[bus]`: the NATS JetStream connection of sensors and collectors.
    pub bus: Option<bus::BusConfig>,
}

/// `[trap]`: the account `serve` runs as once its sockets are bound.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrapFile {
    /// Started as root, `serve` binds every socket, then becomes this user (setgroups, setgid,
    /// setuid). Started as another user, it must already be this one.
    pub user: Option<String>,
    /// The group to run as; default the user's primary group.
    pub group: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerFile {
    pub address: String,
    /// `starttls` (default) or `implicit`.
    pub tls: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_message_bytes: Option<u64>,
    pub max_recipients: Option<usize>,
    pub max_line: Option<usize>,
    pub max_commands: Option<u64>,
    pub soft_errors: Option<u32>,
    pub max_errors: Option<u32>,
    pub error_sleep_ms: Option<u64>,
    pub session_lifetime_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    pub data_idle_timeout_secs: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_ip: Option<usize>,
    pub greet_delay_ms: Option<u64>,
    /// A command line must be complete this long after its first byte (0: off).
    pub command_deadline_secs: Option<u64>,
    /// Lowest average DATA/BDAT content rate after the grace, bytes per second (0: off).
    pub min_data_rate: Option<u64>,
    pub data_rate_grace_secs: Option<u64>,
    /// Message bytes all sessions together may hold while receiving.
    pub max_inflight_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressFile {
    pub address: String,
    /// `accept`, `unknown-user` or `tempfail`.
    pub policy: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthLureFile {
    pub enabled: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionFile {
    pub max_blob_bytes: Option<u64>,
    pub max_blob_age_days: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    /// Pending analysis jobs above which MAIL is answered `452`. Default
    /// [`DEFAULT_MAX_BACKLOG`] when this process analyses (`[analysis] workers` > 0); no limit
    /// when it does not (a sensor feeding a collector), since jobs would only accumulate.
    pub max_backlog: Option<u64>,
    /// Free disk below which MAIL is answered `452`.
    pub min_free_bytes: Option<u64>,
    /// Keep the store in PostgreSQL (a collector's, shared by all collectors) instead of
    /// SQLite in `data_dir`. A libpq connection string or `postgresql://` URL; printed as
    /// `<redacted>` when it carries a password (prefer `SPAMHATTAN_POSTGRES_URL` for that).
    #[serde(
        serialize_with = "redacted_url",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub postgres_url: Option<String>,
    /// A schema of that database to create and use (default: the user's search path).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub postgres_schema: Option<String>,
    /// Connections kept open to PostgreSQL (default 8).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub postgres_pool: Option<usize>,
}

/// A PostgreSQL URL as `config check` prints it: whole, unless it carries a password.
fn redacted_url<S: serde::Serializer>(url: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match url {
        Some(u) if url_has_password(u) => s.serialize_str("<redacted>"),
        Some(u) => s.serialize_str(u),
        None => s.serialize_none(),
    }
}

/// `postgresql://user:secret@host/db` or `... password=secret ...`.
fn url_has_password(url: &str) -> bool {
    if url.to_ascii_lowercase().contains("password") {
        return true;
    }
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// Values given on the command line or in the environment (they win over the file).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub hostname: Option<String>,
    pub trap_domains: Vec<String>,
    pub smtp_listen: Vec<String>,
    pub smtps_listen: Vec<String>,
    pub http_listen: Option<String>,
    /// `--bait-listen`: `[bait] listen`.
    pub bait_listen: Option<String>,
    /// `--user`: `[trap] user`.
    pub user: Option<String>,
    /// `--postgres-url`: `[store] postgres_url`.
    pub postgres_url: Option<String>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: FileConfig,
    pub data_dir: PathBuf,
    pub trap: TrapConfig,
    pub store: store::StoreConfig,
    pub event_log: String,
    pub analysis: AnalysisSettings,
    pub alerts: AlertSettings,
    pub feeds: FeedSettings,
    /// The bait listener, when `[bait] listen` is set.
    pub bait: Option<BaitConfig>,
    /// The account to run as after binding (`[trap] user`/`group`, `--user`).
    pub run_as: Option<RunAs>,
    /// `[sensor]` with an id; `spamhattan sensor` refuses to start without it.
    pub sensor: Option<SensorSettings>,
    pub collector: CollectorSettings,
    pub bus: bus::BusConfig,
}

/// An account named in the configuration; looked up by `serve` when it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    pub user: String,
    pub group: Option<String>,
}

/// The default SMTP listener for a newcomer: loopback, unprivileged port.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:2525";
pub const DEFAULT_DATA_DIR: &str = "./spamhattan-data";

fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn parse_addr(s: &str) -> Result<SocketAddr> {
    s.trim().parse().with_context(|| {
        format!("not a listen address (want IP:PORT, e.g. 127.0.0.1:2525 or [::1]:25): {s:?}")
    })
}

fn parse_policy(s: &str) -> Result<AddressPolicy> {
    Ok(match s {
        "accept" => AddressPolicy::Accept,
        "unknown-user" => AddressPolicy::UnknownUser,
        "tempfail" => AddressPolicy::TempFail,
        other => bail!("unknown address policy {other:?} (want accept, unknown-user or tempfail)"),
    })
}

/// Most connections a process keeps open to PostgreSQL: far past what its workers and console
/// use, well under a default server's `max_connections` (100) shared by several collectors.
pub const MAX_POSTGRES_POOL: usize = 64;

/// Reads the file (if any) and applies overrides.
pub fn resolve(o: &Overrides) -> Result<Config> {
    let mut file = match &o.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read config {}", path.display()))?;
            toml::from_str::<FileConfig>(&text)
                .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?
        }
        None => FileConfig::default(),
    };
    if let Some(d) = &o.data_dir {
        file.data_dir = Some(d.clone());
    }
    if let Some(h) = &o.hostname {
        file.hostname = Some(h.clone());
    }
    if let Some(u) = &o.postgres_url {
        file.store
            .get_or_insert_with(StoreFile::default)
            .postgres_url = Some(u.clone());
    }
    if let Some(h) = &o.http_listen {
        file.http.get_or_insert_with(HttpFile::default).listen = Some(h.clone());
    }
    if let Some(b) = &o.bait_listen {
        file.bait.get_or_insert_with(BaitFile::default).listen = Some(b.clone());
    }
    if let Some(u) = &o.user {
        file.trap.get_or_insert_with(TrapFile::default).user = Some(u.clone());
    }
    if !o.trap_domains.is_empty() {
        file.trap_domains = Some(o.trap_domains.clone());
    }
    if !o.smtp_listen.is_empty() || !o.smtps_listen.is_empty() {
        let plain = o.smtp_listen.iter().map(|a| (a, "starttls"));
        let implicit = o.smtps_listen.iter().map(|a| (a, "implicit"));
        file.listener = Some(
            plain
                .chain(implicit)
                .map(|(a, tls)| ListenerFile {
                    address: a.clone(),
                    tls: Some(tls.into()),
                    name: None,
                })
                .collect(),
        );
    }
    fill_defaults(&mut file);
    build(file)
}

fn fill_defaults(f: &mut FileConfig) {
    f.hostname.get_or_insert_with(machine_hostname);
    f.data_dir
        .get_or_insert_with(|| PathBuf::from(DEFAULT_DATA_DIR));
    f.trap_domains.get_or_insert_with(Vec::new);
    f.persona.get_or_insert_with(|| "postfix".into());
    f.event_log.get_or_insert_with(|| "events.jsonl".into());
    f.listener.get_or_insert_with(|| {
        vec![ListenerFile {
            address: DEFAULT_LISTEN.into(),
            tls: Some("starttls".into()),
            name: Some("smtp".into()),
        }]
    });
    let d = Limits::default();
    let l = f.limits.get_or_insert_with(LimitsFile::default);
    l.max_message_bytes.get_or_insert(d.max_message_bytes);
    l.max_recipients.get_or_insert(d.max_recipients);
    l.max_line.get_or_insert(d.max_line);
    l.max_commands.get_or_insert(d.max_commands);
    l.soft_errors.get_or_insert(d.soft_errors);
    l.max_errors.get_or_insert(d.max_errors);
    l.error_sleep_ms
        .get_or_insert(d.error_sleep.as_millis() as u64);
    l.session_lifetime_secs
        .get_or_insert(d.session_lifetime.as_secs());
    l.idle_timeout_secs.get_or_insert(d.idle_timeout.as_secs());
    l.data_idle_timeout_secs
        .get_or_insert(d.data_idle_timeout.as_secs());
    l.max_connections.get_or_insert(d.max_connections);
    l.max_connections_per_ip
        .get_or_insert(d.max_connections_per_ip);
    l.greet_delay_ms
        .get_or_insert(d.greet_delay.as_millis() as u64);
    l.command_deadline_secs
        .get_or_insert(d.command_deadline.as_secs());
    l.min_data_rate.get_or_insert(d.min_data_rate);
    l.data_rate_grace_secs
        .get_or_insert(d.data_rate_grace.as_secs());
    l.max_inflight_bytes.get_or_insert(d.max_inflight_bytes);
    f.address.get_or_insert_with(Vec::new);
    f.auth_lure.get_or_insert_with(AuthLureFile::default);
    f.retention.get_or_insert_with(RetentionFile::default);
    let s = f.store.get_or_insert_with(StoreFile::default);
    let sd = store::StoreConfig::new(".");
    s.min_free_bytes.get_or_insert(sd.min_free_bytes);
    analysis::fill_defaults(f.analysis.get_or_insert_with(AnalysisFile::default));
    let c = f.campaigns.get_or_insert_with(CampaignsFile::default);
    c.enabled.get_or_insert(true);
    if let Some(b) = f.bait.as_mut() {
        bait::fill_defaults(b);
    }
}

fn build(file: FileConfig) -> Result<Config> {
    let data_dir = file.data_dir.clone().unwrap_or_default();
    let hostname = file.hostname.clone().unwrap_or_default();
    if hostname.is_empty() || hostname.contains(|c: char| c.is_whitespace() || c.is_control()) {
        bail!("hostname must be a single word such as mx1.example.nl, got {hostname:?}");
    }
    let mut listeners = Vec::new();
    for (i, l) in file.listener.iter().flatten().enumerate() {
        let address = parse_addr(&l.address)?;
        let tls = match l.tls.as_deref().unwrap_or("starttls") {
            "starttls" => TlsMode::StartTls,
            "implicit" => TlsMode::Implicit,
            other => bail!(
                "listener {}: tls must be starttls or implicit, got {other:?}",
                l.address
            ),
        };
        let name = l.name.clone().unwrap_or_else(|| match (tls, i) {
            (TlsMode::Implicit, _) => "smtps".into(),
            (TlsMode::StartTls, 0) => "smtp".into(),
            (TlsMode::StartTls, n) => format!("smtp{n}"),
        });
        listeners.push(ListenerConfig { name, address, tls });
    }
    if listeners.is_empty() {
        bail!("no SMTP listener configured");
    }
    let mut addresses = Vec::new();
    for a in file.address.iter().flatten() {
        addresses.push((a.address.clone(), parse_policy(&a.policy)?));
    }
    let domains = domains::build(
        file.trap_domains.as_deref().unwrap_or_default(),
        file.domain.as_deref().unwrap_or_default(),
    )?;
    let persona = file.persona.clone().unwrap_or_default();
    if !trap::PERSONAS.contains(&persona.as_str()) {
        bail!(
            "unknown persona {persona:?} (known: {})",
            trap::PERSONAS.join(", ")
        );
    }
    let l = file.limits.clone().unwrap_or_default();
    let d = Limits::default();
    let limits = Limits {
        max_message_bytes: l.max_message_bytes.unwrap_or(d.max_message_bytes),
        max_recipients: l.max_recipients.unwrap_or(d.max_recipients),
        max_line: l.max_line.unwrap_or(d.max_line).max(512),
        max_data_line: d.max_data_line,
        max_commands: l.max_commands.unwrap_or(d.max_commands),
        soft_errors: l.soft_errors.unwrap_or(d.soft_errors),
        max_errors: l.max_errors.unwrap_or(d.max_errors).max(1),
        error_sleep: l
            .error_sleep_ms
            .map(Duration::from_millis)
            .unwrap_or(d.error_sleep),
        session_lifetime: l
            .session_lifetime_secs
            .map(Duration::from_secs)
            .unwrap_or(d.session_lifetime),
        idle_timeout: l
            .idle_timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(d.idle_timeout),
        data_idle_timeout: l
            .data_idle_timeout_secs
            .map(Duration::from_secs)
            .unwrap_or(d.data_idle_timeout),
        max_connections: l.max_connections.unwrap_or(d.max_connections),
        max_connections_per_ip: l.max_connections_per_ip.unwrap_or(d.max_connections_per_ip),
        max_auth_attempts: d.max_auth_attempts,
        greet_delay: l
            .greet_delay_ms
            .map(Duration::from_millis)
            .unwrap_or(d.greet_delay),
        command_deadline: l
            .command_deadline_secs
            .map(Duration::from_secs)
            .unwrap_or(d.command_deadline),
        min_data_rate: l.min_data_rate.unwrap_or(d.min_data_rate),
        data_rate_grace: l
            .data_rate_grace_secs
            .map(Duration::from_secs)
            .unwrap_or(d.data_rate_grace),
        max_inflight_bytes: l.max_inflight_bytes.unwrap_or(d.max_inflight_bytes),
    };
    if limits.max_inflight_bytes < limits.max_message_bytes {
        bail!(
            "limits.max_inflight_bytes ({}) is below limits.max_message_bytes ({}): no message of the largest size could ever be received",
            limits.max_inflight_bytes,
            limits.max_message_bytes
        );
    }
    let tls = match &file.tls {
        Some(t) => TlsSource::Files {
            cert: t.cert.clone(),
            key: t.key.clone(),
        },
        None => TlsSource::SelfSigned {
            dir: data_dir.join("tls"),
        },
    };
    let trap = TrapConfig {
        hostname,
        listeners,
        domains,
        addresses,
        persona,
        limits,
        tls,
        auth_lure: file.auth_lure.as_ref().is_some_and(|a| a.enabled),
        sensor: None,
    };
    let analysis = analysis::build(&file.analysis.clone().unwrap_or_default())?;
    let alerts = alerts::build(
        &file.campaigns.clone().unwrap_or_default(),
        &file.alerts.clone().unwrap_or_default(),
    )?;
    let mut store = store::StoreConfig::new(&data_dir);
    let default_backlog = if analysis.workers > 0 {
        DEFAULT_MAX_BACKLOG
    } else {
        u64::MAX
    };
    store.max_backlog = default_backlog;
    if let Some(r) = &file.retention {
        store.retention.max_blob_bytes = r.max_blob_bytes;
        store.retention.max_blob_age = r.max_blob_age_days.map(|d| Duration::from_secs(d * 86_400));
    }
    if let Some(s) = &file.store {
        store.max_backlog = s.max_backlog.unwrap_or(default_backlog);
        store.min_free_bytes = s.min_free_bytes.unwrap_or(store.min_free_bytes);
        if let Some(url) = s.postgres_url.as_deref().filter(|u| !u.trim().is_empty()) {
            let mut pg = store::PgConfig::new(url);
            pg.schema.clone_from(&s.postgres_schema);
            if let Some(n) = s.postgres_pool {
                if n == 0 || n > MAX_POSTGRES_POOL {
                    bail!("[store] postgres_pool must be 1..={MAX_POSTGRES_POOL}, not {n}");
                }
                pg.pool = n;
            }
            store.postgres = Some(pg);
        } else if s.postgres_schema.is_some() || s.postgres_pool.is_some() {
            bail!("[store] postgres_schema and postgres_pool need postgres_url");
        }
    }
    let event_log = file.event_log.clone().unwrap_or_default();
    let feeds = feeds::build(
        &file.feeds.clone().unwrap_or_default(),
        &file.http.clone().unwrap_or_default(),
        &trap.hostname,
        &data_dir,
        alerts.clustering,
    )?;
    let bait = bait::build(
        &file.bait.clone().unwrap_or_default(),
        &trap.domains,
        model::now().date(),
    )?;
    let run_as = run_as(file.trap.as_ref())?;
    let sensor = network::sensor(file.sensor.as_ref())?;
    let collector = network::collector(file.collector.as_ref())?;
    let bus = file.bus.clone().unwrap_or_default();
    if let Err(e) = bus.validate() {
        bail!("[bus]: {e}");
    }
    Ok(Config {
        file,
        data_dir,
        trap,
        store,
        event_log,
        analysis,
        alerts,
        feeds,
        bait,
        run_as,
        sensor,
        collector,
        bus,
    })
}

/// `[trap] user`/`group` checked for shape (the account itself is looked up by `serve`, on
/// the host where it runs).
fn run_as(t: Option<&TrapFile>) -> Result<Option<RunAs>> {
    let Some(t) = t else { return Ok(None) };
    let name_ok = |n: &str| {
        !n.is_empty()
            && n.len() <= 64
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    if let Some(g) = &t.group
        && !name_ok(g)
    {
        bail!("trap.group must be a group name such as spamhattan, got {g:?}");
    }
    match &t.user {
        None if t.group.is_some() => bail!("trap.group is set without trap.user"),
        None => Ok(None),
        Some(u) if !name_ok(u) => {
            bail!("trap.user must be a user name such as spamhattan, got {u:?}")
        }
        Some(u) => Ok(Some(RunAs {
            user: u.clone(),
            group: t.group.clone(),
        })),
    }
}

/// Makes sure the data dir exists and is writable, with a one-line reason if not.
pub fn prepare_data_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("data dir {} cannot be created", dir.display()))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("data dir {} is not writable", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(())
}

impl Config {
    /// The resolved configuration as TOML (what `config check` prints).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(&self.file).context("cannot render the configuration")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn from_toml(text: &str) -> Result<Config> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text)?;
        resolve(&Overrides {
            config: Some(path),
            ..Overrides::default()
        })
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = from_toml("hostname = \"mx\"\nbogus = 1\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn flags_win_over_the_file() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "hostname = \"file.example\"\ntrap_domains = [\"a.example\"]\n",
        )?;
        let o = Overrides {
            config: Some(path),
            hostname: Some("flag.example".into()),
            trap_domains: vec!["b.example".into()],
            smtp_listen: vec!["[::1]:2626".into()],
            ..Overrides::default()
        };
        let c = resolve(&o)?;
        assert_eq!(c.trap.hostname, "flag.example");
        assert_eq!(c.trap.domains, vec![model::TrapDomain::active("b.example")]);
        assert_eq!(c.trap.listeners[0].address.to_string(), "[::1]:2626");
        Ok(())
    }

    #[test]
    fn bad_values_fail_with_a_reason() {
        for (text, needle) in [
            ("[[listener]]\naddress = \"nonsense\"\n", "listen address"),
            ("persona = \"exchange-2003\"\n", "unknown persona"),
            ("trap_domains = [\"bad domain\"]\n", "trap domain"),
            (
                "[[address]]\naddress = \"a@b.example\"\npolicy = \"maybe\"\n",
                "policy",
            ),
        ] {
            let err = from_toml(text)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn trap_limits_and_account_are_read_and_checked() -> Result<()> {
        let c = from_toml(
            "[limits]\ncommand_deadline_secs = 30\nmin_data_rate = 0\nmax_inflight_bytes = 20000000\n[trap]\nuser = \"spamhattan\"\n",
        )?;
        assert_eq!(c.trap.limits.command_deadline, Duration::from_secs(30));
        assert_eq!(c.trap.limits.min_data_rate, 0);
        assert_eq!(c.trap.limits.max_inflight_bytes, 20_000_000);
        assert_eq!(
            c.run_as,
            Some(RunAs {
                user: "spamhattan".into(),
                group: None
            })
        );
        assert_eq!(from_toml("")?.run_as, None);
        for (text, needle) in [
            (
                "[limits]\nmax_inflight_bytes = 1000\n",
                "max_inflight_bytes",
            ),
            ("[trap]\nuser = \"root; rm\"\n", "trap.user"),
            ("[trap]\ngroup = \"mail\"\n", "without trap.user"),
        ] {
            let err = from_toml(text)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(err.contains(needle), "{text}: {err}");
        }
        Ok(())
    }

    #[test]
    fn backlog_is_limited_only_where_something_analyses() -> Result<()> {
        assert_eq!(from_toml("")?.store.max_backlog, DEFAULT_MAX_BACKLOG);
        assert_eq!(
            from_toml("[analysis]\nworkers = 0\n")?.store.max_backlog,
            u64::MAX
        );
        assert_eq!(
            from_toml("[store]\nmax_backlog = 5\n")?.store.max_backlog,
            5
        );
        Ok(())
    }

    #[test]
    fn analysis_section_is_checked() {
        for (text, needle) in [
            ("[analysis.limits]\nmax_dept = 3\n", "max_dept"),
            (
                "[analysis.auth]\nnameservers = [\"localhost\"]\n",
                "IP:PORT",
            ),
            (
                "[analysis.clamav]\naddress = \"/run/clamd.ctl\"\n",
                "unix:/path",
            ),
        ] {
            let err = from_toml(text)
                .err()
                .map(|e| format!("{e:#}"))
                .unwrap_or_default();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn resolved_config_round_trips_through_toml() -> Result<()> {
        let c = from_toml("trap_domains = [\"trap.example\"]\n")?;
        let again: FileConfig = toml::from_str(&c.to_toml()?)?;
        assert_eq!(again.trap_domains, Some(vec!["trap.example".to_string()]));
        assert_eq!(again.limits.and_then(|l| l.max_recipients), Some(1000));
        Ok(())
    }
}

#[cfg(test)]
mod example_tests {
    use super::*;

    /// The documented example must stay a valid configuration with every key.
    #[test]
    fn bad_feed_settings_are_refused_with_the_field_named() {
        for (text, words) in [
            ("[feeds]\ntlp = \"purple\"\n", "feeds.tlp"),
            ("[feeds]\nrefresh_secs = 5\n", "refresh_secs"),
            ("[feeds]\nrpz_origin = \"no-dot\"\n", "rpz_origin"),
            ("[feeds]\ntlp_by_kind = { md5 = \"red\" }\n", "tlp_by_kind"),
            (
                "[[feeds.audience]]\nname = \"a b\"\ntlp = \"green\"\n",
                "audience name",
            ),
            (
                "[[feeds.audience]]\nname = \"x\"\ntlp = \"green\"\ntokens = [\"short\"]\n",
                "16 characters",
            ),
            (
                "[[feeds.audience]]\nname = \"x\"\ntlp = \"green\"\nformats = [\"xml\"]\n",
                "unknown feed format",
            ),
            ("[http]\nlisten = \"localhost\"\n", "http.listen"),
        ] {
            let text = format!("hostname = \"mx.example\"\n{text}");
            let err = format!("{:#}", super::tests::from_toml(&text).expect_err(&text));
            assert!(err.contains(words), "{text}: {err}");
        }
    }

    #[test]
    fn sensor_and_collector_examples_in_contrib_are_valid() -> Result<()> {
        for (text, sensor) in [
            (include_str!("../../../../contrib/config/sensor.toml"), true),
            (
                include_str!("../../../../contrib/config/collector.toml"),
                false,
            ),
        ] {
            let file: FileConfig = toml::from_str(text)?;
            let cfg = build({
                let mut f = file;
                fill_defaults(&mut f);
                f
            })?;
            assert_eq!(cfg.sensor.is_some(), sensor);
            let printed = cfg.to_toml()?;
            assert!(!printed.contains("change-me"), "bus secrets never print");
        }
        Ok(())
    }

    #[test]
    fn store_postgres_keys_are_read_checked_and_never_print_a_password() -> Result<()> {
        let cfg = super::tests::from_toml(
            "[store]\npostgres_url = \"postgresql://spamhattan:s3cret-pw@db1/spamhattan\"\npostgres_schema = \"trap\"\npostgres_pool = 3\n",
        )?;
        let pg = cfg.store.postgres.clone().expect("postgres store");
        assert_eq!(pg.url, "postgresql://spamhattan:s3cret-pw@db1/spamhattan");
        assert_eq!((pg.schema.as_deref(), pg.pool), (Some("trap"), 3));
        let printed = cfg.to_toml()?;
        assert!(!printed.contains("s3cret-pw") && printed.contains("<redacted>"));
        assert!(!format!("{:?}", cfg.store).contains("s3cret-pw"));
        // Without a password the URL prints as is (an operator checks where it points).
        let plain = super::tests::from_toml("[store]\npostgres_url = \"host=db1 dbname=x\"\n")?;
        assert!(plain.to_toml()?.contains("host=db1 dbname=x"));
        for bad in [
            "[store]\npostgres_url = \"postgresql://db1/x\"\npostgres_pool = 0\n",
            "[store]\npostgres_url = \"postgresql://db1/x\"\npostgres_pool = 65\n",
            "[store]\npostgres_schema = \"trap\"\n",
        ] {
            assert!(super::tests::from_toml(bad).is_err(), "{bad}");
        }
        assert!(super::tests::from_toml("")?.store.postgres.is_none());
        Ok(())
    }

    #[test]
    fn network_sections_are_read_and_checked() -> Result<()> {
        let cfg = super::tests::from_toml(
            "[sensor]\nid = \"bank-nl\"\nsector = \"bank\"\nmax_spool_bytes = 1000\n[bus]\nurl = \"nats://10.0.0.1:4222\"\nuser = \"s\"\npassword = \"secret-pw\"\n[collector]\nbatch = 32\n",
        )?;
        let s = cfg.sensor.clone().expect("sensor");
        assert_eq!(
            (s.tag.id.as_str(), s.tag.sector.as_str()),
            ("bank-nl", "bank")
        );
        assert_eq!((s.max_spool_bytes, s.batch), (1000, 256));
        assert_eq!(cfg.collector.batch, 32);
        assert_eq!(cfg.collector.consumer, "collector");
        assert_eq!(cfg.bus.url, "nats://10.0.0.1:4222");
        assert!(!cfg.to_toml()?.contains("secret-pw"));
        assert!(super::tests::from_toml("")?.sensor.is_none());
        for (text, needle) in [
            ("[sensor]\nid = \"a.b\"\n", "sensor id"),
            ("[sensor]\nsector = \"bank\"\n", "needs an id"),
            ("[sensor]\nid = \"a\"\nbatch = 0\n", "sensor.batch"),
            (
                "[sensor]\nid = \"a\"\nmax_spool_bytes = 0\n",
                "max_spool_bytes",
            ),
            ("[collector]\nconsumer = \"a b\"\n", "collector.consumer"),
            ("[bus]\nuser = \"a\"\n", "bus"),
        ] {
            let err = super::tests::from_toml(text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(needle), "{text:?}: {err}");
        }
        Ok(())
    }

    #[test]
    fn the_example_config_in_docs_is_valid() -> Result<()> {
        let text = include_str!("../../../../docs/spamhattan.example.toml");
        let file: FileConfig = toml::from_str(text)?;
        let cfg = build({
            let mut f = file;
            fill_defaults(&mut f);
            f
        })?;
        assert_eq!(cfg.trap.listeners.len(), 3);
        assert_eq!(cfg.trap.listeners[2].tls, TlsMode::Implicit);
        assert_eq!(cfg.trap.addresses[0].1, AddressPolicy::UnknownUser);
        assert_eq!(
            cfg.store.retention.max_blob_age,
            Some(Duration::from_secs(365 * 86_400))
        );
        assert_eq!(cfg.analysis.workers, 2);
        assert_eq!(cfg.feeds.audiences.len(), 2);
        assert_eq!(cfg.feeds.rpz_origin, "rpz.example.org.");
        assert_eq!(cfg.feeds.http_listen.map(|a| a.port()), Some(8025));
        let printed = cfg.to_toml()?;
        assert!(
            !printed.contains("change-me") && printed.contains("<redacted>"),
            "feed credentials never print"
        );
        assert_eq!(
            cfg.analysis.engine.passwords,
            vec!["invoice2026".to_string()]
        );
        assert!(cfg.analysis.auth.is_some());
        assert_eq!(
            cfg.analysis.clamav.map(|c| c.address),
            Some("unix:/run/clamav/clamd.ctl".to_string())
        );
        assert!(cfg.alerts.clustering);
        assert_eq!(cfg.alerts.webhooks[0].name, "soc");
        assert_eq!(cfg.alerts.syslogs[0].name, "siem");
        assert_eq!(cfg.alerts.sinks()?.len(), 2);
        Ok(())
    }

    fn alerts_config(text: &str) -> Result<Config> {
        let mut file: FileConfig = toml::from_str(text)?;
        fill_defaults(&mut file);
        build(file)
    }

    #[test]
    fn alert_receivers_are_checked() {
        let hook = "[[alerts.webhook]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/x\"\n";
        assert!(alerts_config(hook).is_ok());
        let twice = format!("{hook}{}", hook);
        let e = alerts_config(&twice).expect_err("duplicate names");
        assert!(format!("{e:#}").contains("named \"a\""), "{e:#}");
        let ftp = "[[alerts.webhook]]\nname = \"a\"\nurl = \"ftp://127.0.0.1/x\"\n";
        assert!(alerts_config(ftp).is_err(), "only http(s) webhooks");
        let typo =
            "[[alerts.syslog]]\nname = \"s\"\naddress = \"127.0.0.1:514\"\ntransprot = \"tcp\"\n";
        assert!(alerts_config(typo).is_err(), "unknown keys are errors");
        let rules = "[alerts]\nrules = \"/nonexistent/alerts.toml\"\n";
        let e = alerts_config(rules).expect_err("missing rules file");
        assert!(
            format!("{e:#}").contains("/nonexistent/alerts.toml"),
            "{e:#}"
        );
    }

    #[test]
    fn the_resolved_config_prints_no_webhook_secret() -> Result<()> {
        let cfg = alerts_config(
            "[[alerts.webhook]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/x\"\nsecret = \"s3cr3t-value\"\n",
        )?;
        let printed = toml::to_string(&cfg.file)?;
        assert!(!printed.contains("s3cr3t-value"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
        Ok(())
    }
}
