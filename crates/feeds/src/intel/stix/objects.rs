//! The objects every bundle starts with (identity, TLP 2.0 markings) and a campaign's
//! objects (campaign, malware per family, `campaign uses malware`), plus the property set all
//! our domain objects share.

use super::StixObject;
use super::ids::{campaign_stix_id, identity_id, malware_id, uses_id};
use super::json::Props;
use crate::intel::format::FeedMeta;
use crate::intel::policy::IntelCampaign;
use crate::intel::tlp::Tlp;
use model::{Timestamp, VerdictClass};
use serde_json::{Value, json};
use time::macros::datetime;

/// `created` of the OASIS TLP 2.0 marking definitions.
pub const TLP_CREATED: Timestamp = datetime!(2022-10-01 00:00:00 UTC);

/// The TLP 2.0 property extension the marking definitions carry.
pub const TLP_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// `created` and `modified` of the objects that exist independently of any sighting: our
/// identity and the malware families. They are shared across campaigns and exports, and an
/// object's `created` must never change between versions, so it is a fixed time. (A renamed
/// producer is therefore not a new version of the identity; consumers refetch it whole.)
pub const FIXED_CREATED: Timestamp = datetime!(2016-01-01 00:00:00 UTC);

/// Most families of one campaign that become malware objects (most frequent first).
pub const MAX_FAMILIES_PER_CAMPAIGN: usize = 16;

/// Longest family name published; longer tags are not family names.
pub const MAX_FAMILY_LEN: usize = 128;

/// A STIX timestamp with millisecond precision: `2016-02-16T09:12:00.000Z`.
pub fn stix_time(t: Timestamp) -> String {
    // Out-of-range times (never produced by the store) are written in their own offset.
    let t = t.checked_to_offset(time::UtcOffset::UTC).unwrap_or(t);
    // Digits written by hand: an export formats millions of times, and `format!` with
    // padding was a tenth of the STIX export's profile.
    let mut b = [0u8; 24];
    let mut put = |at: usize, v: u32, width: usize| {
        let mut v = v;
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    let year = u32::try_from(t.year()).unwrap_or(0).min(9999);
    put(0, year, 4);
    put(5, u32::from(u8::from(t.month())), 2);
    put(8, u32::from(t.day()), 2);
    put(11, u32::from(t.hour()), 2);
    put(14, u32::from(t.minute()), 2);
    put(17, u32::from(t.second()), 2);
    put(20, u32::from(t.millisecond()), 3);
    for (i, c) in [
        (4, b'-'),
        (7, b'-'),
        (10, b'T'),
        (13, b':'),
        (16, b':'),
        (19, b'.'),
        (23, b'Z'),
    ] {
        b[i] = c;
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// `t` cut to the millisecond, as it is written, so comparisons hold for what is published.
pub fn to_millis(t: Timestamp) -> Timestamp {
    let ms = t.millisecond();
    t.replace_millisecond(ms).unwrap_or(t)
}

/// The `created`/`modified` pair of an object: `modified` never before `created`.
pub fn versions(created: Timestamp, changed: Timestamp) -> (Timestamp, Timestamp) {
    let created = to_millis(created);
    (created, to_millis(changed).max(created))
}

/// A domain object (SDO or SRO) with the common properties; `props` are added after them.
pub fn domain_object(
    kind: &'static str,
    id: String,
    versions: (Timestamp, Timestamp),
    tlp: Tlp,
    meta: &FeedMeta,
    props: Value,
) -> StixObject {
    let identity = identity_id(meta.producer.uuid);
    domain_object_with(
        kind,
        id,
        versions,
        tlp,
        &identity,
        Props::new().value(&props),
    )
}

/// [`domain_object`] for the hot path: the creator's id given once, properties as text.
pub fn domain_object_with(
    kind: &'static str,
    id: String,
    versions: (Timestamp, Timestamp),
    tlp: Tlp,
    identity: &str,
    props: Props,
) -> StixObject {
    let times = (stix_time(versions.0), stix_time(versions.1));
    domain_object_text(kind, id, versions.1, &times, tlp, identity, props)
}

/// [`domain_object_with`] with `created`/`modified` already formatted (once per indicator
/// for its five domain objects).
pub fn domain_object_text(
    kind: &'static str,
    id: String,
    modified: Timestamp,
    (created_s, modified_s): &(String, String),
    tlp: Tlp,
    identity: &str,
    props: Props,
) -> StixObject {
    let json = Props::with_capacity(1024)
        .plain("type", kind)
        .plain("spec_version", "2.1")
        .plain("id", &id)
        .plain("created", created_s)
        .plain("modified", modified_s)
        .plain("created_by_ref", identity)
        .strs("object_marking_refs", &[tlp.stix_marking_id()])
        .extend(props)
        .object();
    StixObject {
        id,
        kind,
        version: modified,
        json,
    }
}

/// The producer identity and the five TLP 2.0 marking definitions.
pub fn preamble(meta: &FeedMeta) -> Vec<StixObject> {
    let p = &meta.producer;
    let mut props = json!({"name": p.name, "identity_class": "organization"});
    if !p.contact.trim().is_empty() {
        props["contact_information"] = p.contact.clone().into();
    }
    // The identity names no trap data and is public: TLP:CLEAR.
    let identity = domain_object(
        "identity",
        identity_id(p.uuid),
        (FIXED_CREATED, FIXED_CREATED),
        Tlp::Clear,
        meta,
        props,
    );
    let mut out = vec![identity];
    out.extend(Tlp::ALL.into_iter().map(marking_definition));
    out
}

/// The OASIS TLP 2.0 marking definition of `tlp`, exactly as published by OASIS.
pub fn marking_definition(tlp: Tlp) -> StixObject {
    let json = json!({
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": tlp.stix_marking_id(),
        "created": stix_time(TLP_CREATED),
        "name": tlp.stix_name(),
        "extensions": {
            TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": tlp.as_str()}
        }
    });
    StixObject {
        id: tlp.stix_marking_id().to_string(),
        kind: "marking-definition",
        version: TLP_CREATED,
        json: json.to_string(),
    }
}

/// `malware_types` for a family seen in a campaign with this verdict.
fn malware_types(verdict: VerdictClass) -> &'static str {
    match verdict {
        VerdictClass::RansomwareDelivery => "ransomware",
        VerdictClass::Malware => "trojan",
        _ => "unknown",
    }
}

/// The families of a campaign that become malware objects: trimmed, non-empty, bounded.
pub fn families(campaign: &IntelCampaign) -> impl Iterator<Item = &str> {
    campaign
        .brief
        .families
        .iter()
        .map(|f| f.trim())
        .filter(|f| !f.is_empty() && f.len() <= MAX_FAMILY_LEN)
        .take(MAX_FAMILIES_PER_CAMPAIGN)
}

/// `campaign`, then per family `malware` and `campaign uses malware`.
pub fn campaign_objects(campaign: &IntelCampaign, meta: &FeedMeta) -> Vec<StixObject> {
    let b = &campaign.brief;
    let secret = &meta.producer.secret;
    let first = to_millis(b.first_seen);
    let last = to_millis(b.last_seen).max(first);
    let version = versions(first, b.changed_at);
    let id = campaign_stix_id(b.uuid);
    let mut description = format!(
        "Malspam campaign seen by the spamtrap: {} message(s), verdict {}.",
        b.messages,
        b.verdict.as_str()
    );
    let fams: Vec<&str> = families(campaign).collect();
    if !fams.is_empty() {
        description.push_str(&format!(" Malware families: {}.", fams.join(", ")));
    }
    let props = json!({
        "name": campaign.name,
        "description": description,
        "first_seen": stix_time(first),
        "last_seen": stix_time(last),
        "confidence": campaign.confidence.min(100),
    });
    let mut out = vec![domain_object(
        "campaign",
        id.clone(),
        version,
        campaign.tlp,
        meta,
        props,
    )];
    for family in fams {
        let malware = malware_id(secret, family);
        let props = json!({
            "name": family,
            "is_family": true,
            "malware_types": [malware_types(b.verdict)],
        });
        let fixed = (FIXED_CREATED, FIXED_CREATED);
        // A family name is public vocabulary, shared by campaigns of any marking: TLP:CLEAR.
        out.push(domain_object(
            "malware",
            malware.clone(),
            fixed,
            Tlp::Clear,
            meta,
            props,
        ));
        let props = json!({
            "relationship_type": "uses",
            "source_ref": id,
            "target_ref": malware,
        });
        let rel = uses_id(secret, b.uuid, family);
        out.push(domain_object(
            "relationship",
            rel,
            version,
            campaign.tlp,
            meta,
            props,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_milliseconds_and_utc() {
        let t = datetime!(2016-02-16 10:12:00.123456 +01:00);
        assert_eq!(stix_time(t), "2016-02-16T09:12:00.123Z");
        assert_eq!(to_millis(t), datetime!(2016-02-16 09:12:00.123 UTC));
    }

    #[test]
    fn modified_is_never_before_created() {
        let a = datetime!(2016-02-16 09:12:00 UTC);
        let b = datetime!(2016-02-15 09:12:00 UTC);
        assert_eq!(versions(a, b), (a, a));
        assert_eq!(versions(b, a), (b, a));
    }
}
