//! `novel`: the message brought a value of a watched facet that the trap had never seen (the
//! binary finds those; this only filters them). Dedup `rule/facet/value`: once per trap.

use super::build::{Draft, dedup_key, evidence};
use super::rules::{Novel, Rule};
use super::text::quote;
use super::{Situation, class_allowed};

pub(super) fn check(rule: &Rule, k: &Novel, s: &Situation<'_>) -> Vec<Draft> {
    if !class_allowed(&k.classes, s) {
        return Vec::new();
    }
    let c = s.campaign;
    s.novel
        .iter()
        .filter(|n| k.facets.contains(&n.facet))
        .map(|n| Draft {
            title: format!(
                "Never-seen {} {} in {} campaign #{}",
                n.facet,
                quote(&n.value),
                c.verdict.as_str(),
                c.id
            ),
            lines: vec![format!(
                "The trap had never seen {} {} before this message.",
                n.facet,
                quote(&n.value)
            )],
            evidence: vec![evidence(s, "novel", &format!("{} = {}", n.facet, n.value))],
            dedup_key: dedup_key(rule, &[&n.facet, &n.value]),
            about_campaign: true,
        })
        .collect()
}
