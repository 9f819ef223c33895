//! `new-campaign`: a campaign with a watched verdict reaches N messages or M distinct sources
//! while it is still young. Dedup `rule/campaign`.

use super::Situation;
use super::build::{Draft, dedup_key, evidence};
use super::duration::human;
use super::rules::{NewCampaign, Rule};

pub(super) fn check(rule: &Rule, k: &NewCampaign, s: &Situation<'_>) -> Vec<Draft> {
    let c = s.campaign;
    if !k.classes.contains(&c.verdict) {
        return Vec::new();
    }
    let age = s.now - c.first_seen;
    if age > k.within {
        return Vec::new();
    }
    let sources = c.distinct.get("source_ip").copied().unwrap_or(0);
    let by_messages = k.min_messages > 0 && c.messages >= k.min_messages;
    let by_sources = k.min_sources > 0 && sources >= k.min_sources;
    if !by_messages && !by_sources {
        return Vec::new();
    }
    let verdict = c.verdict.as_str();
    let mut found = Vec::new();
    if by_messages {
        found.push(evidence(
            s,
            "messages",
            &format!("{} messages (threshold {})", c.messages, k.min_messages),
        ));
    }
    if by_sources {
        found.push(evidence(
            s,
            "sources",
            &format!(
                "{sources} distinct source IPs (threshold {})",
                k.min_sources
            ),
        ));
    }
    found.push(evidence(s, "verdict", verdict));
    vec![Draft {
        title: format!(
            "New {verdict} campaign #{}: {} from {} in {}",
            c.id,
            plural(c.messages, "message"),
            plural(sources, "source"),
            human(age)
        ),
        lines: vec![format!(
            "Reached the threshold {} after its first message (window {}).",
            human(age),
            human(k.within)
        )],
        evidence: found,
        dedup_key: dedup_key(rule, &[&c.id.to_string()]),
        about_campaign: true,
    }]
}

pub(super) fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}
