//! An indicator's objects: its observables, `observed-data`, the `indicator`, `sighting`,
//! and the relationships `indicates` (its campaign) and `based-on` (the observed data).
//!
//! All derived objects take the indicator's uuid in another slot (see [`super::ids`]), and
//! all share the indicator's versions: `created` = first seen, `modified` = last change.

use super::StixObject;
use super::ids::{
    SLOT_BASED_ON, SLOT_INDICATES, SLOT_INDICATOR, SLOT_OBSERVED_DATA, SLOT_SIGHTING,
    campaign_stix_id, identity_id, slot, stix_id,
};
use super::json::Props;
use super::objects::{domain_object_text, stix_time, to_millis, versions};
use super::observables::observables;
use super::pattern::pattern;
use crate::intel::format::FeedMeta;
use crate::intel::policy::Ioc;
use model::Timestamp;
use model::report::IndicatorKind;

/// Largest `number_observed` and sighting `count` STIX allows.
pub const MAX_OBSERVED: u64 = 999_999_999;

/// Longest indicator value repeated in the indicator's `name` (the pattern has it whole).
pub const MAX_NAME_VALUE_CHARS: usize = 200;

fn label(kind: IndicatorKind) -> &'static str {
    match kind {
        IndicatorKind::Url => "Malicious URL",
        IndicatorKind::Domain => "Malicious domain",
        IndicatorKind::Ip => "Malicious IP address",
        IndicatorKind::Email => "Malicious sender address",
        _ => "Malicious file",
    }
}

fn clip(s: &str, max: usize) -> String {
    let mut out: String = s.chars().take(max).collect();
    if s.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

fn description(ioc: &Ioc, first: Timestamp, last: Timestamp) -> String {
    let mut d = format!(
        "Seen by the spamtrap in {} message(s) between {} and {}.",
        ioc.count,
        stix_time(first),
        stix_time(last)
    );
    if let Some(c) = &ioc.campaign {
        d.push_str(&format!(" Campaign: {}.", c.name));
    }
    if let Some(f) = ioc.family() {
        d.push_str(&format!(" Malware family: {f}."));
    }
    d
}

/// The objects of `ioc`; none when it has no pattern (a kind STIX does not carry, a
/// malformed hash). A value the schema refuses as an observable (see `shape.rs`) keeps its
/// indicator, sighting and `indicates`, without observed data.
pub fn ioc_objects(ioc: &Ioc, meta: &FeedMeta) -> Vec<StixObject> {
    let Some(pattern) = pattern(ioc.kind, &ioc.value) else {
        return Vec::new();
    };
    let scos = observables(ioc);
    let first = to_millis(ioc.first_seen);
    let last = to_millis(ioc.last_seen).max(first);
    // valid_until must be after valid_from, also once cut to milliseconds.
    let valid_until = to_millis(ioc.valid_until).max(first + time::Duration::milliseconds(1));
    let version = versions(first, ioc.changed_at);
    let count = ioc.count.clamp(1, MAX_OBSERVED);
    let id_of = |kind: &str, n: u8| stix_id(kind, slot(ioc.uuid, n));
    let indicator = id_of("indicator", SLOT_INDICATOR);
    let observed = id_of("observed-data", SLOT_OBSERVED_DATA);
    let tlp = ioc.tlp;
    let identity = identity_id(meta.producer.uuid);
    let (first_s, last_s) = (stix_time(first), stix_time(last));
    let times = (stix_time(version.0), stix_time(version.1));
    let object = |kind: &'static str, id: String, props: Props| {
        domain_object_text(kind, id, version.1, &times, tlp, &identity, props)
    };

    let mut out: Vec<StixObject> = Vec::with_capacity(scos.len() + 5);
    out.extend(scos.iter().map(|o| StixObject {
        id: o.id.clone(),
        kind: o.kind,
        version: to_millis(ioc.changed_at),
        json: o.json.clone(),
    }));
    let sco_ids: Vec<&str> = scos.iter().map(|o| o.id.as_str()).collect();
    if !sco_ids.is_empty() {
        let props = Props::new()
            .plain("first_observed", &first_s)
            .plain("last_observed", &last_s)
            .num("number_observed", count)
            .strs("object_refs", &sco_ids);
        out.push(object("observed-data", observed.clone(), props));
    }

    let name = format!(
        "{}: {}",
        label(ioc.kind),
        clip(&ioc.value, MAX_NAME_VALUE_CHARS)
    );
    let props = Props::new()
        .str("name", &name)
        .str("description", &description(ioc, first, last))
        .strs("indicator_types", &["malicious-activity"])
        .str("pattern", &pattern)
        .plain("pattern_type", "stix")
        .plain("pattern_version", "2.1")
        .plain("valid_from", &first_s)
        .plain("valid_until", &stix_time(valid_until))
        .raw("kill_chain_phases", KILL_CHAIN_DELIVERY)
        .num("confidence", u64::from(ioc.confidence.min(100)));
    out.push(object("indicator", indicator.clone(), props));

    let mut props = Props::new()
        .plain("sighting_of_ref", &indicator)
        .strs("where_sighted_refs", &[&identity])
        .plain("first_seen", &first_s)
        .plain("last_seen", &last_s)
        .num("count", count);
    if !scos.is_empty() {
        props = props.strs("observed_data_refs", &[&observed]);
    }
    out.push(object("sighting", id_of("sighting", SLOT_SIGHTING), props));

    let relationship = |kind: &str, n: u8, target: &str| {
        let props = Props::new()
            .plain("relationship_type", kind)
            .plain("source_ref", &indicator)
            .plain("target_ref", target);
        object("relationship", id_of("relationship", n), props)
    };
    if let Some(c) = &ioc.campaign {
        out.push(relationship(
            "indicates",
            SLOT_INDICATES,
            &campaign_stix_id(c.brief.uuid),
        ));
    }
    if !scos.is_empty() {
        out.push(relationship("based-on", SLOT_BASED_ON, &observed));
    }
    out
}

/// The Lockheed Martin kill chain phase every malspam indicator is in.
const KILL_CHAIN_DELIVERY: &str =
    r#"[{"kill_chain_name":"lockheed-martin-cyber-kill-chain","phase_name":"delivery"}]"#;
