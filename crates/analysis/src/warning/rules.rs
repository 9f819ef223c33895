//! The early-warning rule set: parsed from TOML (`rules/alerts.toml` ships the defaults),
//! validated up front so that evaluation never meets a nonsensical rule.

use super::fields::Fields;
use super::settings::{new_campaign, novel, spike, watch, yara};
use model::{Severity, VerdictClass};
use toml::Value;

const DEFAULTS: &str = include_str!("../../rules/alerts.toml");

/// The most hours a spike baseline may span: one week, the campaign rate history the store
/// keeps (hours it no longer holds would count as 0 and only dilute the mean).
pub const MAX_BASELINE_HOURS: u64 = 7 * 24;
/// The largest spike factor accepted; beyond it a rule could never fire in practice.
pub const MAX_SPIKE_FACTOR: f64 = 1_000.0;
/// Longest rule id: ids go into dedup keys, titles and receiver filters.
pub const MAX_RULE_ID_CHARS: usize = 64;

/// Longest watched brand name: real brand names are a few words.
pub const MAX_BRAND_CHARS: usize = 64;

/// Fields every rule has.
const COMMON: [&str; 5] = ["id", "kind", "severity", "enabled", "description"];

/// Why a rule file was refused. Every variant about one rule names its id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("alert rules: {0}")]
    Syntax(String),
    #[error("alert rule #{index}: {message}")]
    BadId { index: usize, message: String },
    #[error("alert rule `{id}`: field `{field}`: {message}")]
    Field {
        id: String,
        field: String,
        message: String,
    },
    #[error("alert rule `{0}` is defined twice")]
    Duplicate(String),
}

/// A parsed, validated rule set.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    rules: Vec<Rule>,
}

/// One rule: what all kinds share and the kind's own settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub(super) id: String,
    pub(super) severity: Severity,
    pub(super) enabled: bool,
    pub(super) description: String,
    pub(super) kind: RuleKind,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum RuleKind {
    NewCampaign(NewCampaign),
    Novel(Novel),
    Yara(YaraMatch),
    Spike(Spike),
    Watch(Watch),
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct NewCampaign {
    pub classes: Vec<VerdictClass>,
    /// 0 = off.
    pub min_messages: u64,
    /// Distinct source IPs; 0 = off.
    pub min_sources: u64,
    pub within: time::Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Novel {
    pub facets: Vec<String>,
    /// Empty = any verdict.
    pub classes: Vec<VerdictClass>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct YaraMatch {
    /// Globs over rule names.
    pub rules: Vec<String>,
    pub families: bool,
    pub classes: Vec<VerdictClass>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Campaign,
    Trap,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Spike {
    pub scope: Scope,
    pub factor: f64,
    pub min_messages: u64,
    pub baseline_hours: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Watch {
    pub brands: Vec<Brand>,
    /// Lower case, no trailing dot.
    pub domains: Vec<String>,
    pub classes: Vec<VerdictClass>,
}

/// A watched brand and the lower-case spellings searched for it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Brand {
    pub name: String,
    /// `abn amro`, plus `abnamro` and `abn-amro` for names with blanks (as in domain names).
    pub spellings: Vec<String>,
}

impl Rules {
    /// The shipped rules (`rules/alerts.toml`, tested to parse).
    pub fn defaults() -> Rules {
        #[allow(clippy::expect_used)]
        Rules::from_toml(DEFAULTS).expect("shipped alert rules parse (tested)")
    }

    /// The text of the shipped rules, for `spamhattan alerts rules --defaults` style output.
    pub fn defaults_text() -> &'static str {
        DEFAULTS
    }

    /// Parses a rule file: a list of `[[rule]]` tables, nothing else.
    pub fn from_toml(text: &str) -> Result<Rules, RulesError> {
        let mut top: toml::Table =
            toml::from_str(text).map_err(|e| RulesError::Syntax(e.to_string()))?;
        let list = match top.remove("rule") {
            None => Vec::new(),
            Some(Value::Array(list)) => list,
            Some(_) => {
                return Err(RulesError::Syntax(
                    "`rule` must be a list of [[rule]] tables".to_string(),
                ));
            }
        };
        if let Some(key) = top.keys().next() {
            return Err(RulesError::Syntax(format!(
                "unknown top-level key `{key}` (only [[rule]] tables are allowed)"
            )));
        }
        let mut rules: Vec<Rule> = Vec::with_capacity(list.len());
        for (index, value) in list.into_iter().enumerate() {
            let rule = Rule::parse(index + 1, value)?;
            if rules.iter().any(|r| r.id == rule.id) {
                return Err(RulesError::Duplicate(rule.id));
            }
            rules.push(rule);
        }
        Ok(Rules { rules })
    }

    /// All rules in file order (disabled ones too).
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// How many hours of trap-wide counts the enabled `spike` rules with `scope = "trap"` need
    /// in [`Situation::trap_rate`](super::Situation): their longest baseline plus the current
    /// hour (0 when there is no such rule).
    pub fn trap_rate_hours(&self) -> u64 {
        self.rules
            .iter()
            .filter(|r| r.enabled)
            .filter_map(|r| match &r.kind {
                RuleKind::Spike(k) if k.scope == Scope::Trap => Some(k.baseline_hours + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Rule ids in file order, for documentation checks and listings.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }
}

impl Rule {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn severity(&self) -> Severity {
        self.severity
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    /// The `kind` as written in the file (`new-campaign`, `novel`, `yara`, `spike`, `watch`).
    pub fn kind(&self) -> &'static str {
        match self.kind {
            RuleKind::NewCampaign(_) => "new-campaign",
            RuleKind::Novel(_) => "novel",
            RuleKind::Yara(_) => "yara",
            RuleKind::Spike(_) => "spike",
            RuleKind::Watch(_) => "watch",
        }
    }

    fn parse(index: usize, value: Value) -> Result<Rule, RulesError> {
        let Value::Table(mut table) = value else {
            return Err(RulesError::BadId {
                index,
                message: "not a table".to_string(),
            });
        };
        let id = match table.remove("id") {
            Some(Value::String(id)) => id,
            Some(_) => {
                return Err(RulesError::BadId {
                    index,
                    message: "`id` must be a string".to_string(),
                });
            }
            None => {
                return Err(RulesError::BadId {
                    index,
                    message: "`id` is missing".to_string(),
                });
            }
        };
        check_id(&id).map_err(|message| RulesError::BadId { index, message })?;
        let mut f = Fields::new(&id, table);
        let kind_name = f.required_string("kind")?;
        let severity_name = f.required_string("severity")?;
        let severity = Severity::parse(&severity_name).ok_or_else(|| {
            let known: Vec<&str> = Severity::ALL.iter().map(|s| s.as_str()).collect();
            f.error(
                "severity",
                format!("unknown `{severity_name}` (known: {})", known.join(", ")),
            )
        })?;
        let enabled = f.bool("enabled", true)?;
        let description = f.string("description")?.unwrap_or_default();
        let (kind, own): (RuleKind, &[&str]) = match kind_name.as_str() {
            "new-campaign" => (
                RuleKind::NewCampaign(new_campaign(&mut f)?),
                &["classes", "min_messages", "min_sources", "within"],
            ),
            "novel" => (RuleKind::Novel(novel(&mut f)?), &["facets", "classes"]),
            "yara" => (
                RuleKind::Yara(yara(&mut f)?),
                &["rules", "families", "classes"],
            ),
            "spike" => (
                RuleKind::Spike(spike(&mut f)?),
                &["scope", "factor", "min_messages", "baseline_hours"],
            ),
            "watch" => (
                RuleKind::Watch(watch(&mut f)?),
                &["brands", "domains", "classes"],
            ),
            other => {
                return Err(f.error(
                    "kind",
                    format!(
                        "unknown kind `{other}` (known: new-campaign, novel, yara, spike, watch)"
                    ),
                ));
            }
        };
        let allowed: Vec<&str> = COMMON.iter().chain(own).copied().collect();
        f.finish(&allowed)?;
        Ok(Rule {
            id,
            severity,
            enabled,
            description,
            kind,
        })
    }
}

/// Ids are plain (`a-z`, `0-9`, `-`, `_`, `.`): they are the first part of every dedup key.
fn check_id(id: &str) -> Result<(), String> {
    let plain = id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if id.is_empty() || id.len() > MAX_RULE_ID_CHARS || !plain {
        return Err(format!(
            "id `{}` must be 1-{MAX_RULE_ID_CHARS} characters of a-z, 0-9, '-', '_', '.'",
            super::text::clean(id, MAX_RULE_ID_CHARS)
        ));
    }
    Ok(())
}
