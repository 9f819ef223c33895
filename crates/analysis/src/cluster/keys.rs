//! Candidate keys: the stable 64-bit values the store's inverted index maps to campaigns, so
//! that finding candidates for a message costs a few look-ups whatever the number of campaigns.
//!
//! A key is `mix64(FNV-1a(kind ‖ 0x00 ‖ value))` as `i64`; kinds are short fixed tags. Keys are
//! only a way to *find* candidates: a shared key never joins anything by itself, `score` does.
//! Values that every message has (infrastructure, generic subjects, image attachments, the
//! big web's domains) get no key: their posting lists would hold every campaign.

use super::minhash::{MINHASH_SIZE, fnv1a, fnv1a_start, mix64};
use super::template;
use model::campaign::AttachmentFeature;
use model::{CampaignProfile, Features};

/// MinHash LSH bands and rows per band (16 × 4 = the 64 values of a sketch). A pair whose
/// Jaccard similarity is s shares at least one band with probability 1 − (1 − s⁴)¹⁶: 0.99 at
/// s = 0.7, 0.89 at 0.6, 0.64 at 0.5, but 0.12 at 0.3 and ≈ 0 below 0.2. Copies of one
/// template mostly sit above 0.5 (and a campaign keeps several exemplars, each with its own bands),
/// while unrelated texts rarely share a band, which keeps posting lists short. Fewer rows per
/// band would flood the index with chance collisions; more would miss reordered variants.
pub const LSH_BANDS: usize = 16;
/// Rows (sketch values) per band.
pub const LSH_ROWS: usize = MINHASH_SIZE / LSH_BANDS;

/// Registered domains found in so many unrelated messages (schema URLs, social-media footers,
/// CDNs) that a key on them would only ever hit the posting cap. The cap catches the rest.
/// Neither their domain nor their URL templates count as evidence.
const UBIQUITOUS_DOMAINS: &[&str] = &[
    "w3.org",
    "schemas.microsoft.com",
    "microsoft.com",
    "google.com",
    "googleapis.com",
    "gstatic.com",
    "facebook.com",
    "twitter.com",
    "x.com",
    "instagram.com",
    "linkedin.com",
    "youtube.com",
    "apple.com",
    "outlook.com",
    "office.com",
    "live.com",
    "gmail.com",
    // Image hosts, CDNs, cloud storage and mailing services: unrelated spam hotlinks its
    // pictures there or sends through them, and their folded URL templates
    // (`zupimages.net/up/0/#.jpg`) are shared by everyone (false merges on the phishing corpus).
    "twimg.com",
    "fbcdn.net",
    "zupimages.net",
    "imgur.com",
    "ibb.co",
    "postimg.cc",
    "googleusercontent.com",
    "amazonaws.com",
    "cloudfront.net",
    "akamaihd.net",
    "windows.net",
    "sendgrid.net",
    "list-manage.com",
    "klaviyo.com",
];

/// Attachment kinds too common to key on by shape: logos and signature images.
const GENERIC_KINDS: &[&str] = &["image", "text", "unknown"];

/// The key of one `kind`-tagged value.
pub(crate) fn key(kind: &str, value: &[u8]) -> i64 {
    let h = fnv1a(fnv1a_start(), kind.as_bytes());
    let h = fnv1a(h, &[0]);
    mix64(fnv1a(h, value)) as i64
}

/// Keys of one message's features, deduplicated, in a fixed order.
pub fn keys(f: &Features) -> Vec<i64> {
    let mut out = Vec::new();
    band_keys(&f.body_minhash, &mut out);
    for h in &f.body_sha256 {
        out.push(key("body", h.as_bytes()));
    }
    for a in &f.attachments {
        out.push(key("att", a.sha256.as_bytes()));
        if let Some(shape) = shape(a) {
            out.push(key("shape", shape.as_bytes()));
        }
    }
    if let Some(s) = &f.subject_template {
        subject_key(s, &mut out);
    }
    for t in &f.url_templates {
        url_template_key(t, &mut out);
    }
    for d in &f.domains {
        domain_key(d, &mut out);
    }
    dedup(out)
}

/// Keys of a whole profile (every exemplar and stored value), for re-indexing a campaign
/// after a merge. Every key a message would produce from values the profile kept is here.
pub fn profile_keys(p: &CampaignProfile) -> Vec<i64> {
    let mut out = Vec::new();
    for m in &p.minhashes {
        band_keys(m, &mut out);
    }
    for h in &p.body_sha256 {
        out.push(key("body", h.as_bytes()));
    }
    for h in &p.attachment_sha256 {
        out.push(key("att", h.as_bytes()));
    }
    for s in &p.attachment_shapes {
        out.push(key("shape", s.as_bytes()));
    }
    for s in &p.subject_templates {
        subject_key(s, &mut out);
    }
    for t in &p.url_templates {
        url_template_key(t, &mut out);
    }
    for d in &p.domains {
        domain_key(d, &mut out);
    }
    dedup(out)
}

/// `kind:name_template` of an attachment, when specific enough to identify a campaign.
pub(crate) fn shape(a: &AttachmentFeature) -> Option<String> {
    let name = a.name_template.as_deref()?;
    (!GENERIC_KINDS.contains(&a.kind.as_str()) && template::specific_name(name))
        .then(|| format!("{}:{name}", a.kind))
}

/// True for domains too common to mean anything (see [`UBIQUITOUS_DOMAINS`]).
pub(crate) fn ubiquitous(domain: &str) -> bool {
    UBIQUITOUS_DOMAINS.contains(&domain)
}

fn band_keys(sketch: &[u32], out: &mut Vec<i64>) {
    if sketch.len() != MINHASH_SIZE {
        return;
    }
    for (band, rows) in sketch.chunks(LSH_ROWS).enumerate() {
        let mut bytes = Vec::with_capacity(1 + LSH_ROWS * 4);
        bytes.push(band as u8);
        for v in rows {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        out.push(key("mh", &bytes));
    }
}

fn subject_key(s: &str, out: &mut Vec<i64>) {
    if template::subject_words(s) >= 3 {
        out.push(key("subj", s.as_bytes()));
    }
}

fn url_template_key(t: &str, out: &mut Vec<i64>) {
    if template::url_specific(t) {
        out.push(key("urlt", t.as_bytes()));
    }
}

fn domain_key(d: &str, out: &mut Vec<i64>) {
    if !ubiquitous(d) {
        out.push(key("dom", d.as_bytes()));
    }
}

/// Removes repeats, keeping the first occurrence (so the order stays fixed).
fn dedup(keys: Vec<i64>) -> Vec<i64> {
    let mut seen = std::collections::HashSet::with_capacity(keys.len());
    keys.into_iter().filter(|k| seen.insert(*k)).collect()
}
