//! Traffic Light Protocol 2.0: the levels, their order and their fixed STIX and MISP forms.

use serde::{Deserialize, Serialize};

/// A TLP 2.0 level. The order is "how restricted": `Clear < Green < Amber < AmberStrict < Red`,
/// so an audience with ceiling `Amber` may read everything `<= Amber`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tlp {
    #[serde(rename = "clear", alias = "white")]
    Clear,
    #[serde(rename = "green")]
    Green,
    #[serde(rename = "amber")]
    Amber,
    #[serde(rename = "amber+strict")]
    AmberStrict,
    #[serde(rename = "red")]
    Red,
}

impl Tlp {
    pub const ALL: [Tlp; 5] = [
        Tlp::Clear,
        Tlp::Green,
        Tlp::Amber,
        Tlp::AmberStrict,
        Tlp::Red,
    ];

    /// The lower-case name (`clear`, `amber+strict`): config values, MISP tags, CSV columns.
    pub fn as_str(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }

    pub fn parse(s: &str) -> Option<Tlp> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix("tlp:").unwrap_or(&s);
        if s == "white" {
            return Some(Tlp::Clear);
        }
        Tlp::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The STIX marking-definition name: `TLP:CLEAR`, `TLP:AMBER+STRICT`.
    pub fn stix_name(self) -> String {
        format!("TLP:{}", self.as_str().to_ascii_uppercase())
    }

    /// The fixed id of the OASIS TLP 2.0 marking definition (cti-stix-common-objects). Many
    /// copies online carry TLP 1.0 ids or typos; these are checked against the OASIS list.
    pub fn stix_marking_id(self) -> &'static str {
        match self {
            Tlp::Clear => "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
            Tlp::Green => "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
            Tlp::Amber => "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
            Tlp::AmberStrict => "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
            Tlp::Red => "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
        }
    }

    /// The MISP taxonomy tag: `tlp:clear`, `tlp:amber+strict`.
    pub fn misp_tag(self) -> String {
        format!("tlp:{}", self.as_str())
    }
}

impl std::fmt::Display for Tlp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
