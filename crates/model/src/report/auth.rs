//! Sender authentication results (SPF, DKIM, DMARC, ARC).

use serde::{Deserialize, Serialize};

/// Result words follow RFC 8601 (`pass`, `fail`, `softfail`, `neutral`, `none`, `temperror`,
/// `permerror`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResult {
    pub result: String,
    /// The domain or identity the result is about.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// One DKIM signature's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimResult {
    pub result: String,
    pub domain: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub selector: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// DMARC result with the published policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcResult {
    pub result: String,
    pub domain: String,
    /// `none`, `quarantine`, `reject` or empty when no record.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub policy: String,
}

/// All authentication results of one message, as evaluated for its envelope and peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResults {
    pub spf: AuthResult,
    #[serde(default)]
    pub dkim: Vec<DkimResult>,
    pub dmarc: DmarcResult,
    pub arc: AuthResult,
}
