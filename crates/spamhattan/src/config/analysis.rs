//! The `[analysis]` section: worker pool, engine limits and rules, authentication and ClamAV.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Pending analysis jobs above which MAIL is answered `452` when this process analyses:
/// about two minutes of a full-speed spam run on two cores. Enough to ride out a burst; small
/// enough that a stuck worker is noticed before the disk fills.
pub const DEFAULT_MAX_BACKLOG: u64 = 100_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisFile {
    /// Analysis threads in `serve` and `worker`; 0 turns analysis off in `serve` (a sensor
    /// whose collector analyses). Default: the number of cores.
    pub workers: Option<usize>,
    /// Extra archive passwords, tried after the built-in list and those found in the message.
    pub passwords: Option<Vec<String>>,
    /// Directories of operator YARA rules (`*.yar`, `*.yara`).
    pub yara_rules: Option<Vec<PathBuf>>,
    /// A verdict-rule file replacing the shipped rules.
    pub verdict_rules: Option<PathBuf>,
    /// Per-message limits (see `docs/REPORT.md`).
    pub limits: Option<analysis::Limits>,
    pub auth: Option<AuthFile>,
    /// ClamAV's clamd; absent: not used.
    pub clamav: Option<ClamavFile>,
    /// The analysis child processes and their limits.
    pub sandbox: Option<SandboxFile>,
}

/// Memory a child may map (`RLIMIT_AS`) by default: the analysis limits allow 256 MiB of
/// decoded objects per message (`max_total_bytes`) on top of a raw message of up to 64 MiB and
/// the parsers' own state, and the child's address space also holds the binary, the compiled
/// rules, YARA-X's reserved WebAssembly memory and its timer thread's stack (about 135 MiB in
/// a release build and 160 MiB in a debug build before the first message, measured; 32 MiB
/// resident). 1 GiB leaves room for the worst message the limits let through while a bomb
/// that escapes them stops there, per child, whatever the host has.
pub const DEFAULT_SANDBOX_MEMORY_MB: u64 = 1024;

/// Wall-clock limit per message in a child by default: six times the engine's own 10 s budget
/// (`time_budget`, cooperative: checked between objects), so that only a parser stuck inside
/// one object is ever killed.
pub const DEFAULT_SANDBOX_TIME_MS: u64 = 60_000;

/// Smallest accepted `memory_limit_mb`: below it a child cannot even hold its engine.
pub const MIN_SANDBOX_MEMORY_MB: u64 = 32;

/// `[analysis.sandbox]`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxFile {
    /// `auto` (default): children sandboxed with what the kernel offers, a warning naming
    /// what is missing; `required`: refuse to start without Landlock and seccomp; `off`:
    /// analysis in the worker's own threads.
    pub mode: Option<crate::sandbox::Mode>,
    /// `RLIMIT_AS` of each child (default [`DEFAULT_SANDBOX_MEMORY_MB`]).
    pub memory_limit_mb: Option<u64>,
    /// Wall-clock limit per message, enforced by the parent with `SIGKILL` (default
    /// [`DEFAULT_SANDBOX_TIME_MS`]).
    pub time_limit_ms: Option<u64>,
}

/// The resolved `[analysis.sandbox]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    pub mode: crate::sandbox::Mode,
    pub memory_limit_mb: u64,
    pub time_limit: Duration,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        SandboxSettings {
            mode: crate::sandbox::Mode::Auto,
            memory_limit_mb: DEFAULT_SANDBOX_MEMORY_MB,
            time_limit: Duration::from_millis(DEFAULT_SANDBOX_TIME_MS),
        }
    }
}

/// SPF, DKIM, DMARC and ARC evaluation.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    /// Default true. Evaluating SPF for hostile mail makes the sensor's resolver query
    /// attacker-chosen names; switch off on sensors that must stay quiet, or point
    /// `nameservers` at a dedicated caching resolver.
    pub enabled: Option<bool>,
    /// `IP:PORT` of resolvers; empty: the system's resolv.conf.
    pub nameservers: Option<Vec<String>>,
    /// Per query.
    pub timeout_ms: Option<u64>,
    /// Per message, all lookups together.
    pub budget_ms: Option<u64>,
    pub cache_entries: Option<usize>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClamavFile {
    /// `unix:/run/clamav/clamd.ctl` or `tcp:127.0.0.1:3310`.
    pub address: String,
    pub timeout_ms: Option<u64>,
}

/// The resolved `[analysis]` section.
#[derive(Debug, Clone)]
pub struct AnalysisSettings {
    pub workers: usize,
    pub engine: analysis::EngineConfig,
    pub auth: Option<enrich::AuthConfig>,
    pub clamav: Option<enrich::ClamdConfig>,
    pub sandbox: SandboxSettings,
}

pub(super) fn fill_defaults(f: &mut AnalysisFile) {
    f.workers.get_or_insert_with(cores);
    f.passwords.get_or_insert_with(Vec::new);
    f.yara_rules.get_or_insert_with(Vec::new);
    f.limits.get_or_insert_with(analysis::Limits::default);
    let d = enrich::AuthConfig::default();
    let a = f.auth.get_or_insert_with(AuthFile::default);
    a.enabled.get_or_insert(true);
    a.nameservers.get_or_insert_with(Vec::new);
    a.timeout_ms.get_or_insert(d.timeout.as_millis() as u64);
    a.budget_ms.get_or_insert(d.total_budget.as_millis() as u64);
    a.cache_entries.get_or_insert(d.cache_entries);
    let s = f.sandbox.get_or_insert_with(SandboxFile::default);
    s.mode.get_or_insert(crate::sandbox::Mode::Auto);
    s.memory_limit_mb.get_or_insert(DEFAULT_SANDBOX_MEMORY_MB);
    s.time_limit_ms.get_or_insert(DEFAULT_SANDBOX_TIME_MS);
}

pub(super) fn build(f: &AnalysisFile) -> Result<AnalysisSettings> {
    let engine = analysis::EngineConfig {
        limits: f.limits.clone().unwrap_or_default(),
        passwords: f.passwords.clone().unwrap_or_default(),
        yara_dirs: f.yara_rules.clone().unwrap_or_default(),
        no_builtin_yara: false,
        verdict_rules: f.verdict_rules.clone(),
    };
    let a = f.auth.clone().unwrap_or_default();
    let auth = if a.enabled.unwrap_or(true) {
        let d = enrich::AuthConfig::default();
        let mut nameservers = Vec::new();
        for ns in a.nameservers.iter().flatten() {
            nameservers.push(ns.parse::<SocketAddr>().with_context(|| {
                format!("[analysis.auth] nameservers: want IP:PORT, got {ns:?}")
            })?);
        }
        Some(enrich::AuthConfig {
            enabled: true,
            nameservers,
            timeout: a.timeout_ms.map(Duration::from_millis).unwrap_or(d.timeout),
            total_budget: a
                .budget_ms
                .map(Duration::from_millis)
                .unwrap_or(d.total_budget),
            cache_entries: a.cache_entries.unwrap_or(d.cache_entries),
        })
    } else {
        None
    };
    let clamav = match &f.clamav {
        Some(c) => {
            if !(c.address.starts_with("unix:") || c.address.starts_with("tcp:")) {
                bail!(
                    "[analysis.clamav] address must be unix:/path or tcp:HOST:PORT, got {:?}",
                    c.address
                );
            }
            let d = enrich::ClamdConfig::default();
            Some(enrich::ClamdConfig {
                address: c.address.clone(),
                timeout: c.timeout_ms.map(Duration::from_millis).unwrap_or(d.timeout),
                ..d
            })
        }
        None => None,
    };
    let sandbox = sandbox_settings(f.sandbox.as_ref(), &engine.limits)?;
    Ok(AnalysisSettings {
        workers: f.workers.unwrap_or_else(cores),
        engine,
        auth,
        clamav,
        sandbox,
    })
}

fn sandbox_settings(f: Option<&SandboxFile>, limits: &analysis::Limits) -> Result<SandboxSettings> {
    let d = SandboxSettings::default();
    let Some(f) = f else { return Ok(d) };
    let s = SandboxSettings {
        mode: f.mode.unwrap_or(d.mode),
        memory_limit_mb: f.memory_limit_mb.unwrap_or(d.memory_limit_mb),
        time_limit: f
            .time_limit_ms
            .map(Duration::from_millis)
            .unwrap_or(d.time_limit),
    };
    if s.memory_limit_mb < MIN_SANDBOX_MEMORY_MB {
        bail!(
            "[analysis.sandbox] memory_limit_mb: at least {MIN_SANDBOX_MEMORY_MB}, got {}",
            s.memory_limit_mb
        );
    }
    if s.time_limit.is_zero() {
        bail!("[analysis.sandbox] time_limit_ms: must be above 0");
    }
    if s.mode != crate::sandbox::Mode::Off && s.time_limit <= limits.time_budget {
        tracing::warn!(
            time_limit_ms = s.time_limit.as_millis() as u64,
            time_budget_ms = limits.time_budget.as_millis() as u64,
            "[analysis.sandbox] time_limit_ms is not above the engine's time budget: messages \
             that use their whole budget will be killed instead of reported in part"
        );
    }
    Ok(s)
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
