//! A fired rule becomes a [`model::Alert`]: the shared fields, bounded text, the evidence and
//! the indicators to act on.

use super::Situation;
use super::rules::Rule;
use super::text::{MAX_EVIDENCE_CHARS, MAX_SUMMARY_CHARS, MAX_TITLE_CHARS, clean, key_part};
use model::alert::{Alert, Evidence};
use model::report::{Indicator, IndicatorKind};

/// Indicators per alert: enough for a blocklist entry per URL, domain, IP and payload of a
/// typical campaign; a chat message or webhook body stays small.
pub const MAX_INDICATORS: usize = 50;
/// Evidence items per alert (a watch rule may match many fields).
pub const MAX_EVIDENCE: usize = 20;
/// Longest indicator value kept. Longer values are skipped rather than cut: a cut URL is a
/// wrong indicator, and 2 KB covers every real phishing URL.
pub const MAX_INDICATOR_CHARS: usize = 2_048;
/// Longest summary line before the whole summary is bounded by `MAX_SUMMARY_CHARS`.
const MAX_SUMMARY_LINE_CHARS: usize = 240;

/// What a rule kind decided; [`finish`] adds what every alert shares.
#[derive(Debug)]
pub(super) struct Draft {
    pub title: String,
    pub lines: Vec<String>,
    pub evidence: Vec<Evidence>,
    pub dedup_key: String,
    /// False for trap-wide spikes: the alert is not about the campaign that happened to
    /// carry the message crossing the threshold (it is named in the evidence instead).
    pub about_campaign: bool,
}

/// The dedup key `rule/part/part...`; each part is kept verbatim when plain and hashed
/// otherwise (see [`key_part`]).
pub(super) fn dedup_key(rule: &Rule, parts: &[&str]) -> String {
    let mut key = rule.id.clone();
    for part in parts {
        key.push('/');
        key.push_str(&key_part(part));
    }
    key
}

/// Evidence seen in the triggering message.
pub(super) fn evidence(s: &Situation<'_>, what: &str, detail: &str) -> Evidence {
    Evidence {
        what: what.to_string(),
        detail: clean(detail, MAX_EVIDENCE_CHARS),
        message: Some(s.features.message_id.to_hex()),
    }
}

pub(super) fn finish(rule: &Rule, s: &Situation<'_>, draft: Draft) -> Alert {
    let c = s.campaign;
    let mut lines = Vec::new();
    if !rule.description.is_empty() {
        lines.push(rule.description.clone());
    }
    lines.extend(draft.lines);
    lines.push(format!(
        "Campaign #{} ({}): {} messages, first seen {}, last seen {}.",
        c.id,
        c.verdict.as_str(),
        c.messages,
        rfc3339(c.first_seen),
        rfc3339(c.last_seen)
    ));
    lines.push(format!(
        "Triggering message {} received {}.",
        s.features.message_id.to_hex(),
        rfc3339(s.features.received_at)
    ));
    let summary: String = lines
        .iter()
        .map(|l| clean(l, MAX_SUMMARY_LINE_CHARS))
        .collect::<Vec<_>>()
        .join("\n")
        .chars()
        .take(MAX_SUMMARY_CHARS)
        .collect();
    let mut evidence = draft.evidence;
    evidence.truncate(MAX_EVIDENCE);
    Alert {
        id: uuid::Uuid::nil(),
        rule: rule.id.clone(),
        severity: rule.severity,
        campaign: draft.about_campaign.then_some(c.id),
        campaign_uuid: draft.about_campaign.then_some(c.uuid),
        title: clean(&draft.title, MAX_TITLE_CHARS),
        summary,
        evidence,
        indicators: indicators(s, draft.about_campaign),
        triggered_at: s.now,
        created_at: s.now,
        dedup_key: draft.dedup_key,
    }
}

pub(super) fn rfc3339(t: model::Timestamp) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The message's own values first (`at = "message"`), then the campaign's facets
/// (`at` = the facet name), without repeats, at most [`MAX_INDICATORS`].
fn indicators(s: &Situation<'_>, about_campaign: bool) -> Vec<Indicator> {
    let f = s.features;
    let mut out: Vec<Indicator> = Vec::new();
    let mut push = |kind: IndicatorKind, value: &str, at: &str| {
        let duplicate = out.iter().any(|i| i.kind == kind && i.value == value);
        if out.len() < MAX_INDICATORS && !duplicate && plausible(kind, value) {
            out.push(Indicator {
                kind,
                value: value.to_string(),
                at: at.to_string(),
            });
        }
    };
    if let Some(ip) = &f.source_ip {
        push(IndicatorKind::Ip, ip, "message");
    }
    for d in &f.domains {
        push(IndicatorKind::Domain, d, "message");
    }
    for a in &f.attachments {
        push(IndicatorKind::Sha256, &a.sha256, "message");
    }
    if about_campaign {
        for (facet, kind) in [
            ("url", IndicatorKind::Url),
            ("domain", IndicatorKind::Domain),
            ("source_ip", IndicatorKind::Ip),
            ("attachment_sha256", IndicatorKind::Sha256),
        ] {
            for v in s.campaign.facets.get(facet).into_iter().flatten() {
                push(kind, &v.value, facet);
            }
        }
    }
    out
}

/// Whether a value looks like an indicator of its kind (facets are attacker-derived).
fn plausible(kind: IndicatorKind, value: &str) -> bool {
    match kind {
        IndicatorKind::Ip => value.parse::<std::net::IpAddr>().is_ok(),
        IndicatorKind::Sha256 => value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()),
        _ => {
            !value.is_empty()
                && value.chars().count() <= MAX_INDICATOR_CHARS
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        }
    }
}
