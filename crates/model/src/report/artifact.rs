//! Attachments and every object found inside them.

use super::document::{HtmlInfo, LnkInfo, OfficeInfo, PdfInfo};
use serde::{Deserialize, Serialize};

/// Cryptographic and fuzzy digests of one object, lower-case hex (ssdeep/TLSH in their own
/// formats; TLSH is absent for inputs too short or too uniform to hash).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hashes {
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
    pub ssdeep: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlsh: Option<String>,
}

/// One object: an attachment, or something extracted from one (archive entry, embedded file,
/// OLE object). Objects form a tree through `parent`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// Index in `Report::artifacts`.
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<u32>,
    /// 0 for attachments of the message.
    pub depth: u32,
    /// Names from the message down to this object: `invoice.zip/invoice.iso/invoice.lnk`.
    pub path: String,
    /// Name as declared (MIME filename, archive entry name), decoded, unchanged otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// MIME type as declared by the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_type: Option<String>,
    /// Type by content (`zip`, `ooxml-word`, `ole-doc`, `pdf`, `lnk`, `pe`, `script-js`, ...).
    pub kind: String,
    pub size: u64,
    pub hashes: Hashes,
    /// The object (or the container it came from) is encrypted.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub encrypted: bool,
    /// The password that opened it, when one did (found in the body or from the default list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Name tricks: `double-extension`, `rtlo`, `whitespace-padding`, `type-mismatch`, ...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name_tricks: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<OfficeInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pdf: Option<PdfInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lnk: Option<LnkInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<HtmlInfo>,
}
