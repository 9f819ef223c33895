//! Indicators of a report: URLs, domains, IPs, e-mail addresses, hashes, file names and YARA
//! rules, deduplicated, with where each came from. Trap addresses are kept apart.

use crate::engine::Input;
use model::report::{Indicator, IndicatorKind, Report};
use std::collections::BTreeSet;

/// At most this many indicators per message: a message listing 100,000 URLs must not make
/// 100,000 index rows.
pub const MAX_INDICATORS: usize = 5_000;

/// The trap's own addresses: accepted envelope recipients, and header recipients at the same
/// addresses. They identify the trap, not the attacker, so they never become indicators.
pub(crate) fn trap_addresses(report: &Report, input: &Input<'_>) -> Vec<String> {
    let mut set = BTreeSet::new();
    if let Some(s) = input.sighting {
        for r in s.envelope.accepted() {
            set.insert(r.address.to_ascii_lowercase());
        }
    }
    let _ = report;
    set.into_iter().collect()
}

/// Collects the indicators of a finished report.
pub(crate) fn collect(report: &Report) -> Vec<Indicator> {
    let trap: BTreeSet<&str> = report.trap_addresses.iter().map(String::as_str).collect();
    let trap_domains: BTreeSet<&str> = report
        .trap_addresses
        .iter()
        .filter_map(|a| a.rsplit_once('@').map(|(_, d)| d))
        .collect();
    let mut out: Vec<Indicator> = Vec::new();
    let mut seen: std::collections::HashSet<(IndicatorKind, String)> = Default::default();
    let mut push = |kind: IndicatorKind, value: &str, at: String| {
        let value = value.trim();
        if value.is_empty() || value.len() > 2048 || out.len() >= MAX_INDICATORS {
            return;
        }
        if !seen.insert((kind, value.to_string())) {
            return;
        }
        out.push(Indicator {
            kind,
            value: value.to_string(),
            at,
        });
    };
    for (i, u) in report.urls.iter().enumerate() {
        if trap_domains.contains(u.host.as_str()) {
            continue;
        }
        push(IndicatorKind::Url, &u.url, format!("urls[{i}]"));
        if u.ip_literal {
            push(
                IndicatorKind::Ip,
                u.host.trim_matches(['[', ']']),
                format!("urls[{i}]"),
            );
        } else {
            push(IndicatorKind::Domain, &u.host, format!("urls[{i}]"));
        }
    }
    let h = &report.headers;
    let mailboxes = h
        .from
        .iter()
        .map(|m| (m, "headers.from"))
        .chain(h.sender.iter().map(|m| (m, "headers.sender")))
        .chain(h.reply_to.iter().map(|m| (m, "headers.reply_to")));
    for (m, at) in mailboxes {
        if let Some(addr) = &m.address {
            let addr = addr.to_ascii_lowercase();
            if !trap.contains(addr.as_str()) && addr.contains('@') {
                push(IndicatorKind::Email, &addr, at.to_string());
            }
        }
    }
    if let Some(rp) = &h.return_path {
        let rp = rp.to_ascii_lowercase();
        if !trap.contains(rp.as_str()) && rp.contains('@') {
            push(IndicatorKind::Email, &rp, "headers.return_path".to_string());
        }
    }
    if let Some(origin) = &h.origin {
        push(IndicatorKind::Ip, &origin.ip, "headers.origin".to_string());
    }
    for a in &report.artifacts {
        let at = format!("artifacts[{}]", a.index);
        push(IndicatorKind::Sha256, &a.hashes.sha256, at.clone());
        push(IndicatorKind::Sha1, &a.hashes.sha1, at.clone());
        push(IndicatorKind::Md5, &a.hashes.md5, at.clone());
        if let Some(name) = &a.name {
            push(IndicatorKind::Filename, name, at);
        }
    }
    for s in &report.scans {
        push(IndicatorKind::Yara, &s.rule, s.at.clone());
    }
    out.sort_by(|a, b| (a.kind, &a.value).cmp(&(b.kind, &b.value)));
    out
}
