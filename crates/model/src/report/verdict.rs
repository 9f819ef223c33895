//! The verdict: a class, a score and the reasons that produced them.

use serde::{Deserialize, Serialize};

/// What the message is, in the words analysts use.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictClass {
    Spam,
    Phishing,
    Malware,
    RansomwareDelivery,
    Scam,
    Benign,
    #[default]
    Unknown,
}

impl VerdictClass {
    pub const ALL: [VerdictClass; 7] = [
        VerdictClass::Spam,
        VerdictClass::Phishing,
        VerdictClass::Malware,
        VerdictClass::RansomwareDelivery,
        VerdictClass::Scam,
        VerdictClass::Benign,
        VerdictClass::Unknown,
    ];

    /// The kebab-case name used in JSON and rules.
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictClass::Spam => "spam",
            VerdictClass::Phishing => "phishing",
            VerdictClass::Malware => "malware",
            VerdictClass::RansomwareDelivery => "ransomware-delivery",
            VerdictClass::Scam => "scam",
            VerdictClass::Benign => "benign",
            VerdictClass::Unknown => "unknown",
        }
    }
}

/// The verdict of one message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub class: VerdictClass,
    /// Sum of the weights of the rules that fired for the winning class (0–100, capped).
    pub score: u32,
    pub reasons: Vec<Reason>,
}

/// A rule that fired.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub rule: String,
    pub class: VerdictClass,
    pub weight: u32,
    pub description: String,
    /// Locations of the findings that satisfied the rule.
    pub evidence: Vec<String>,
}
