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
    Ok(AnalysisSettings {
        workers: f.workers.unwrap_or_else(cores),
        engine,
        auth,
        clamav,
    })
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
