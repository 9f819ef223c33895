//! Text parts of the message.

use serde::{Deserialize, Serialize};

/// One text or HTML body part, decoded to Unicode.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyPart {
    /// MIME part number in the message (`0` = the single body, `1.2` nested).
    pub part: String,
    /// `text/plain`, `text/html`, ...
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charset: Option<String>,
    /// ISO 639-1 guess (`nl`, `en`, `de`, ...), `None` when the text is too short to tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Characters of visible text after HTML-to-text.
    pub chars: u64,
    /// First characters of the visible text, for the analyst (bounded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub excerpt: String,
    /// SHA-256 of the normalised text (lower case, digits and URLs folded, whitespace collapsed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized_ssdeep: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalized_tlsh: Option<String>,
    /// MinHash sketch of the normalised text's word 3-shingles: 64 × u32, each as 8 lower-case
    /// hex digits (512 characters); absent when the text has too few shingles. Campaign
    /// clustering compares and indexes it (see `docs/CAMPAIGNS.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minhash: Option<String>,
    /// Tricks that hide or reorder text: `zero-width`, `bidi-override`, `hidden-css`,
    /// `tiny-font`, `same-colour`...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_text: Vec<String>,
}
