//! The verdict: rules (data, in `rules/verdict.toml`) weigh findings into a class and a score,
//! and every rule that fired is a reason with the locations of its evidence.
//!
//! A rule fires when every signal in `all` is present, at least one in `any` is (when `any` is
//! given) and none in `none` is. A signal ending in `*` matches by prefix (`yara.*`). Each
//! class adds up the weights of its fired rules (capped at 100); the classes that reach their
//! threshold compete and the most severe wins (`ransomware-delivery` > `malware` > `phishing` >
//! `scam` > `spam` > `benign`). Nothing reaching a threshold gives `unknown`.

use crate::engine::EngineError;
use model::report::{Finding, Reason, Report, Verdict, VerdictClass};
use serde::Deserialize;
use std::collections::BTreeMap;

const BUILTIN: &str = include_str!("../rules/verdict.toml");

/// Most severe first: the order in which classes that reached their threshold win.
const SEVERITY: [VerdictClass; 6] = [
    VerdictClass::RansomwareDelivery,
    VerdictClass::Malware,
    VerdictClass::Phishing,
    VerdictClass::Scam,
    VerdictClass::Spam,
    VerdictClass::Benign,
];

/// A parsed rule set.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Score a class needs to win.
    thresholds: BTreeMap<VerdictClass, u32>,
    #[serde(rename = "rule")]
    rules: Vec<Rule>,
    #[serde(skip)]
    fingerprint: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    id: String,
    class: VerdictClass,
    weight: u32,
    description: String,
    #[serde(default)]
    all: Vec<String>,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    none: Vec<String>,
}

impl Rules {
    /// The shipped rules (tested to parse).
    pub fn builtin() -> Rules {
        #[allow(clippy::expect_used)]
        Rules::parse(BUILTIN).expect("shipped verdict rules parse (tested)")
    }

    /// Parses a rule file; unknown keys, empty rules and duplicate ids are errors.
    pub fn parse(text: &str) -> Result<Rules, EngineError> {
        use sha2::Digest;
        let mut rules: Rules =
            toml::from_str(text).map_err(|e| EngineError::Rules(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        for r in &rules.rules {
            if r.all.is_empty() && r.any.is_empty() {
                return Err(EngineError::Rules(format!(
                    "rule {} has no condition",
                    r.id
                )));
            }
            if !seen.insert(r.id.clone()) {
                return Err(EngineError::Rules(format!("duplicate rule id {}", r.id)));
            }
        }
        rules.fingerprint = hex::encode(&sha2::Sha256::digest(text.as_bytes())[..4]);
        Ok(rules)
    }

    /// Short hash of the rule text, recorded in every report.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Rule ids, for documentation checks.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// Every signal the rules mention, for documentation checks.
    pub fn signals(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .flat_map(|r| r.all.iter().chain(&r.any).chain(&r.none))
            .map(String::as_str)
    }

    /// Weighs the report's findings.
    pub fn decide(&self, report: &Report) -> Verdict {
        let findings = &report.findings;
        let mut reasons: Vec<Reason> = Vec::new();
        for rule in &self.rules {
            if let Some(evidence) = rule.fires(findings) {
                reasons.push(Reason {
                    rule: rule.id.clone(),
                    class: rule.class,
                    weight: rule.weight,
                    description: rule.description.clone(),
                    evidence,
                });
            }
        }
        let score_of = |class: VerdictClass| -> u32 {
            reasons
                .iter()
                .filter(|r| r.class == class)
                .map(|r| r.weight)
                .sum::<u32>()
                .min(100)
        };
        let winner = SEVERITY.into_iter().find(|&c| {
            let threshold = self.thresholds.get(&c).copied().unwrap_or(u32::MAX);
            score_of(c) >= threshold
        });
        match winner {
            Some(class) => {
                let score = score_of(class);
                // Reasons of the winning class first, then the others as context.
                reasons.sort_by_key(|r| (r.class != class, std::cmp::Reverse(r.weight)));
                Verdict {
                    class,
                    score,
                    reasons,
                }
            }
            None => Verdict {
                class: VerdictClass::Unknown,
                score: 0,
                reasons,
            },
        }
    }
}

impl Rule {
    /// The evidence locations when the rule fires.
    fn fires(&self, findings: &[Finding]) -> Option<Vec<String>> {
        let mut evidence = Vec::new();
        for signal in &self.all {
            let hits: Vec<&Finding> = findings.iter().filter(|f| matches(signal, f)).collect();
            if hits.is_empty() {
                return None;
            }
            evidence.extend(hits.iter().map(|f| f.at.clone()));
        }
        if !self.any.is_empty() {
            let hits: Vec<&Finding> = findings
                .iter()
                .filter(|f| self.any.iter().any(|s| matches(s, f)))
                .collect();
            if hits.is_empty() {
                return None;
            }
            evidence.extend(hits.iter().map(|f| f.at.clone()));
        }
        if findings
            .iter()
            .any(|f| self.none.iter().any(|s| matches(s, f)))
        {
            return None;
        }
        evidence.sort();
        evidence.dedup();
        evidence.truncate(20);
        Some(evidence)
    }
}

fn matches(pattern: &str, finding: &Finding) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => finding.signal.starts_with(prefix),
        None => finding.signal == pattern,
    }
}
