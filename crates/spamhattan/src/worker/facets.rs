//! The facet values a message adds to its campaign's record, and the values the trap tracks
//! for "never seen before" rules. Facet names are a contract: `docs/CAMPAIGNS.md` lists them.

use model::report::IndicatorKind;
use model::{Features, Report};

/// URLs added to a campaign per message (a message can carry hundreds; the campaign record
/// keeps [`store::MAX_FACET_VALUES`] per facet anyway).
const MAX_URLS_PER_MESSAGE: usize = 32;

/// Facet values of one message for its campaign record.
pub fn of(f: &Features, r: &Report) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut one = |name: &'static str, v: Option<&String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push((name, v.clone()));
        }
    };
    one("source_ip", f.source_ip.as_ref());
    one("source_net", f.source_net.as_ref());
    one("helo", f.helo.as_ref());
    one("sender_domain", f.sender_domain.as_ref());
    one("subject_template", f.subject_template.as_ref());
    one("language", f.language.as_ref());
    one("x_mailer", f.x_mailer.as_ref());
    let verdict = f.class.as_str().to_string();
    one("verdict", Some(&verdict));
    if !f.sensor.is_empty() {
        out.push(("sensor", f.sensor.clone()));
    }
    for d in &f.trap_domains {
        out.push(("trap_domain", d.clone()));
    }
    for d in &f.domains {
        out.push(("domain", d.clone()));
    }
    for u in r
        .indicators
        .iter()
        .filter(|i| i.kind == IndicatorKind::Url)
        .take(MAX_URLS_PER_MESSAGE)
    {
        out.push(("url", u.value.clone()));
    }
    for a in &f.attachments {
        out.push(("attachment_sha256", a.sha256.clone()));
    }
    // Payload kinds, lures, YARA rules and families: the values novelty tracks.
    out.extend(novelty(f));
    out.sort();
    out.dedup();
    out
}

/// Values the trap remembers forever, so rules can fire on the first appearance of a payload
/// kind, lure, YARA rule or family. Deliberately few facets: the table grows with distinct
/// values, and source IPs or URLs would make it grow with every message.
pub fn novelty(f: &Features) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    for a in &f.attachments {
        out.push(("attachment_kind", a.kind.clone()));
    }
    for l in &f.lures {
        out.push(("lure", l.clone()));
    }
    for y in &f.yara {
        out.push(("yara", y.clone()));
    }
    for fam in &f.families {
        out.push(("family", fam.clone()));
    }
    out.sort();
    out.dedup();
    out
}
