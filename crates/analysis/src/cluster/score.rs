//! How much a message looks like a campaign: a sum of weighted, explained signals.
//!
//! The weights are set so that the join threshold (1.0, see `Thresholds`) is reached by one
//! *content* signal that identifies a template (same body text, same payload) or by two
//! medium ones together (polymorphic payload of the same shape; similar text with the same
//! specific subject), and never by what unrelated campaigns share: a big brand's domain, a
//! generic subject, a freemail sender, sending infrastructure. Signals of one family (the
//! body's exact hash, MinHash and TLSH all measure the body) count once, by their strongest.

use super::keys::{shape, ubiquitous};
use super::minhash::similarity;
use super::template::{subject_words, url_specific};
use model::{CampaignProfile, Features};
use std::str::FromStr;

/// Same normalised body (exact hash) of a body long enough to have a MinHash sketch: one
/// template, whatever else differs.
pub const W_BODY_EXACT: f64 = 1.0;
/// Same normalised body when it is short ("see attached"): many campaigns write that.
pub const W_BODY_EXACT_SHORT: f64 = 0.4;
/// MinHash similarity below this is no evidence (unrelated texts estimate ≈ 0.0–0.1).
pub const MINHASH_FLOOR: f64 = 0.3;
/// MinHash similarity at and above this weighs a full join ([`W_BODY_MINHASH`]); in between it
/// grows linearly. On the generator, copies of one template (names, numbers and links changed,
/// a sentence rotated, paragraphs reordered) measure ≥ 0.41 for 90 % of pairs, while the most
/// similar message of another campaign measures ≤ 0.39 for 99 % of messages (see
/// `docs/CAMPAIGNS.md`): between the floor and this, other signals must support the join.
pub const MINHASH_FULL: f64 = 0.5;
pub const W_BODY_MINHASH: f64 = 1.0;
/// TLSH distance of normalised bodies at or below which [`W_BODY_TLSH`] counts in full, and
/// the distance where it reaches 0. TLSH on short text is noisy, so it only supports.
pub const BODY_TLSH_CLOSE: i32 = 30;
pub const BODY_TLSH_FAR: i32 = 70;
pub const W_BODY_TLSH: f64 = 0.6;
/// Both sides have long bodies and no sketch pair is even this similar: different text. The
/// weak signals (subject, URLs, infrastructure) are then discounted by [`BODY_DIFFERS`].
pub const BODY_DIFFERS_BELOW: f64 = 0.25;
/// Factor applied to the weak signals when the bodies differ.
pub const BODY_DIFFERS: f64 = 0.5;

/// Same attachment (or nested file) bytes, of a kind that is not a generic image or text.
pub const W_ATTACHMENT_EXACT: f64 = 1.0;
/// Same image or text bytes: a brand's logo is in many campaigns.
pub const W_ATTACHMENT_EXACT_GENERIC: f64 = 0.3;
/// TLSH distance of attachments for a full [`W_ATTACHMENT_TLSH`], and where it reaches 0.
/// Per-recipient polymorphic payloads of one builder measure well under 50.
pub const ATTACHMENT_TLSH_CLOSE: i32 = 40;
pub const ATTACHMENT_TLSH_FAR: i32 = 100;
pub const W_ATTACHMENT_TLSH: f64 = 0.7;
/// Same kind and specific name template (`zip:invoice_0.zip`).
pub const W_ATTACHMENT_SHAPE: f64 = 0.4;

/// Same subject template of three or more real words.
pub const W_SUBJECT_SPECIFIC: f64 = 0.5;
/// Same short subject template (`invoice {num}`): weak, shared across campaigns.
pub const W_SUBJECT_GENERIC: f64 = 0.15;

/// Same URL template with a path (`evil.example/inv/0/view`).
pub const W_URL_TEMPLATE: f64 = 0.5;
/// Same registered domain (not one of the ubiquitous ones), linked with a specific URL
/// template (see `url`).
pub const W_URL_DOMAIN: f64 = 0.3;

/// Infrastructure: each is weak, and together they are capped at [`INFRA_CAP`], far below the
/// join threshold, so infrastructure never joins alone but tips borderline cases.
pub const W_INFRA_HELO: f64 = 0.1;
pub const W_INFRA_MAILER: f64 = 0.1;
pub const W_INFRA_NET: f64 = 0.15;
pub const W_SENDER_DOMAIN: f64 = 0.1;
pub const INFRA_CAP: f64 = 0.3;

/// A score and the signals that made it, each with its contribution.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Score {
    pub total: f64,
    /// `(signal, contribution)`: `body.minhash 0.82`, `attachment.tlsh 35`, `url.domain`...
    pub signals: Vec<(String, f64)>,
}

/// How much `f` looks like the campaign summarised by `p`.
pub fn score(f: &Features, p: &CampaignProfile) -> Score {
    let mut s = Score::default();
    let (body, body_signal, differs) = body(f, p);
    let attachment = attachment(f, p, &mut s.signals);
    if let Some(sig) = body_signal {
        s.signals.push((sig, body));
    }
    let mut weak = subject(f, p, &mut s.signals) + url(f, p, &mut s.signals);
    weak += infra(f, p, &mut s.signals);
    if differs && attachment == 0.0 {
        s.signals
            .push(("body.differs".to_string(), -weak * (1.0 - BODY_DIFFERS)));
        weak *= BODY_DIFFERS;
    }
    s.total = body + attachment + weak;
    s
}

/// The body family: strongest of exact hash, MinHash and TLSH; and whether the bodies differ.
fn body(f: &Features, p: &CampaignProfile) -> (f64, Option<String>, bool) {
    let mut best = (0.0, None);
    let mut consider = |w: f64, name: String| {
        if w > best.0 {
            best = (w, Some(name));
        }
    };
    if f.body_sha256.iter().any(|h| p.body_sha256.contains(h)) {
        let w = if f.body_minhash.is_empty() {
            W_BODY_EXACT_SHORT
        } else {
            W_BODY_EXACT
        };
        consider(w, "body.exact".to_string());
    }
    let mut differs = false;
    if !f.body_minhash.is_empty() && !p.minhashes.is_empty() {
        let sim = p
            .minhashes
            .iter()
            .map(|m| similarity(&f.body_minhash, m))
            .fold(0.0, f64::max);
        differs = sim < BODY_DIFFERS_BELOW;
        if sim > MINHASH_FLOOR {
            let w =
                W_BODY_MINHASH * ((sim - MINHASH_FLOOR) / (MINHASH_FULL - MINHASH_FLOOR)).min(1.0);
            consider(w, format!("body.minhash {sim:.2}"));
        }
    }
    if let Some(d) = min_tlsh(&f.body_tlsh, &p.body_tlsh) {
        consider(
            W_BODY_TLSH * ramp(d, BODY_TLSH_CLOSE, BODY_TLSH_FAR),
            format!("body.tlsh {d}"),
        );
    }
    let differs = differs && best.0 < W_BODY_EXACT_SHORT;
    (best.0, best.1, differs)
}

/// The attachment family: exact bytes, or a close fuzzy hash plus the same shape.
fn attachment(f: &Features, p: &CampaignProfile, signals: &mut Vec<(String, f64)>) -> f64 {
    let mut exact: f64 = 0.0;
    for a in &f.attachments {
        if p.attachment_sha256.contains(&a.sha256) {
            let w = if matches!(a.kind.as_str(), "image" | "text" | "unknown") {
                W_ATTACHMENT_EXACT_GENERIC
            } else {
                W_ATTACHMENT_EXACT
            };
            exact = exact.max(w);
        }
    }
    let tlsh: Vec<String> = f
        .attachments
        .iter()
        .filter_map(|a| a.tlsh.clone())
        .collect();
    let fuzzy = min_tlsh(&tlsh, &p.attachment_tlsh)
        .map(|d| {
            (
                d,
                W_ATTACHMENT_TLSH * ramp(d, ATTACHMENT_TLSH_CLOSE, ATTACHMENT_TLSH_FAR),
            )
        })
        .filter(|(_, w)| *w > 0.0);
    let shaped = f
        .attachments
        .iter()
        .filter_map(shape)
        .any(|s| p.attachment_shapes.contains(&s));
    let similar = fuzzy.map_or(0.0, |(_, w)| w) + if shaped { W_ATTACHMENT_SHAPE } else { 0.0 };
    if exact >= similar && exact > 0.0 {
        signals.push(("attachment.exact".to_string(), exact));
        return exact;
    }
    if let Some((d, w)) = fuzzy {
        signals.push((format!("attachment.tlsh {d}"), w));
    }
    if shaped {
        signals.push(("attachment.shape".to_string(), W_ATTACHMENT_SHAPE));
    }
    similar
}

fn subject(f: &Features, p: &CampaignProfile, signals: &mut Vec<(String, f64)>) -> f64 {
    let Some(s) = &f.subject_template else {
        return 0.0;
    };
    if !p.subject_templates.contains(s) {
        return 0.0;
    }
    let w = match subject_words(s) {
        0 => return 0.0,
        1 | 2 => W_SUBJECT_GENERIC,
        _ => W_SUBJECT_SPECIFIC,
    };
    signals.push(("subject.template".to_string(), w));
    w
}

fn url(f: &Features, p: &CampaignProfile, signals: &mut Vec<(String, f64)>) -> f64 {
    let template = f
        .url_templates
        .iter()
        .any(|t| url_specific(t) && p.url_templates.contains(t));
    if template {
        signals.push(("url.template".to_string(), W_URL_TEMPLATE));
        return W_URL_TEMPLATE;
    }
    // Only a domain the message links deeply counts: kits impersonating a brand all link the
    // brand's home page, logo and privacy page, and that says nothing about the kit.
    let domain = f.domains.iter().find(|d| {
        !ubiquitous(d) && p.domains.contains(d) && f.url_templates.iter().any(|t| deep_link(t, d))
    });
    match domain {
        Some(d) => {
            signals.push((format!("url.domain {d}"), W_URL_DOMAIN));
            W_URL_DOMAIN
        }
        None => 0.0,
    }
}

fn infra(f: &Features, p: &CampaignProfile, signals: &mut Vec<(String, f64)>) -> f64 {
    let checks = [
        (
            "infra.helo",
            &f.helo_pattern,
            &p.helo_patterns,
            W_INFRA_HELO,
        ),
        ("infra.x-mailer", &f.x_mailer, &p.x_mailers, W_INFRA_MAILER),
        ("infra.net", &f.source_net, &p.source_nets, W_INFRA_NET),
        (
            "sender.domain",
            &f.sender_domain,
            &p.sender_domains,
            W_SENDER_DOMAIN,
        ),
    ];
    let mut total = 0.0;
    for (name, value, list, w) in checks {
        if value.as_ref().is_some_and(|v| list.contains(v)) {
            let w = w.min(INFRA_CAP - total);
            if w > 0.0 {
                signals.push((name.to_string(), w));
                total += w;
            }
        }
    }
    total
}

/// True when `template` is a specific (campaign-looking) URL on `domain` or a subdomain.
fn deep_link(template: &str, domain: &str) -> bool {
    let host = template.split('/').next().unwrap_or_default();
    let on_domain = host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'));
    on_domain && url_specific(template)
}

/// 1 at or below `close`, 0 at or above `far`, linear in between.
fn ramp(d: i32, close: i32, far: i32) -> f64 {
    if d <= close {
        1.0
    } else if d >= far {
        0.0
    } else {
        f64::from(far - d) / f64::from(far - close)
    }
}

/// The smallest TLSH distance between any digest of `a` and any of `b` (unparseable digests
/// are skipped).
fn min_tlsh(a: &[String], b: &[String]) -> Option<i32> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let parse = |s: &String| tlsh2::TlshDefault::from_str(s).ok();
    let left: Vec<_> = a.iter().filter_map(parse).collect();
    if left.is_empty() {
        return None;
    }
    b.iter()
        .filter_map(parse)
        .flat_map(|r| {
            left.iter()
                .map(move |l| l.diff(&r, true))
                .collect::<Vec<_>>()
        })
        .min()
}
