//! Indicators: the searchable, shareable values of a report.

use serde::{Deserialize, Serialize};

/// Kinds of indicator the store indexes with first/last seen and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndicatorKind {
    Url,
    Domain,
    Ip,
    Email,
    Md5,
    Sha1,
    Sha256,
    Filename,
    Yara,
}

impl IndicatorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Url => "url",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Ip => "ip",
            IndicatorKind::Email => "email",
            IndicatorKind::Md5 => "md5",
            IndicatorKind::Sha1 => "sha1",
            IndicatorKind::Sha256 => "sha256",
            IndicatorKind::Filename => "filename",
            IndicatorKind::Yara => "yara",
        }
    }

    /// Every kind, in the order lists and documents show them.
    pub const ALL: [IndicatorKind; 9] = [
        IndicatorKind::Url,
        IndicatorKind::Domain,
        IndicatorKind::Ip,
        IndicatorKind::Email,
        IndicatorKind::Md5,
        IndicatorKind::Sha1,
        IndicatorKind::Sha256,
        IndicatorKind::Filename,
        IndicatorKind::Yara,
    ];

    pub fn parse(s: &str) -> Option<IndicatorKind> {
        IndicatorKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One indicator of one message, with the location it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Indicator {
    pub kind: IndicatorKind,
    pub value: String,
    pub at: String,
}
