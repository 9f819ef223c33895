//! Request bodies of the abuse.ch services, from policy output ([`Ioc`]) only.
//!
//! - URLhaus (`https://urlhaus.abuse.ch/api/`): JSON `{"token", "anonymous", "submission":
//!   [{"url", "threat": "malware_download", "tags"}]}`.
//! - ThreatFox (`https://threatfox-api.abuse.ch/api/v1/`): JSON `{"query": "submit_ioc",
//!   "threat_type", "ioc_type", "malware", "confidence_level", "anonymous", "tags", "iocs"}`;
//!   one request per (IOC type, threat type, malware, confidence), since those fields apply
//!   to every IOC of a request.
//! - MalwareBazaar (`https://mb-api.abuse.ch/api/v1/`): `multipart/form-data` with a
//!   `json_data` part (`anonymous`, `delivery_method`: `email_attachment`, `tags`,
//!   `context.comment`) and the `file` part.
//!
//! Every request carries the key as the `Auth-Key` header (URLhaus also in `token`, where
//! its submission API reads it).

use super::super::policy::Ioc;
use super::{ConnectorConfig, Request};
use model::report::IndicatorKind;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Tags per submission, at most (abuse.ch keeps a handful per entry).
pub const MAX_SUBMIT_TAGS: usize = 10;
/// ThreatFox's family for "we do not know which": its documented catch-all.
pub const THREATFOX_UNKNOWN: &str = "unknown";
/// MalwareBazaar's delivery method for a file that arrived attached to an e-mail.
pub const DELIVERY_EMAIL_ATTACHMENT: &str = "email_attachment";
/// Longest file name sent to MalwareBazaar.
pub const MAX_FILE_NAME: usize = 128;

fn headers(cfg: &ConnectorConfig) -> Vec<(&'static str, String)> {
    cfg.api_key
        .iter()
        .map(|k| ("Auth-Key", k.clone()))
        .collect()
}

/// A tag as abuse.ch accepts it: letters, digits, `.`, `-`, `_`, at most 64 characters.
pub fn clean_tag(t: &str) -> Option<String> {
    let out: String = t
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let out = out.trim_matches('_').to_owned();
    (!out.is_empty()).then_some(out)
}

/// The configured tags, then the campaign's families and (for files) the file kind.
pub fn tags(cfg: &ConnectorConfig, ioc: &Ioc) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let families = ioc.campaign.iter().flat_map(|c| c.brief.families.iter());
    let file_kind = ioc.file.iter().map(|f| &f.kind);
    for t in cfg.tags.iter().chain(families).chain(file_kind) {
        if let Some(t) = clean_tag(t)
            && !out.contains(&t)
            && out.len() < MAX_SUBMIT_TAGS
        {
            out.push(t);
        }
    }
    out
}

fn json_request(cfg: &ConnectorConfig, body: Value, items: usize) -> Request {
    Request {
        path: None,
        content_type: "application/json".to_owned(),
        headers: headers(cfg),
        body: serde_json::to_vec(&body).unwrap_or_default(),
        summary: redact_token(body),
        items,
    }
}

fn redact_token(mut body: Value) -> Value {
    if let Some(t) = body.get_mut("token")
        && t.as_str().is_some_and(|s| !s.is_empty())
    {
        *t = Value::String("<redacted>".to_owned());
    }
    body
}

/// One URLhaus bulk submission of `iocs` (URLs), or `None` when there are none.
pub fn urlhaus(cfg: &ConnectorConfig, iocs: &[Ioc]) -> Option<Request> {
    let submission: Vec<Value> = iocs
        .iter()
        .filter(|i| i.kind == IndicatorKind::Url)
        .map(|i| json!({"url": i.value, "threat": "malware_download", "tags": tags(cfg, i)}))
        .collect();
    if submission.is_empty() {
        return None;
    }
    let items = submission.len();
    let body = json!({
        "token": cfg.api_key.clone().unwrap_or_default(),
        "anonymous": if cfg.anonymous { "1" } else { "0" },
        "submission": submission,
    });
    Some(json_request(cfg, body, items))
}

/// ThreatFox's `ioc_type` and `threat_type` for a kind, or `None` when it takes no such IOC.
pub fn threatfox_types(kind: IndicatorKind) -> Option<(&'static str, &'static str)> {
    match kind {
        IndicatorKind::Url => Some(("url", "payload_delivery")),
        IndicatorKind::Domain => Some(("domain", "payload_delivery")),
        IndicatorKind::Sha256 => Some(("sha256_hash", "payload")),
        _ => None,
    }
}

/// The ThreatFox `malware` value: a Malpedia name (`win.emotet`) when the campaign's first
/// family is one, else [`THREATFOX_UNKNOWN`] (our family names are analysis tags; the family
/// still travels as a tag).
pub fn threatfox_malware(ioc: &Ioc) -> String {
    const PLATFORMS: [&str; 10] = [
        "win", "elf", "osx", "apk", "jar", "js", "ps1", "vbs", "py", "php",
    ];
    match ioc.family() {
        Some(f)
            if f.split_once('.').is_some_and(|(p, n)| {
                PLATFORMS.contains(&p)
                    && !n.is_empty()
                    && n.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            }) =>
        {
            f.to_owned()
        }
        _ => THREATFOX_UNKNOWN.to_owned(),
    }
}

/// What every IOC of one ThreatFox request shares: IOC type, threat type, malware, confidence.
type ThreatfoxGroup = (&'static str, &'static str, String, u8);

/// ThreatFox submissions for `iocs`: one per group of equal type, family and confidence, at
/// most `cfg.batch()` IOCs each.
pub fn threatfox(cfg: &ConnectorConfig, iocs: &[Ioc]) -> Vec<Request> {
    let mut groups: BTreeMap<ThreatfoxGroup, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for ioc in iocs {
        let Some((ioc_type, threat_type)) = threatfox_types(ioc.kind) else {
            continue;
        };
        let key = (
            ioc_type,
            threat_type,
            threatfox_malware(ioc),
            ioc.confidence,
        );
        let (values, tag_list) = groups.entry(key).or_default();
        if !values.contains(&ioc.value) {
            values.push(ioc.value.clone());
        }
        for t in tags(cfg, ioc) {
            if !tag_list.contains(&t) && tag_list.len() < MAX_SUBMIT_TAGS {
                tag_list.push(t);
            }
        }
    }
    let mut out = Vec::new();
    for ((ioc_type, threat_type, malware, confidence), (values, tag_list)) in groups {
        for chunk in values.chunks(cfg.batch().max(1)) {
            let body = json!({
                "query": "submit_ioc",
                "threat_type": threat_type,
                "ioc_type": ioc_type,
                "malware": malware,
                "confidence_level": confidence,
                "reference": "",
                "comment": "seen in mail caught by a spamtrap (spamhattan)",
                "anonymous": u8::from(cfg.anonymous),
                "tags": tag_list,
                "iocs": chunk,
            });
            out.push(json_request(cfg, body, chunk.len()));
        }
    }
    out
}

/// A file name safe for a multipart header: the policy's (redacted) name, ASCII printable
/// without quotes, else the SHA-256.
pub fn upload_name(ioc: &Ioc) -> String {
    let declared = ioc
        .file
        .as_ref()
        .and_then(|f| f.name.as_deref())
        .unwrap_or("");
    let clean: String = declared
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .filter(|c| !matches!(c, '"' | '\\' | '/'))
        .take(MAX_FILE_NAME)
        .collect();
    let clean = clean.trim().to_owned();
    if clean.is_empty() {
        ioc.value.clone()
    } else {
        clean
    }
}

/// One MalwareBazaar upload of `data`, the file whose SHA-256 is `ioc.value`.
pub fn malwarebazaar(cfg: &ConnectorConfig, ioc: &Ioc, data: &[u8]) -> Request {
    let json_data = json!({
        "anonymous": u8::from(cfg.anonymous),
        "delivery_method": DELIVERY_EMAIL_ATTACHMENT,
        "tags": tags(cfg, ioc),
        "context": {"comment": "attachment of mail caught by a spamtrap (spamhattan)"},
    });
    let name = upload_name(ioc);
    let boundary = boundary(data);
    let mut body = Vec::with_capacity(data.len() + 1024);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"json_data\"\r\n\r\n{json_data}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Request {
        path: None,
        content_type: format!("multipart/form-data; boundary={boundary}"),
        headers: headers(cfg),
        body,
        summary: json!({
            "json_data": json_data,
            "file": {"name": name, "size": data.len(), "sha256": ioc.value},
        }),
        items: 1,
    }
}

/// A multipart boundary that cannot occur in `data`: derived from its hash, lengthened until
/// absent (a collision needs the file to contain the boundary, checked, not assumed).
fn boundary(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let mut b = format!("spamhattan-{}", &hex[..24]);
    let mut extra = 24;
    while contains(data, b.as_bytes()) {
        extra = (extra + 8).min(hex.len());
        b = format!("spamhattan-{}-{}", &hex[..extra], b.len());
    }
    b
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Lower-case hex SHA-256 of `data` (to match a stored attachment against a `sha256` IOC).
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
