//! `watch`: a watched brand or domain shows up in the message. Dedup `rule/campaign`.
//!
//! Brands are matched case-insensitively as whole words (see `text::contains_word`) in the
//! subject (as written, and its template), the From header (display name and address), the
//! envelope sender domain, the URL registered domains and URL host/path
//! templates and the lure names; names with blanks are also tried joined and hyphenated
//! (`abnamro`, `abn-amro`), as they appear in domain names. That catches combosquats such as
//! `ing-veilig-inloggen.com`. Domains match a URL registered domain, a URL host, the envelope
//! sender domain or the From address's domain equal to or under a watched one. Typosquats
//! (`rab0bank.nl`) and homoglyph IDNs are not detected: list known ones as domains.

use super::build::{Draft, dedup_key, evidence};
use super::rules::{Rule, Watch};
use super::text::{contains_word, domain_within, fold, quote};
use super::{Situation, class_allowed};

/// Where a match was found and what was matched.
struct Hit {
    title: String,
    what: &'static str,
    detail: String,
}

pub(super) fn check(rule: &Rule, k: &Watch, s: &Situation<'_>) -> Vec<Draft> {
    if !class_allowed(&k.classes, s) {
        return Vec::new();
    }
    let f = s.features;
    let mut texts: Vec<(&str, &str)> = Vec::new();
    if let Some(t) = &f.subject {
        texts.push(("subject", t));
    }
    if let Some(t) = &f.from {
        texts.push(("From", t));
    }
    if let Some(t) = &f.subject_template {
        texts.push(("subject template", t));
    }
    if let Some(d) = &f.sender_domain {
        texts.push(("sender domain", d));
    }
    texts.extend(f.domains.iter().map(|d| ("URL domain", d.as_str())));
    texts.extend(f.url_templates.iter().map(|u| ("URL", u.as_str())));
    texts.extend(f.lures.iter().map(|l| ("lure", l.as_str())));
    let folded: Vec<(&str, &str, String)> = texts.iter().map(|(w, t)| (*w, *t, fold(t))).collect();

    let mut hits = Vec::new();
    for brand in &k.brands {
        for (field, raw, hay) in &folded {
            if brand.spellings.iter().any(|sp| contains_word(hay, sp)) {
                hits.push(Hit {
                    title: format!("brand {}", quote(&brand.name)),
                    what: "watched-brand",
                    detail: format!("{} in {field}: {raw}", brand.name),
                });
            }
        }
    }
    let mut hosts: Vec<(&str, &str)> = f
        .domains
        .iter()
        .map(|d| ("URL domain", d.as_str()))
        .collect();
    hosts.extend(f.url_templates.iter().map(|u| ("URL host", url_host(u))));
    if let Some(d) = &f.sender_domain {
        hosts.push(("sender domain", d));
    }
    if let Some(d) = f.from.as_deref().and_then(from_domain) {
        hosts.push(("From domain", d));
    }
    for watched in &k.domains {
        for (field, host) in &hosts {
            if domain_within(host, watched) {
                hits.push(Hit {
                    title: format!("domain {}", quote(watched)),
                    what: "watched-domain",
                    detail: format!("{host} in {field} (watching {watched})"),
                });
            }
        }
    }
    let Some(first) = hits.first() else {
        return Vec::new();
    };
    let c = s.campaign;
    let title = format!(
        "Watched {} in {} campaign #{}",
        first.title,
        c.verdict.as_str(),
        c.id
    );
    let matched: Vec<&str> = hits.iter().map(|h| h.detail.as_str()).collect();
    vec![Draft {
        title,
        lines: vec![format!("Matched: {}", matched.join("; "))],
        evidence: hits
            .iter()
            .map(|h| evidence(s, h.what, &h.detail))
            .collect(),
        dedup_key: dedup_key(rule, &[&c.id.to_string()]),
        about_campaign: true,
    }]
}

/// The host of a URL template (`evil.example:8080/inv/0` -> `evil.example`).
fn url_host(template: &str) -> &str {
    let host = template.split('/').next().unwrap_or_default();
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

/// The domain of the address in a From header (`Name <a@b.example>` -> `b.example`).
fn from_domain(from: &str) -> Option<&str> {
    let (_, after) = from.rsplit_once('@')?;
    let domain = after.split(['>', ' ']).next().unwrap_or_default();
    (!domain.is_empty()).then_some(domain)
}
