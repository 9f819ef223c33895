//! Intel as the store hands it to the feed exporters: indicator rows with their statistics
//! and campaign briefs. The sharing policy (TLP, confidence, expiry, pseudonymisation) and the
//! formats live in `feeds::intel`; this module only carries the facts.

use crate::report::IndicatorKind;
use crate::{CampaignId, Timestamp, VerdictClass};
use serde::{Deserialize, Serialize};

/// The other facts of a file indicator (kind `sha256`), from the report that first saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    pub md5: String,
    pub sha1: String,
    #[serde(default)]
    pub sha512: String,
    #[serde(default)]
    pub ssdeep: String,
    /// TLSH as the analysis prints it (`T1` + 70 hex), when the file was long enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlsh: Option<String>,
    pub size: u64,
    /// Type by content (`zip`, `lnk`, `script-js`, ...).
    pub kind: String,
    /// MIME type as the message declared it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Name as declared (attachment file name or archive entry name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Kinds from the message down to this file: `zip>script-js`, `iso>lnk`.
    #[serde(default)]
    pub chain: String,
}

/// One indicator of the store's index, as feeds read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndicatorRow {
    /// Store row id: stable for the life of the store, a tie-breaker for paging.
    pub id: i64,
    /// Random UUIDv4 given at first insert, with its last 4 bits zero: the STIX indicator id.
    /// Objects derived from the indicator (relationships, observed data, sighting) take the
    /// same bits with another value in the last 4 ("slots", see `feeds::intel::stix::ids`), so
    /// a TAXII lookup by id finds the row again.
    pub uuid: uuid::Uuid,
    pub kind: IndicatorKind,
    pub value: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: Timestamp,
    /// Distinct sightings it appeared in.
    pub count: u64,
    /// When the row last changed in the store (new sighting, new campaign): the feed's
    /// "date added" for deltas and TAXII paging. Monotonic per store.
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: Timestamp,
    /// The campaign it was first seen in (after merges: the surviving campaign).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignId>,
    /// For `sha256` indicators: the other hashes and the file's facts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileFacts>,
}

/// What feeds need to know about a campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignBrief {
    pub id: CampaignId,
    pub uuid: uuid::Uuid,
    /// The analyst's label, or empty.
    #[serde(default)]
    pub label: String,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: Timestamp,
    pub messages: u64,
    pub verdict: VerdictClass,
    /// Malware family tags, most frequent first.
    #[serde(default)]
    pub families: Vec<String>,
    /// YARA rules that matched its messages, most frequent first.
    #[serde(default)]
    pub yara: Vec<String>,
    /// Subject templates, most frequent first (may hold trap addresses: feeds pseudonymise).
    #[serde(default)]
    pub subjects: Vec<String>,
    /// Sending networks and HELO names, most frequent first (bounded).
    #[serde(default)]
    pub source_ips: Vec<String>,
    #[serde(default)]
    pub helos: Vec<String>,
    #[serde(default)]
    pub sender_domains: Vec<String>,
    /// Attachment kinds (`zip`, `lnk`, ...), most frequent first.
    #[serde(default)]
    pub attachment_kinds: Vec<String>,
    /// When the campaign's record last changed (new message, merge, label).
    #[serde(with = "time::serde::rfc3339")]
    pub changed_at: Timestamp,
}
