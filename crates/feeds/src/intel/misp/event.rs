//! One MISP event (core format) built from a campaign and its buffered indicators.
//!
//! Event: `info` from a template (`Malspam <date> (<attachment kinds>) - campaign:
//! "<subject>"`), `date` = first seen, `threat_level_id` 1 malware/ransomware delivery,
//! 2 phishing, 3 other verdicts, 4 for the unclustered event; `analysis` 1 (ongoing: the
//! campaign may grow); `timestamp` = latest change of the campaign or any of its indicators
//! (MISP re-pulls an event when it grows). Numbers are strings, as pymisp writes them.
//! Tags: TLP, `spamtrap`, `family:<name>` per family (a plain tag: our family names are
//! analysis tags, not galaxy cluster values), and RSIT for the verdict.
//! Attributes: `domain`, `email-src`, `ip-src` (sending host) or `ip-dst` (an IP that is the
//! host of one of the event's URLs); one `url` object per URL (url, host); one `file`
//! object per payload; one `email`
//! object with the senders (`from`) and subject templates. Never `email-dst`/`to`/`cc`:
//! those would be trap addresses. UUIDs are UUIDv5 under the event UUID, so the same value
//! keeps its UUID in every export.

use super::super::format::FeedMeta;
use super::super::policy::{IntelCampaign, Ioc};
use super::super::tlp::Tlp;
use super::super::writers::one_line;
use model::report::IndicatorKind;
use model::{Timestamp, VerdictClass};
use serde::Serialize;
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
/// `url` object template.
const URL_TEMPLATE: (&str, &str) = ("60efb77b-40b5-4c46-871b-ed1ed999fce5", "10");

/// What the writer buffered for one event.
pub struct EventInput<'a> {
    pub uuid: uuid::Uuid,
    pub campaign: Option<&'a IntelCampaign>,
    pub iocs: &'a [Ioc],
    /// Indicators dropped because the event reached its attribute cap.
    pub dropped: u64,
}

/// The event (`{"Event": {...}}` when serialised) and its manifest entry.
///
/// Typed structs with borrowed strings, not `serde_json::Value` trees: a feed of 10,000
/// campaigns writes millions of attributes, and a `Value` per attribute (a map, a `String` per
/// key) made allocation half the export's time.
pub struct Built<'a> {
    pub event: EventDoc<'a>,
    pub manifest: Value,
}

#[derive(Serialize)]
pub struct EventDoc<'a> {
    #[serde(rename = "Event")]
    event: Event<'a>,
}

#[derive(Serialize)]
struct Event<'a> {
    uuid: String,
    info: String,
    date: String,
    threat_level_id: String,
    analysis: &'static str,
    timestamp: String,
    publish_timestamp: String,
    published: bool,
    #[serde(rename = "Orgc")]
    orgc: Value,
    #[serde(rename = "Tag")]
    tag: Vec<Value>,
    #[serde(rename = "Attribute")]
    attribute: Vec<Attr<'a>>,
    #[serde(rename = "Object")]
    object: Vec<Object<'a>>,
}

/// Unix seconds as a JSON string, as pymisp writes timestamps (without a `String` per
/// attribute: a feed writes millions).
fn unix_string<S: serde::Serializer>(t: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

/// A MISP attribute, top level or inside an object (`object_relation` set).
#[derive(Serialize)]
struct Attr<'a> {
    uuid: uuid::Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    object_relation: Option<&'a str>,
    #[serde(rename = "type")]
    ty: &'a str,
    category: &'a str,
    value: std::borrow::Cow<'a, str>,
    to_ids: bool,
    disable_correlation: bool,
    comment: String,
    #[serde(serialize_with = "unix_string")]
    timestamp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<String>,
    #[serde(rename = "Tag", skip_serializing_if = "Vec::is_empty")]
    tag: Vec<Value>,
}

#[derive(Serialize)]
struct Object<'a> {
    name: &'static str,
    #[serde(rename = "meta-category")]
    meta_category: &'static str,
    description: &'static str,
    template_uuid: &'static str,
    template_version: &'static str,
    uuid: uuid::Uuid,
    #[serde(serialize_with = "unix_string")]
    timestamp: i64,
    comment: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    first_seen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_seen: Option<String>,
    #[serde(rename = "Attribute")]
    attribute: Vec<Attr<'a>>,
    #[serde(rename = "ObjectReference", skip_serializing_if = "Vec::is_empty")]
    object_reference: Vec<Value>,
}

impl EventDoc<'_> {
    /// Every attribute value, top-level then object attributes (pymisp's order for
    /// `attributes_hashes`).
    pub fn attribute_values(&self) -> impl Iterator<Item = &str> {
        let e = &self.event;
        e.attribute
            .iter()
            .chain(e.object.iter().flat_map(|o| o.attribute.iter()))
            .map(|a| a.value.as_ref())
    }
}

pub fn build<'a>(input: &EventInput<'a>, meta: &FeedMeta) -> Built<'a> {
    let ev = input.uuid;
    let stamp_n = timestamp(input);
    let stamp = stamp_n.to_string();
    let tlp = event_tlp(input);
    let mut attrs = Vec::new();
    let mut objects = Vec::new();
    let mut email = Vec::new();
    let url_hosts: BTreeSet<&'a str> = input
        .iocs
        .iter()
        .filter(|i| i.kind == IndicatorKind::Url)
        .filter_map(|i| i.host.as_deref())
        .collect();
    let mut file_uuids = Vec::new();
    for ioc in input.iocs {
        let a = |ty: &'a str, cat: &'a str, comment: &str| ioc_attr(ev, ioc, tlp, ty, cat, comment);
        match ioc.kind {
            IndicatorKind::Url => objects.push(url_object(ev, ioc)),
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
                    std::borrow::Cow::Borrowed(ioc.value.as_str()),
                    true,
                    false,
                    stamp_n,
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
                std::borrow::Cow::Borrowed(s.as_str()),
                false,
                false,
                stamp_n,
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
            stamp_n,
        );
        obj.attribute = email;
        obj.object_reference = refs;
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
    let manifest = json!({
        "Orgc": orgc,
        "Tag": tags,
        "info": info,
        "date": date,
        "analysis": 1,
        "threat_level_id": threat,
        "timestamp": timestamp(input),
    });
    let event = EventDoc {
        event: Event {
            uuid: ev.to_string(),
            info,
            date,
            threat_level_id: threat.to_string(),
            analysis: "1",
            timestamp: stamp.clone(),
            publish_timestamp: stamp,
            published: true,
            orgc,
            tag: tags,
            attribute: attrs,
            object: objects,
        },
    };
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

fn ioc_attr<'a>(
    ev: uuid::Uuid,
    ioc: &'a Ioc,
    event_tlp: Tlp,
    ty: &'a str,
    cat: &'a str,
    comment: &str,
) -> Attr<'a> {
    Attr {
        uuid: uuid::Uuid::new_v5(&ev, format!("{ty}|{}", ioc.value).as_bytes()),
        object_relation: None,
        ty,
        category: cat,
        value: std::borrow::Cow::Borrowed(ioc.value.as_str()),
        to_ids: true,
        disable_correlation: false,
        comment: format!(
            "{comment}; confidence {}; seen in {} messages",
            ioc.confidence, ioc.count
        ),
        timestamp: ioc.changed_at.unix_timestamp(),
        first_seen: Some(iso(ioc.first_seen)),
        last_seen: Some(iso(ioc.last_seen)),
        tag: if ioc.tlp != event_tlp {
            vec![tag(ioc.tlp.misp_tag())]
        } else {
            Vec::new()
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn obj_attr<'a>(
    ev: uuid::Uuid,
    object: &str,
    relation: &'a str,
    ty: &'a str,
    cat: &'a str,
    value: std::borrow::Cow<'a, str>,
    to_ids: bool,
    no_correlation: bool,
    stamp: i64,
) -> Attr<'a> {
    Attr {
        uuid: uuid::Uuid::new_v5(&ev, format!("{object}|{relation}|{ty}|{value}").as_bytes()),
        object_relation: Some(relation),
        ty,
        category: cat,
        value,
        to_ids,
        disable_correlation: no_correlation,
        comment: String::new(),
        timestamp: stamp,
        first_seen: None,
        last_seen: None,
        tag: Vec::new(),
    }
}

fn object_head<'a>(
    name: &'static str,
    meta_category: &'static str,
    description: &'static str,
    template: (&'static str, &'static str),
    id: uuid::Uuid,
    stamp: i64,
) -> Object<'a> {
    Object {
        name,
        meta_category,
        description,
        template_uuid: template.0,
        template_version: template.1,
        uuid: id,
        timestamp: stamp,
        comment: String::new(),
        first_seen: None,
        last_seen: None,
        attribute: Vec::new(),
        object_reference: Vec::new(),
    }
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

/// A URL as a `url` object: the URL (for detection) and its host. (No `scheme`: it is in
/// the URL, and one more attribute per URL cost the feed a sixth of its speed.)
fn url_object(ev: uuid::Uuid, ioc: &Ioc) -> Object<'_> {
    let id = uuid::Uuid::new_v5(&ev, format!("object|url|{}", ioc.value).as_bytes());
    let stamp = ioc.changed_at.unix_timestamp();
    let key = format!("url|{}", ioc.value);
    let net = "Network activity";
    let mut attrs = vec![obj_attr(
        ev,
        &key,
        "url",
        "url",
        net,
        std::borrow::Cow::Borrowed(ioc.value.as_str()),
        true,
        false,
        stamp,
    )];
    if let Some(host) = ioc.host.as_deref() {
        attrs.push(obj_attr(
            ev,
            &key,
            "host",
            "hostname",
            net,
            std::borrow::Cow::Borrowed(host),
            false,
            false,
            stamp,
        ));
    }
    let obj = object_head(
        "url",
        "network",
        "url object describes an url along with its normalized field (like extracted using faup parsing library) and its metadata.",
        URL_TEMPLATE,
        id,
        stamp,
    );
    indicator_object(obj, ioc, "payload or phishing URL in the message; ", attrs)
}

/// An object standing for one indicator: its confidence and count in the comment, its
/// first/last seen, its attributes.
fn indicator_object<'a>(
    mut obj: Object<'a>,
    ioc: &Ioc,
    what: &str,
    attrs: Vec<Attr<'a>>,
) -> Object<'a> {
    obj.comment = format!(
        "{what}confidence {}; seen in {} messages",
        ioc.confidence, ioc.count
    );
    obj.first_seen = Some(iso(ioc.first_seen));
    obj.last_seen = Some(iso(ioc.last_seen));
    obj.attribute = attrs;
    obj
}

/// A payload as a `file` object; also returns its UUID (the email object references it).
fn file_object(ev: uuid::Uuid, ioc: &Ioc) -> (Object<'_>, uuid::Uuid) {
    let sha256 = ioc.value.to_ascii_lowercase();
    let id = uuid::Uuid::new_v5(&ev, format!("object|file|{sha256}").as_bytes());
    let stamp = ioc.changed_at.unix_timestamp();
    let obj_key = format!("file|{sha256}");
    let pd = "Payload delivery";
    let mut attrs = Vec::new();
    let mut add = |rel: &'static str,
                   ty: &'static str,
                   cat: &'static str,
                   v: &str,
                   to_ids: bool,
                   no_corr: bool| {
        attrs.push(obj_attr(
            ev,
            &obj_key,
            rel,
            ty,
            cat,
            std::borrow::Cow::Owned(v.to_string()),
            to_ids,
            no_corr,
            stamp,
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
    let obj = object_head(
        "file",
        "file",
        "File object describing a file with meta-information",
        FILE_TEMPLATE,
        id,
        stamp,
    );
    (indicator_object(obj, ioc, "", attrs), id)
}
