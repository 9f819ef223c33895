//! URLs found anywhere in the message.

use serde::{Deserialize, Serialize};

/// One distinct URL, normalised, with where it was found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UrlRecord {
    /// Normalised (WHATWG) form.
    pub url: String,
    /// Defanged for text feeds: `hxxps://evil[.]example/path`.
    pub defanged: String,
    /// Host in ASCII (punycode) form, or the IP literal.
    pub host: String,
    /// Registered domain by the public suffix list; `None` for IP hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_domain: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ip_literal: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub shortener: bool,
    /// Written in an obfuscated form (`hxxp`, `[.]`, percent-encoded host, ...).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub obfuscated: bool,
    /// The URL whose query parameter carried this one (open redirect, tracking wrapper).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unwrapped_from: Option<String>,
    /// Locations it was found at (`bodies[1].href`, `artifacts[2].pdf-uri`, ...), bounded.
    pub sources: Vec<String>,
}
