//! Campaign profiles: the bounded summary of a campaign that messages are scored against.
//!
//! A profile never grows with its campaign: every list has a cap, and once full a new value
//! replaces an old one in rotation (slot `messages % cap`), so a long-running campaign whose
//! payload or URLs drift keeps recent values while its first ones stay in the index.

use super::keys::shape;
use super::minhash::similarity;
use model::{CampaignProfile, Features};

/// MinHash exemplars kept: the first message's sketch and up to three that differ from all
/// kept ones (a campaign rotating a few body variants is covered by one exemplar each).
pub const MAX_EXEMPLARS: usize = 8;
/// A sketch this similar to a kept exemplar adds nothing and is not kept.
pub const EXEMPLAR_NOVELTY: f64 = 0.6;
/// Hashes kept per list (body and attachment SHA-256, attachment TLSH): polymorphic payloads
/// give every message a new value, so this is a window, not a record (the campaign record in
/// the store keeps the full facet counts).
pub const MAX_HASHES: usize = 32;
/// TLSH digests kept per list (body, attachment): every score compares a message's digests
/// with all of these, so this bounds the cost of `score` (see `docs/CAMPAIGNS.md`).
pub const MAX_TLSH: usize = 12;
/// Other values kept per list (subject and URL templates, domains, infrastructure).
pub const MAX_VALUES: usize = 16;

/// The profile of a campaign made of one message.
pub fn new_profile(f: &Features) -> CampaignProfile {
    let mut p = CampaignProfile::default();
    absorb(&mut p, f);
    p
}

/// Adds one message's features to a profile, within the bounds.
pub fn absorb(p: &mut CampaignProfile, f: &Features) {
    let slot = usize::try_from(p.messages % 1_000_000).unwrap_or(0);
    add_exemplar(p, &f.body_minhash);
    for (i, h) in f.body_sha256.iter().enumerate() {
        put(&mut p.body_sha256, h, MAX_HASHES, slot + i);
    }
    for (i, t) in f.body_tlsh.iter().enumerate() {
        put(&mut p.body_tlsh, t, MAX_TLSH, slot + i);
    }
    if let Some(s) = &f.subject_template {
        put(&mut p.subject_templates, s, MAX_VALUES, slot);
    }
    for (i, a) in f.attachments.iter().enumerate() {
        put(&mut p.attachment_sha256, &a.sha256, MAX_HASHES, slot + i);
        if let Some(t) = &a.tlsh {
            put(&mut p.attachment_tlsh, t, MAX_TLSH, slot + i);
        }
        if let Some(s) = shape(a) {
            put(&mut p.attachment_shapes, &s, MAX_VALUES, slot + i);
        }
    }
    for (i, d) in f.domains.iter().enumerate() {
        put(&mut p.domains, d, MAX_VALUES, slot + i);
    }
    for (i, t) in f.url_templates.iter().enumerate() {
        put(&mut p.url_templates, t, MAX_VALUES, slot + i);
    }
    if let Some(h) = &f.helo_pattern {
        put(&mut p.helo_patterns, h, MAX_VALUES, slot);
    }
    if let Some(x) = &f.x_mailer {
        put(&mut p.x_mailers, x, MAX_VALUES, slot);
    }
    if let Some(s) = &f.sender_domain {
        put(&mut p.sender_domains, s, MAX_VALUES, slot);
    }
    if let Some(n) = &f.source_net {
        put(&mut p.source_nets, n, MAX_VALUES, slot);
    }
    p.messages = p.messages.saturating_add(1);
}

/// Folds `from` into `into`: values of `into` first, then those of `from` while room is left.
pub fn merge_profiles(into: &mut CampaignProfile, from: &CampaignProfile) {
    for m in &from.minhashes {
        add_exemplar(into, m);
    }
    let lists: [(&mut Vec<String>, &Vec<String>, usize); 12] = [
        (&mut into.body_sha256, &from.body_sha256, MAX_HASHES),
        (&mut into.body_tlsh, &from.body_tlsh, MAX_TLSH),
        (
            &mut into.subject_templates,
            &from.subject_templates,
            MAX_VALUES,
        ),
        (
            &mut into.attachment_sha256,
            &from.attachment_sha256,
            MAX_HASHES,
        ),
        (&mut into.attachment_tlsh, &from.attachment_tlsh, MAX_TLSH),
        (
            &mut into.attachment_shapes,
            &from.attachment_shapes,
            MAX_VALUES,
        ),
        (&mut into.domains, &from.domains, MAX_VALUES),
        (&mut into.url_templates, &from.url_templates, MAX_VALUES),
        (&mut into.helo_patterns, &from.helo_patterns, MAX_VALUES),
        (&mut into.x_mailers, &from.x_mailers, MAX_VALUES),
        (&mut into.sender_domains, &from.sender_domains, MAX_VALUES),
        (&mut into.source_nets, &from.source_nets, MAX_VALUES),
    ];
    for (dst, src, cap) in lists {
        for v in src {
            if dst.len() >= cap {
                break;
            }
            if !dst.contains(v) {
                dst.push(v.clone());
            }
        }
    }
    into.messages = into.messages.saturating_add(from.messages);
}

/// Keeps `sketch` as an exemplar when there is room and it is unlike every kept one.
fn add_exemplar(p: &mut CampaignProfile, sketch: &[u32]) {
    if sketch.is_empty() || p.minhashes.len() >= MAX_EXEMPLARS {
        return;
    }
    if p.minhashes
        .iter()
        .all(|m| similarity(m, sketch) < EXEMPLAR_NOVELTY)
    {
        p.minhashes.push(sketch.to_vec());
    }
}

/// Adds `value` to `list` unless present; a full list has slot `slot % cap` replaced.
fn put(list: &mut Vec<String>, value: &str, cap: usize, slot: usize) {
    if list.iter().any(|v| v == value) {
        return;
    }
    if list.len() < cap {
        list.push(value.to_string());
    } else if let Some(old) = list.get_mut(slot % cap) {
        *old = value.to_string();
    }
}
