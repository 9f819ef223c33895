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
use super::objects::{domain_object, stix_time, to_millis, versions};
use super::observables::observables;
use super::pattern::pattern;
use crate::intel::format::FeedMeta;
use crate::intel::policy::Ioc;
use model::Timestamp;
use model::report::IndicatorKind;
use serde_json::json;

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

    let mut out: Vec<StixObject> = scos
        .iter()
        .map(|o| StixObject {
            id: o.id.clone(),
            kind: o.kind,
            version: to_millis(ioc.changed_at),
            json: o.json.to_string(),
        })
        .collect();
    let sco_ids: Vec<&str> = scos.iter().map(|o| o.id.as_str()).collect();
    if !sco_ids.is_empty() {
        let props = json!({
            "first_observed": stix_time(first),
            "last_observed": stix_time(last),
            "number_observed": count,
            "object_refs": sco_ids,
        });
        let o = domain_object("observed-data", observed.clone(), version, tlp, meta, props);
        out.push(o);
    }

    let props = json!({
        "name": format!("{}: {}", label(ioc.kind), clip(&ioc.value, MAX_NAME_VALUE_CHARS)),
        "description": description(ioc, first, last),
        "indicator_types": ["malicious-activity"],
        "pattern": pattern,
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": stix_time(first),
        "valid_until": stix_time(valid_until),
        "kill_chain_phases": [
            {"kill_chain_name": "lockheed-martin-cyber-kill-chain", "phase_name": "delivery"}
        ],
        "confidence": ioc.confidence.min(100),
    });
    let o = domain_object("indicator", indicator.clone(), version, tlp, meta, props);
    out.push(o);

    let mut props = json!({
        "sighting_of_ref": indicator,
        "where_sighted_refs": [identity_id(meta.producer.uuid)],
        "first_seen": stix_time(first),
        "last_seen": stix_time(last),
        "count": count,
    });
    if !scos.is_empty() {
        props["observed_data_refs"] = json!([observed]);
    }
    let sighting = id_of("sighting", SLOT_SIGHTING);
    out.push(domain_object(
        "sighting", sighting, version, tlp, meta, props,
    ));

    let mut relationship = |kind: &str, n: u8, target: String| {
        let props =
            json!({"relationship_type": kind, "source_ref": indicator, "target_ref": target});
        let id = id_of("relationship", n);
        out.push(domain_object("relationship", id, version, tlp, meta, props));
    };
    if let Some(c) = &ioc.campaign {
        relationship("indicates", SLOT_INDICATES, campaign_stix_id(c.brief.uuid));
    }
    if !scos.is_empty() {
        relationship("based-on", SLOT_BASED_ON, observed);
    }
    out
}
