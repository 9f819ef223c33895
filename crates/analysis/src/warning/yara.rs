//! `yara`: the first time a campaign shows a YARA rule matching one of the globs, or (with
//! `families = true`) a malware family tag. Dedup `rule/campaign/rulename` and
//! `rule/campaign/family:name`.

use super::build::{Draft, dedup_key, evidence};
use super::rules::{Rule, YaraMatch};
use super::text::{glob, quote};
use super::{Situation, class_allowed};

pub(super) fn check(rule: &Rule, k: &YaraMatch, s: &Situation<'_>) -> Vec<Draft> {
    if !class_allowed(&k.classes, s) {
        return Vec::new();
    }
    let c = s.campaign;
    let id = c.id.to_string();
    let verdict = c.verdict.as_str();
    let mut out = Vec::new();
    for name in &s.features.yara {
        if k.rules.iter().any(|g| glob(g, name)) {
            out.push(Draft {
                title: format!(
                    "YARA rule {} matched in {verdict} campaign #{id}",
                    quote(name)
                ),
                lines: vec![format!("The message matches YARA rule {}.", quote(name))],
                evidence: vec![evidence(s, "yara", name)],
                dedup_key: dedup_key(rule, &[&id, name]),
                about_campaign: true,
            });
        }
    }
    if k.families {
        for family in &s.features.families {
            out.push(Draft {
                title: format!(
                    "Malware family {} in {verdict} campaign #{id}",
                    quote(family)
                ),
                lines: vec![format!(
                    "The message is tagged with malware family {}.",
                    quote(family)
                )],
                evidence: vec![evidence(s, "family", family)],
                dedup_key: dedup_key(rule, &[&id, &format!("family:{family}")]),
                about_campaign: true,
            });
        }
    }
    out
}
