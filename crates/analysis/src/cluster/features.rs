//! From a report (and the sighting, when there is one) to the compact [`Features`] that
//! clustering compares: only what identifies a campaign, every list deduplicated and bounded.

use super::minhash;
use super::template;
use model::campaign::AttachmentFeature;
use model::{Features, Report, Sighting, SightingSource};
use std::net::{IpAddr, SocketAddr};

/// Bodies whose hashes are kept: a message has a text and an HTML alternative, rarely more.
pub const MAX_BODIES: usize = 4;
/// Attachments and nested files kept (in report order, so the outer ones first).
pub const MAX_ATTACHMENTS: usize = 16;
/// Registered domains and URL templates kept each: enough for every link a campaign template
/// has; a message with hundreds of links is padding, and its first links are the real ones.
pub const MAX_URLS: usize = 24;
/// Lure, YARA and family names kept each.
pub const MAX_TAGS: usize = 16;
/// Trap domains kept (a message sent to many traps at once).
pub const MAX_TRAP_DOMAINS: usize = 16;
/// Characters kept of any single string value (subject, From, X-Mailer, HELO...): more
/// identifies nothing and would let one message bloat a profile.
pub const MAX_VALUE_CHARS: usize = 200;

/// The features of one sighting of `report`; without a sighting (offline analysis) the
/// sighting id is nil, the time the Unix epoch and the envelope values are absent.
pub fn features(report: &Report, sighting: Option<&Sighting>) -> Features {
    let main = report
        .bodies
        .iter()
        .filter(|b| b.minhash.is_some())
        .max_by_key(|b| b.chars)
        .or_else(|| report.bodies.iter().max_by_key(|b| b.chars));
    let body_minhash = main
        .and_then(|b| b.minhash.as_deref())
        .and_then(minhash::from_hex)
        .unwrap_or_default();
    let mut f = Features {
        message_id: report.message_id,
        sighting: sighting.map_or(uuid::Uuid::nil(), |s| s.id),
        received_at: sighting.map_or(time::OffsetDateTime::UNIX_EPOCH, |s| s.received_at),
        class: report.verdict.class,
        body_sha256: Vec::new(),
        body_minhash,
        body_tlsh: Vec::new(),
        subject_template: report
            .headers
            .subject_template
            .as_deref()
            .map(template::subject)
            .filter(|s| !s.is_empty()),
        attachments: Vec::new(),
        domains: Vec::new(),
        url_templates: Vec::new(),
        helo_pattern: None,
        x_mailer: report.headers.x_mailer.as_deref().map(clean_value),
        sender_domain: None,
        source_ip: None,
        source_net: None,
        helo: None,
        trap_domains: Vec::new(),
        sensor: String::new(),
        language: main.and_then(|b| b.language.clone()),
        lures: Vec::new(),
        yara: Vec::new(),
        families: Vec::new(),
        subject: report.headers.subject.as_deref().map(clean_value),
        from: report.headers.from.as_ref().and_then(from_value),
    };
    for body in report.bodies.iter().take(MAX_BODIES) {
        if let Some(h) = &body.normalized_sha256 {
            push_unique(&mut f.body_sha256, h.clone(), MAX_BODIES);
        }
        if let Some(t) = &body.normalized_tlsh {
            push_unique(&mut f.body_tlsh, t.clone(), MAX_BODIES);
        }
    }
    attachments(report, &mut f);
    urls(report, &mut f);
    tags(report, &mut f);
    origin(report, sighting, &mut f);
    if let Some(s) = sighting {
        envelope(s, &mut f);
    }
    f
}

fn attachments(report: &Report, f: &mut Features) {
    for a in &report.artifacts {
        if f.attachments.len() >= MAX_ATTACHMENTS {
            break;
        }
        if f.attachments.iter().any(|x| x.sha256 == a.hashes.sha256) {
            continue;
        }
        f.attachments.push(AttachmentFeature {
            sha256: a.hashes.sha256.clone(),
            tlsh: a.hashes.tlsh.clone(),
            kind: a.kind.clone(),
            name_template: a
                .name
                .as_deref()
                .map(template::file_name)
                .filter(|n| !n.is_empty()),
            depth: a.depth,
        });
    }
}

/// URL domains and templates. Shortener links are left out: unrelated campaigns share
/// `is.gd` or `bit.ly` and their random tokens, so they would link campaigns that have nothing
/// else in common (seen on the phishing corpus). Their unwrapped targets, when the analysis
/// found one, are separate URL records and count.
fn urls(report: &Report, f: &mut Features) {
    for u in &report.urls {
        if f.domains.len() >= MAX_URLS && f.url_templates.len() >= MAX_URLS {
            break;
        }
        if u.shortener {
            continue;
        }
        let domain = u
            .registered_domain
            .clone()
            .unwrap_or_else(|| u.host.clone())
            .to_ascii_lowercase();
        // A shared host's URL templates are everyone's (see `keys::UBIQUITOUS_DOMAINS`).
        let shared = super::keys::ubiquitous(&domain);
        if !domain.is_empty() {
            push_unique(&mut f.domains, domain, MAX_URLS);
        }
        if !shared && let Some(t) = template::url(&u.url) {
            push_unique(&mut f.url_templates, t, MAX_URLS);
        }
    }
}

fn tags(report: &Report, f: &mut Features) {
    for finding in &report.findings {
        if finding.signal.starts_with("lure.") {
            push_unique(&mut f.lures, clean_value(&finding.signal), MAX_TAGS);
        }
    }
    for hit in &report.scans {
        match hit.engine.as_str() {
            "yara" => {
                push_unique(&mut f.yara, clean_value(&hit.rule), MAX_TAGS);
                for tag in &hit.tags {
                    let tag = tag.to_ascii_lowercase();
                    if let Some(rest) = tag.strip_prefix("family") {
                        let name = rest.trim_start_matches(['_', '-', '.', ':']);
                        if !name.is_empty() {
                            push_unique(&mut f.families, clean_value(name), MAX_TAGS);
                        }
                    }
                }
            }
            "clamav" => {
                // `Win.Trojan.Emotet-9953824-0`: the family is the name without its serials.
                let name = hit
                    .rule
                    .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-')
                    .to_ascii_lowercase();
                if !name.is_empty() {
                    push_unique(&mut f.families, clean_value(&name), MAX_TAGS);
                }
            }
            _ => {}
        }
    }
}

/// Sending IP and network: the report's origin when it has any trust, else the SMTP peer.
fn origin(report: &Report, sighting: Option<&Sighting>, f: &mut Features) {
    let trusted = report
        .headers
        .origin
        .as_ref()
        .filter(|o| !o.trust.is_empty() && o.trust != "none")
        .and_then(|o| o.ip.trim().parse::<IpAddr>().ok());
    let peer = sighting.and_then(|s| peer_ip(&s.peer));
    if let Some(ip) = trusted.or(peer) {
        f.source_ip = Some(ip.to_string());
        f.source_net = Some(network(ip));
    }
}

/// The IP of a peer written `ip:port`, `[v6]:port` or a bare address.
fn peer_ip(peer: &str) -> Option<IpAddr> {
    let peer = peer.trim();
    peer.parse::<SocketAddr>()
        .map(|s| s.ip())
        .or_else(|_| peer.trim_matches(['[', ']']).parse::<IpAddr>())
        .ok()
}

/// The /24 (IPv4) or /48 (IPv6) a sender's address is in: bots and bulk senders rotate
/// addresses inside one allocation far more often than across allocations.
fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

fn envelope(s: &Sighting, f: &mut Features) {
    if let Some(helo) = s.helo.as_deref().map(str::trim).filter(|h| !h.is_empty()) {
        f.helo = Some(clean_value(helo));
        f.helo_pattern = Some(template::helo(helo));
    }
    f.sender_domain = domain_of(&s.envelope.mail_from.address);
    for r in s.envelope.accepted() {
        if let Some(d) = domain_of(&r.address) {
            push_unique(&mut f.trap_domains, d, MAX_TRAP_DOMAINS);
        }
    }
    f.sensor = match &s.source {
        SightingSource::Import { .. } => "import".to_string(),
        SightingSource::Smtp if s.listener.is_empty() => "smtp".to_string(),
        SightingSource::Smtp => clean_value(&s.listener),
    };
}

/// The lower-case domain of an address, if it has one.
fn domain_of(address: &str) -> Option<String> {
    let (_, domain) = address.rsplit_once('@')?;
    let domain = domain.trim().trim_end_matches('>').to_ascii_lowercase();
    (!domain.is_empty()).then(|| clean_value(&domain))
}

/// `Display Name <address>`, or whichever of the two the header has.
fn from_value(m: &model::report::Mailbox) -> Option<String> {
    let name = m.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let addr = m
        .address
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty());
    let text = match (name, addr) {
        (Some(n), Some(a)) => format!("{n} <{a}>"),
        (Some(n), None) => n.to_string(),
        (None, Some(a)) => a.to_string(),
        (None, None) => return None,
    };
    Some(clean_value(&text))
}

/// A value with its whitespace collapsed and its length bounded by [`MAX_VALUE_CHARS`].
pub(crate) fn clean_value(text: &str) -> String {
    let mut out = String::new();
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() >= MAX_VALUE_CHARS * 4 {
            break;
        }
    }
    out.chars().take(MAX_VALUE_CHARS).collect()
}

/// Appends `value` unless present or the list already holds `max` values.
pub(crate) fn push_unique(list: &mut Vec<String>, value: String, max: usize) {
    if list.len() < max && !list.contains(&value) {
        list.push(value);
    }
}
