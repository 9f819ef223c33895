//! The engine: limits, rules and passwords loaded once, then shared by every worker thread.

use crate::limits::Limits;
use crate::verdict::Rules;
use crate::walk::Walk;
use model::Sighting;
use model::report::{AuthResults, Report};
use std::path::PathBuf;

/// Passwords tried on every encrypted archive before the ones found in the message: the words
/// malware senders and researchers habitually use.
pub const DEFAULT_PASSWORDS: &[&str] = &[
    "infected", "malware", "virus", "password", "1234", "12345", "123456", "2024", "2025", "2026",
];

/// How to build an [`Engine`]; the binary fills it from the `[analysis]` config section.
/// Serialisable because the binary hands it to its sandboxed analysis children, which build
/// their own engine (reading the rule files) before they lock themselves in.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct EngineConfig {
    pub limits: Limits,
    /// Extra archive passwords, tried after the default list.
    pub passwords: Vec<String>,
    /// Directories of operator YARA rules (`*.yar`, `*.yara`), added to the shipped ones.
    pub yara_dirs: Vec<PathBuf>,
    /// Use only the operator's rules, not the shipped ones.
    pub no_builtin_yara: bool,
    /// A verdict-rule file replacing the shipped `rules/verdict.toml`.
    pub verdict_rules: Option<PathBuf>,
}

/// Why an engine could not be built (bad rule files). Analysis itself never fails.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("verdict rules: {0}")]
    Rules(String),
    #[error("YARA rules: {0}")]
    Yara(String),
}

/// What the analysis knows about the message besides its bytes.
#[derive(Debug, Clone, Default)]
pub struct Input<'a> {
    /// The arrival (envelope, peer, HELO); `None` for offline analysis of a file.
    pub sighting: Option<&'a Sighting>,
    /// Authentication results evaluated by the enrichment step; `None` when not evaluated.
    pub auth: Option<AuthResults>,
}

/// Compiled rules and limits. `Send + Sync`: build one, share it with every worker.
#[derive(Debug)]
pub struct Engine {
    pub(crate) limits: Limits,
    pub(crate) passwords: Vec<String>,
    pub(crate) rules: Rules,
    /// Read only by the walk when the `yara` feature is on (the fuzz targets build without it).
    #[cfg_attr(not(feature = "yara"), allow(dead_code))]
    pub(crate) yara: crate::yara::YaraRules,
    version: String,
}

impl Engine {
    pub fn new(cfg: EngineConfig) -> Result<Engine, EngineError> {
        let rules = match &cfg.verdict_rules {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| EngineError::Read {
                    path: path.clone(),
                    source,
                })?;
                Rules::parse(&text)?
            }
            None => Rules::builtin(),
        };
        let yara = crate::yara::YaraRules::load(!cfg.no_builtin_yara, &cfg.yara_dirs)?;
        let mut passwords: Vec<String> = DEFAULT_PASSWORDS.iter().map(|p| p.to_string()).collect();
        passwords.extend(cfg.passwords.iter().cloned());
        let version = format!(
            "spamhattan {} rules {} yara {}",
            env!("CARGO_PKG_VERSION"),
            rules.fingerprint(),
            yara.fingerprint()
        );
        Ok(Engine {
            limits: cfg.limits,
            passwords,
            rules,
            yara,
            version,
        })
    }

    /// An engine with the defaults and the shipped rules.
    pub fn with_defaults() -> Engine {
        #[allow(clippy::expect_used)]
        Engine::new(EngineConfig::default()).expect("the shipped rules compile (tested)")
    }

    /// Engine and rule versions, recorded in every report.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Analyses one message. Never fails and never panics: what could not be parsed becomes an
    /// anomaly, what went past a limit is recorded in `budget.limits_hit`.
    pub fn analyze(&self, raw: &[u8], input: &Input<'_>) -> Report {
        Walk::run(self, raw, input)
    }

    /// Analyses a bare file (a sample rather than a mail): the report's `artifacts[0]` is the
    /// file and everything inside it follows. Headers and bodies stay empty.
    pub fn analyze_object(&self, name: Option<&str>, data: &[u8], input: &Input<'_>) -> Report {
        Walk::run_object(self, name.map(str::to_string), data, None, input)
    }

    /// [`Engine::analyze_object`] with the kind forced instead of sniffed: sends any bytes to
    /// one parser (what the per-parser fuzz targets do).
    pub fn analyze_object_as(&self, kind: crate::Kind, data: &[u8]) -> Report {
        Walk::run_object(self, None, data, Some(kind), &Input::default())
    }

    /// Recomputes indicators and the verdict after findings were added from outside (ClamAV
    /// hits, authentication results).
    pub fn rescore(&self, report: &mut Report) {
        crate::scan_findings(report);
        crate::auth_findings(report);
        report.indicators = crate::indicators::collect(report);
        report.verdict = self.rules.decide(report);
    }
}
