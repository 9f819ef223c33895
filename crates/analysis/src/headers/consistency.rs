//! Checks that compare the sender's headers with each other and with the envelope: where replies
//! go, which brand the display name claims, which address it shows, who really sent it.

use super::brands;
use crate::walk::Walk;
use regex::Regex;
use std::sync::LazyLock;

/// An e-mail address written inside a display name (`"service@paypal.com" <x@evil.example>`).
static ADDRESS_IN_NAME: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"[\w.+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)").ok());

/// Envelope-vs-header checks that need the whole report (runs after the MIME walk).
pub(crate) fn check_consistency(walk: &mut Walk<'_>) {
    if !walk
        .report
        .findings
        .iter()
        .any(|f| f.signal == "message.parsed")
    {
        return;
    }
    let h = walk.report.headers.clone();
    if h.date.is_none() {
        walk.finding("header.missing-date", "headers.date", "");
    }
    if h.message_id.is_none() {
        walk.finding("header.missing-message-id", "headers.message_id", "");
    }
    let from_addr = h.from.as_ref().and_then(|m| m.address.clone());
    let from_domain = from_addr.as_deref().and_then(registered_domain);
    if let Some(from_domain) = &from_domain {
        for m in &h.reply_to {
            let Some(rt) = m.address.as_deref().and_then(registered_domain) else {
                continue;
            };
            if &rt != from_domain {
                walk.finding(
                    "header.reply-to-elsewhere",
                    "headers.reply_to",
                    format!("replies go to {rt}, sender is {from_domain}"),
                );
            }
        }
        if let Some(mail_from) = walk.input.sighting.map(|s| s.sender().to_string())
            && let Some(env) = registered_domain(&mail_from)
            && &env != from_domain
        {
            walk.finding(
                "header.envelope-sender-mismatch",
                "headers.from",
                format!("MAIL FROM {env}, From {from_domain}"),
            );
        }
    }
    let Some(name) = h.from.as_ref().and_then(|m| m.name.clone()) else {
        return;
    };
    if let Some((brand, stems)) = brands::named_in(&name) {
        let own = from_domain.as_deref().is_some_and(|d| {
            let stem = stem(d);
            stems.contains(&stem)
        });
        if !own {
            let shown = from_domain.as_deref().unwrap_or("(no domain)");
            walk.finding(
                "header.from-brand-mismatch",
                "headers.from",
                format!("display name names {brand}, sent from {shown}"),
            );
        }
    }
    if let Some(re) = ADDRESS_IN_NAME.as_ref()
        && let Some(shown) = re
            .captures(&name)
            .and_then(|c| c.get(1))
            .and_then(|m| psl::domain_str(&m.as_str().to_ascii_lowercase()).map(str::to_string))
        && from_domain.as_deref() != Some(shown.as_str())
    {
        walk.finding(
            "header.from-display-address",
            "headers.from",
            format!("display name shows an address at {shown}"),
        );
    }
}

/// Registered domain (by the public suffix list) of an address or host, lower case.
pub(crate) fn registered_domain(addr: &str) -> Option<String> {
    let domain = addr.rsplit_once('@').map_or(addr, |(_, d)| d);
    let domain = domain
        .trim()
        .trim_matches(|c| matches!(c, '<' | '>' | '[' | ']' | '.'))
        .to_ascii_lowercase();
    if domain.is_empty() {
        return None;
    }
    Some(psl::domain_str(&domain).map_or(domain.clone(), str::to_string))
}

/// `paypal` for `paypal.co.uk`: the registered domain without its public suffix.
fn stem(registered: &str) -> &str {
    match psl::suffix_str(registered) {
        Some(suffix) if registered.len() > suffix.len() => registered
            .get(..registered.len() - suffix.len() - 1)
            .unwrap_or(registered),
        _ => registered,
    }
}
