//! The cyber observables (SCOs) of an indicator: `url`, `domain-name`, `ipv4-addr`,
//! `ipv6-addr`, `email-addr`, or `file` with its hashes.
//!
//! Only what the schema accepts is written: a hash that does not have its algorithm's shape
//! is left out (the validator would reject the whole bundle), TLSH is the 70-hex form without
//! the `T1` version prefix, and `mime_type` only when it is an IANA-registered type (the
//! validator's strict mode checks the registry; declared types like
//! `application/x-zip-compressed` are not registered). Values the STIX schema's formats
//! refuse (a URL that is not an RFC 3986 URI, an address outside the validator's e-mail
//! shape, a domain that is not a host name) get no observable: the indicator's pattern still
//! carries them exactly (see `shape.rs`). Trap data never gets here: no recipients,
//! `to_refs`, `received_lines` or raw messages.

use super::ids::{Jcs, file_sco_id, sco_id, value_sco_id};
use super::json::Props;
use super::pattern::{ip_type, sha256_hex};
use super::shape;
use crate::intel::policy::Ioc;
use model::intel::FileFacts;
use model::report::IndicatorKind;

/// Longest file name published (longer ones are clipped to this many characters).
pub const MAX_FILE_NAME_CHARS: usize = 255;

/// IANA-registered media types common in malspam, matched case-insensitively. Checked
/// against the registry copy shipped with stix2-validator.
const REGISTERED_MIME: [&str; 29] = [
    "application/zip",
    "application/gzip",
    "application/vnd.rar",
    "application/java-archive",
    "application/vnd.ms-cab-compressed",
    "application/octet-stream",
    "application/pdf",
    "application/rtf",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "application/vnd.ms-excel.sheet.macroEnabled.12",
    "application/vnd.ms-word.document.macroEnabled.12",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.microsoft.portable-executable",
    "application/vnd.ms-htmlhelp",
    "application/javascript",
    "application/xml",
    "message/rfc822",
    "text/html",
    "text/plain",
    "text/javascript",
    "text/xml",
    "text/csv",
    "image/png",
    "image/jpeg",
];

/// One observable: its id and its JSON object (as text).
#[derive(Debug, Clone)]
pub struct Observable {
    pub id: String,
    pub kind: &'static str,
    pub json: String,
}

/// The observables of `ioc` (none for a kind STIX does not carry, a value the schema
/// refuses, or a malformed hash).
pub fn observables(ioc: &Ioc) -> Vec<Observable> {
    let marking = ioc.tlp.stix_marking_id();
    let v = ioc.value.as_str();
    let obs = match ioc.kind {
        IndicatorKind::Url if shape::is_uri(v) => value_object("url", v, marking),
        IndicatorKind::Domain if shape::is_hostname(v) => value_object("domain-name", v, marking),
        IndicatorKind::Ip if shape::is_ip(v) => value_object(ip_type(v), v, marking),
        IndicatorKind::Email if shape::is_email(v) => {
            // The address, and the message it sent: an `email-message` whose `from_ref` is
            // the address (never `to_refs`: those would be the trap's).
            let addr = value_object("email-addr", v, marking);
            let message = email_message(&addr.id, marking);
            return vec![addr, message];
        }
        IndicatorKind::Sha256 => match file_object(&ioc.value, ioc.file.as_ref(), marking) {
            Some(o) => o,
            None => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    vec![obs]
}

fn value_object(kind: &'static str, value: &str, marking: &str) -> Observable {
    let id = value_sco_id(kind, value);
    let json = Props::with_capacity(256)
        .plain("type", kind)
        .plain("spec_version", "2.1")
        .plain("id", &id)
        .str("value", value)
        .strs("object_marking_refs", &[marking])
        .object();
    Observable { id, kind, json }
}

/// An `email-message` sent from `from`: not multipart, no body, no recipients.
fn email_message(from: &str, marking: &str) -> Observable {
    let id = sco_id("email-message", vec![("from_ref", Jcs::Str(from))]);
    let json = Props::with_capacity(256)
        .plain("type", "email-message")
        .plain("spec_version", "2.1")
        .plain("id", &id)
        .bool("is_multipart", false)
        .plain("from_ref", from)
        .strs("object_marking_refs", &[marking])
        .object();
    Observable {
        id,
        kind: "email-message",
        json,
    }
}

fn hex_of_len(v: &str, len: usize) -> Option<String> {
    let v = v.trim();
    (v.len() == len && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

/// SSDEEP as the schema wants it: `^[a-zA-Z0-9/+:.]{1,128}$`.
fn ssdeep(v: &str) -> Option<String> {
    let v = v.trim();
    let ok = (1..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/+:.".contains(&b));
    ok.then(|| v.to_string())
}

/// TLSH in its STIX form: 70 hex digits, the `T1` version prefix of current libraries removed.
pub fn tlsh70(v: &str) -> Option<String> {
    let v = v.trim();
    let v = if v.len() == 72 {
        v.strip_prefix("T1").or(v.strip_prefix("t1"))?
    } else {
        v
    };
    hex_of_len(v, 70).map(|h| h.to_ascii_uppercase())
}

/// The registered spelling of a declared MIME type, or `None`.
pub fn registered_mime(declared: &str) -> Option<&'static str> {
    let essence = declared.split(';').next().unwrap_or("").trim();
    REGISTERED_MIME
        .into_iter()
        .find(|m| m.eq_ignore_ascii_case(essence))
}

fn file_object(sha256: &str, facts: Option<&FileFacts>, marking: &str) -> Option<Observable> {
    let sha256 = sha256_hex(sha256)?;
    // Output order; the id takes MD5 if present (see `file_sco_id`).
    let mut hashes: Vec<(&'static str, String)> = Vec::new();
    if let Some(f) = facts {
        hashes.extend(hex_of_len(&f.md5, 32).map(|h| ("MD5", h)));
        hashes.extend(hex_of_len(&f.sha1, 40).map(|h| ("SHA-1", h)));
    }
    hashes.push(("SHA-256", sha256));
    if let Some(f) = facts {
        hashes.extend(hex_of_len(&f.sha512, 128).map(|h| ("SHA-512", h)));
        hashes.extend(ssdeep(&f.ssdeep).map(|h| ("SSDEEP", h)));
        hashes.extend(f.tlsh.as_deref().and_then(tlsh70).map(|h| ("TLSH", h)));
    }
    let name: Option<String> = facts
        .and_then(|f| f.name.as_deref())
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(MAX_FILE_NAME_CHARS).collect());
    let pairs: Vec<(&str, &str)> = hashes.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let id = file_sco_id(&pairs, name.as_deref());
    let hashes = pairs
        .iter()
        .fold(Props::new(), |p, (k, v)| p.str(k, v))
        .object();
    let mut p = Props::new()
        .str("type", "file")
        .str("spec_version", "2.1")
        .str("id", &id)
        .raw("hashes", &hashes);
    if let Some(f) = facts {
        p = p.num("size", f.size);
        if let Some(mime) = f.mime.as_deref().and_then(registered_mime) {
            p = p.str("mime_type", mime);
        }
    }
    if let Some(n) = &name {
        p = p.str("name", n);
    }
    let json = p.strs("object_marking_refs", &[marking]).object();
    Some(Observable {
        id,
        kind: "file",
        json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlsh_loses_its_version_prefix_and_bad_hashes_are_dropped() {
        let t1 = "T18411D8E80CEBA2EDDD21E7F0D133CBE202D7E831680EC52F549609810F228E32825249";
        assert_eq!(tlsh70(t1).as_deref(), Some(&t1[2..]));
        assert_eq!(tlsh70(&t1[2..]).as_deref(), Some(&t1[2..]));
        assert_eq!(tlsh70("TNULL"), None);
        assert_eq!(ssdeep("3:a b:c"), None);
        assert_eq!(hex_of_len("xyz", 3), None);
    }

    #[test]
    fn only_registered_mime_types_are_published() {
        assert_eq!(
            registered_mime("Application/ZIP; name=x.zip"),
            Some("application/zip")
        );
        assert_eq!(registered_mime("application/x-zip-compressed"), None);
        assert_eq!(registered_mime(""), None);
    }
}
