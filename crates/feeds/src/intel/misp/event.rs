//! One MISP event (core format) built from a campaign and its buffered indicators.
//!
//! Event: `info` from a template (`Malspam <date> (<attachment kinds>) - campaign:
//! "<subject>"`), `date` = first seen, `threat_level_id` 1 malware/ransomware delivery,
//! 2 phishing, 3 other verdicts, 4 for the unclustered event; `analysis` 1 (ongoing: the
//! campaign may grow); `timestamp` = latest change of the campaign or any of its indicators
//! (MISP re-pulls an event when it grows). Numbers are strings, as pymisp writes them.
//! Tags: TLP, `spamtrap`, `family:<name>` per family (a plain tag: our family names are
//! analysis tags, not galaxy cluster values), and RSIT for the verdict.
//! Attributes: `url`, `domain`, `email-src`, `ip-src` (sending host) or `ip-dst` (an IP that
//! is the host of one of the event's URLs); one `file` object per payload; one `email`
//! object with the senders (`from`) and subject templates. Never `email-dst`/`to`/`cc`:
//! those would be trap addresses. UUIDs are UUIDv5 under the event UUID, so the same value
//! keeps its UUID in every export.

use super::super::format::FeedMeta;
use super::super::policy::{IntelCampaign, Ioc};
use super::super::tlp::Tlp;
use super::super::writers::one_line;
use model::report::IndicatorKind;
use model::{Timestamp, VerdictClass};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// MISP limits `info` to 256 characters.
pub const MAX_INFO: usize = 256;
/// Subject templates listed in the email object.
pub const MAX_SUBJECTS: usize = 20;
/// `email` object template (pymisp `data/misp-objects/objects/email`).
const EMAIL_TEMPLATE: (&str, &str) = ("a0c666e0-fc65-4be8-b48f-3423d788b552", "19");
/// `file` object template.
const FILE_TEMPLATE: (&str, &str) = ("688c46fb-5edb-40a3-8273-1af7923e2215", "25");

/// What the writer buffered for one event.
pub struct EventInput<'a> {
    pub uuid: uuid::Uuid,
    pub campaign: Option<&'a IntelCampaign>,
    pub iocs: &'a [Ioc],
    /// Indicators dropped because the event reached its attribute cap.
    pub dropped: u64,
}

/// The event as JSON (`{"Event": {...}}`) and its manifest entry.
pub struct Built {
    pub event: Value,
    pub manifest: Value,
}

pub fn build(input: &EventInput<'_>, meta: &FeedMeta) -> Built {
    let ev = input.uuid;
    let stamp = timestamp(input).to_string();
    let tlp = event_tlp(input);
    let mut attrs = Vec::new();
    let mut objects = Vec::new();
    let mut email = Vec::new();
    let url_hosts: BTreeSet<&str> = input
        .iocs
        .iter()
        .filter(|i| i.kind == IndicatorKind::Url)
        .filter_map(|i| i.host.as_deref())
        .collect();
    let mut file_uuids = Vec::new();
    for ioc in input.iocs {
        let a = |ty: &str, cat: &str, comment: &str| ioc_attr(ev, ioc, tlp, ty, cat, comment);
        match ioc.kind {
            IndicatorKind::Url => attrs.push(a(
                "url",
                "Network activity",
                "payload or phishing URL in the message",
            )),
            IndicatorKind::Domain => attrs.push(a(
                "domain",
                "Network activity",
                "host of a URL in the message",
            )),
            IndicatorKind::Ip if url_hosts.contains(ioc.value.as_str()) => attrs.push(a(
                "ip-dst",
                "Network activity",
                "host of a URL in the message",
            )),
            IndicatorKind::Ip => {
                attrs.push(a("ip-src", "Network activity", "spamtrap SMTP client"))
            }
            IndicatorKind::Email => {
                attrs.push(a(
                    "email-src",
                    "Payload delivery",
                    "sender address (From, Sender, Reply-To or Return-Path)",
                ));
                email.push(obj_attr(
                    ev,
                    "email",
                    "from",
                    "email-src",
                    "Payload delivery",
                    &ioc.value,
                    true,
                    false,
                    &stamp,
                ));
            }
            IndicatorKind::Sha256 => {
                let (obj, id) = file_object(ev, ioc);
                file_uuids.push(id);
                objects.push(obj);
            }
            _ => {}
        }
    }
    if let Some(c) = input.campaign {
        for s in c.brief.subjects.iter().take(MAX_SUBJECTS) {
            email.push(obj_attr(
                ev,
                "email",
                "subject",
                "email-subject",
                "Payload delivery",
                s,
                false,
                false,
                &stamp,
            ));
        }
    }
    if !email.is_empty() {
        let id = uuid::Uuid::new_v5(&ev, b"object|email");
        let refs: Vec<Value> = file_uuids
            .iter()
            .map(|f| {
                json!({
                    "uuid": uuid::Uuid::new_v5(&ev, format!("ref|{id}|contains|{f}").as_bytes()).to_string(),
                    "object_uuid": id.to_string(),
                    "referenced_uuid": f.to_string(),
                    "relationship_type": "contains",
                    "timestamp": stamp,
                    "comment": "",
                })
            })
            .collect();
        let mut obj = object_head(
            "email",
            "network",
            "Email object describing an email with meta-information",
            EMAIL_TEMPLATE,
            id,
            &stamp,
        );
        obj["Attribute"] = Value::Array(email);
        if !refs.is_empty() {
            obj["ObjectReference"] = Value::Array(refs);
        }
        objects.insert(0, obj);
    }
    let tags: Vec<Value> = event_tags(input.campaign, tlp)
        .into_iter()
        .map(tag)
        .collect();
    let info = info(input, meta);
    let date = date(input, meta);
    let threat = threat_level(input.campaign);
    let orgc = json!({"name": meta.producer.name, "uuid": meta.producer.uuid.to_string()});
    let event = json!({"Event": {
        "uuid": ev.to_string(),
        "info": info,
        "date": date,
        "threat_level_id": threat.to_string(),
        "analysis": "1",
        "timestamp": stamp,
        "publish_timestamp": stamp,
        "published": true,
        "Orgc": orgc,
        "Tag": tags,
        "Attribute": attrs,
        "Object": objects,
    }});
    let manifest = json!({
        "Orgc": orgc,
        "Tag": tags,
        "info": info,
        "date": date,
        "analysis": 1,
        "threat_level_id": threat,
        "timestamp": timestamp(input),
    });
    Built { event, manifest }
}

/// Unix seconds of the latest change in the event.
fn timestamp(input: &EventInput<'_>) -> i64 {
    let mut t = input
        .campaign
        .map(|c| c.brief.changed_at.unix_timestamp())
        .unwrap_or(0);
    for i in input.iocs {
        t = t.max(i.changed_at.unix_timestamp());
    }
    t
}

/// The campaign's TLP, or for the unclustered event the least restricted of its
/// indicators (attributes more restricted than the event carry their own TLP tag).
fn event_tlp(input: &EventInput<'_>) -> Tlp {
    match input.campaign {
        Some(c) => c.tlp,
        None => input.iocs.iter().map(|i| i.tlp).min().unwrap_or(Tlp::Clear),
    }
}

fn threat_level(c: Option<&IntelCampaign>) -> u8 {
    match c.map(|c| c.brief.verdict) {
        Some(VerdictClass::Malware | VerdictClass::RansomwareDelivery) => 1,
        Some(VerdictClass::Phishing) => 2,
        Some(_) => 3,
        None => 4,
    }
}

fn event_tags(c: Option<&IntelCampaign>, tlp: Tlp) -> Vec<String> {
    let mut tags = vec![tlp.misp_tag(), "spamtrap".to_string()];
    let Some(c) = c else { return tags };
    for f in &c.brief.families {
        tags.push(format!("family:{}", one_line(f)));
    }
    match c.brief.verdict {
        VerdictClass::Malware | VerdictClass::RansomwareDelivery => {
            tags.push("rsit:malicious-code=\"malware-distribution\"".to_string())
        }
        VerdictClass::Phishing => tags.push("rsit:fraud=\"phishing\"".to_string()),
        VerdictClass::Spam => tags.push("rsit:abusive-content=\"spam\"".to_string()),
        _ => {}
    }
    let mut seen = BTreeSet::new();
    tags.retain(|t| seen.insert(t.clone()));
    tags
}

fn tag(name: String) -> Value {
    json!({"name": name, "colour": "#ffffff", "local": false, "relationship_type": ""})
}

fn ymd(t: Timestamp) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

fn date(input: &EventInput<'_>, meta: &FeedMeta) -> String {
    match input.campaign {
        Some(c) => ymd(c.brief.first_seen),
        None => ymd(input
            .iocs
            .iter()
            .map(|i| i.first_seen)
            .min()
            .unwrap_or(meta.generated_at)),
    }
}

fn info(input: &EventInput<'_>, meta: &FeedMeta) -> String {
    let date = date(input, meta);
    let mut s = match input.campaign {
        Some(c) => {
            let kinds = if c.brief.attachment_kinds.is_empty() {
                "links".to_string()
            } else {
                c.brief.attachment_kinds.join(", ")
            };
            let subject = if !c.brief.label.is_empty() {
                c.brief.label.clone()
            } else {
                c.brief.subjects.first().cloned().unwrap_or_default()
            };
            format!(
                "Malspam {date} ({kinds}) - campaign {}: \"{}\"",
                c.id(),
                subject
            )
        }
        None => format!(
            "Malspam indicators not (yet) in a campaign - {}",
            meta.producer.name
        ),
    };
    let note = if input.dropped > 0 {
        format!(" [truncated: {} indicators left out]", input.dropped)
    } else {
        String::new()
    };
    s = one_line(&s);
    let room = MAX_INFO.saturating_sub(note.chars().count());
    if s.chars().count() > room {
        s = s.chars().take(room.saturating_sub(1)).collect::<String>() + "…";
    }
    s + &note
}

/// `YYYY-MM-DDTHH:MM:SS+00:00` (what pymisp writes for first/last seen).
fn iso(t: Timestamp) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{}T{:02}:{:02}:{:02}+00:00",
        ymd(t),
        t.hour(),
        t.minute(),
        t.second()
    )
}

fn ioc_attr(
    ev: uuid::Uuid,
    ioc: &Ioc,
    event_tlp: Tlp,
    ty: &str,
    cat: &str,
    comment: &str,
) -> Value {
    let mut a = json!({
        "uuid": uuid::Uuid::new_v5(&ev, format!("{ty}|{}", ioc.value).as_bytes()).to_string(),
        "type": ty,
        "category": cat,
        "value": ioc.value,
        "to_ids": true,
        "disable_correlation": false,
        "comment": format!("{comment}; confidence {}; seen in {} messages", ioc.confidence, ioc.count),
        "timestamp": ioc.changed_at.unix_timestamp().to_string(),
        "first_seen": iso(ioc.first_seen),
        "last_seen": iso(ioc.last_seen),
    });
    if ioc.tlp != event_tlp {
        a["Tag"] = json!([tag(ioc.tlp.misp_tag())]);
    }
    a
}

#[allow(clippy::too_many_arguments)]
fn obj_attr(
    ev: uuid::Uuid,
    object: &str,
    relation: &str,
    ty: &str,
    cat: &str,
    value: &str,
    to_ids: bool,
    no_correlation: bool,
    stamp: &str,
) -> Value {
    json!({
        "uuid": uuid::Uuid::new_v5(&ev, format!("{object}|{relation}|{ty}|{value}").as_bytes()).to_string(),
        "object_relation": relation,
        "type": ty,
        "category": cat,
        "value": value,
        "to_ids": to_ids,
        "disable_correlation": no_correlation,
        "comment": "",
        "timestamp": stamp,
    })
}

fn object_head(
    name: &str,
    meta_category: &str,
    description: &str,
    template: (&str, &str),
    id: uuid::Uuid,
    stamp: &str,
) -> Value {
    json!({
        "name": name,
        "meta-category": meta_category,
        "description": description,
        "template_uuid": template.0,
        "template_version": template.1,
        "uuid": id.to_string(),
        "timestamp": stamp,
        "comment": "",
    })
}

/// The TLSH digest as MISP validates it: lower case, without the `T1` version prefix.
pub fn misp_tlsh(t: &str) -> Option<String> {
    let t = t.to_ascii_lowercase();
    let t = t.strip_prefix("t1").unwrap_or(&t);
    (t.len() == 70 && t.bytes().all(|b| b.is_ascii_hexdigit())).then(|| t.to_string())
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A payload as a `file` object; also returns its UUID (the email object references it).
fn file_object(ev: uuid::Uuid, ioc: &Ioc) -> (Value, uuid::Uuid) {
    let sha256 = ioc.value.to_ascii_lowercase();
    let id = uuid::Uuid::new_v5(&ev, format!("object|file|{sha256}").as_bytes());
    let stamp = ioc.changed_at.unix_timestamp().to_string();
    let obj_key = format!("file|{sha256}");
    let pd = "Payload delivery";
    let mut attrs = Vec::new();
    let mut add = |rel: &str, ty: &str, cat: &str, v: &str, to_ids: bool, no_corr: bool| {
        attrs.push(obj_attr(
            ev, &obj_key, rel, ty, cat, v, to_ids, no_corr, &stamp,
        ));
    };
    if let Some(f) = &ioc.file {
        if let Some(name) = f.name.as_deref().filter(|n| !n.is_empty()) {
            add("filename", "filename", pd, name, true, true);
        }
        if is_hex(&f.md5, 32) {
            add("md5", "md5", pd, &f.md5.to_ascii_lowercase(), true, false);
        }
        if is_hex(&f.sha1, 40) {
            add(
                "sha1",
                "sha1",
                pd,
                &f.sha1.to_ascii_lowercase(),
                true,
                false,
            );
        }
    }
    add("sha256", "sha256", pd, &sha256, true, false);
    if let Some(f) = &ioc.file {
        if is_hex(&f.sha512, 128) {
            add(
                "sha512",
                "sha512",
                pd,
                &f.sha512.to_ascii_lowercase(),
                true,
                false,
            );
        }
        if !f.ssdeep.is_empty() && !f.ssdeep.chars().any(char::is_control) {
            add("ssdeep", "ssdeep", pd, &f.ssdeep, true, false);
        }
        if let Some(t) = f.tlsh.as_deref().and_then(misp_tlsh) {
            add("tlsh", "tlsh", pd, &t, true, false);
        }
        add(
            "size-in-bytes",
            "size-in-bytes",
            "Other",
            &f.size.to_string(),
            false,
            true,
        );
        if let Some(m) = f.mime.as_deref().filter(|m| !m.is_empty()) {
            add("mimetype", "mime-type", pd, m, false, true);
        }
    }
    let mut obj = object_head(
        "file",
        "file",
        "File object describing a file with meta-information",
        FILE_TEMPLATE,
        id,
        &stamp,
    );
    obj["comment"] = json!(format!(
        "confidence {}; seen in {} messages",
        ioc.confidence, ioc.count
    ));
    obj["first_seen"] = json!(iso(ioc.first_seen));
    obj["last_seen"] = json!(iso(ioc.last_seen));
    obj["Attribute"] = Value::Array(attrs);
    (obj, id)
}

/// Every attribute value of an event, top-level then object attributes (pymisp's order for
/// `attributes_hashes`).
pub fn attribute_values(event: &Value) -> Vec<&str> {
    let e = &event["Event"];
    let top = e["Attribute"].as_array().into_iter().flatten();
    let objs = e["Object"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|o| o["Attribute"].as_array().into_iter().flatten());
    top.chain(objs)
        .filter_map(|a| a["value"].as_str())
        .collect()
}
