//! Campaigns: messages grouped as one sending operation, and what the clusterer compares.
//!
//! The clustering algorithm lives in `analysis::cluster` (pure); the campaign index and the
//! campaign records live in the store. This module holds the data both sides exchange:
//! [`Features`] (the compact view of one analysed message the clusterer compares),
//! [`CampaignProfile`] (the bounded summary of a campaign the clusterer compares against) and
//! [`Campaign`] (the record an analyst reads).

use crate::{MessageId, Timestamp, VerdictClass};
use serde::{Deserialize, Serialize};

/// Campaign ids are small sequential numbers an analyst can type (`campaigns show 42`).
pub type CampaignId = i64;

/// One attachment (or a file inside one) as the clusterer sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentFeature {
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tlsh: Option<String>,
    /// Sniffed kind (`zip`, `office-ole`, `lnk`, ...).
    pub kind: String,
    /// Declared name with what varies folded away (`invoice_0000.zip`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_template: Option<String>,
    /// Nesting depth: 0 for a MIME attachment, 1 for a file inside it...
    pub depth: u32,
}

/// The compact view of one analysed message (one sighting) that clustering compares. Made by
/// `analysis::cluster::features` from the report and the sighting; every list is bounded there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    pub message_id: MessageId,
    pub sighting: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: Timestamp,
    pub class: VerdictClass,
    /// SHA-256 of the normalised text of each body.
    #[serde(default)]
    pub body_sha256: Vec<String>,
    /// MinHash sketch of the main body's word shingles (see `docs/CAMPAIGNS.md`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub body_minhash: Vec<u32>,
    #[serde(default)]
    pub body_tlsh: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_template: Option<String>,
    #[serde(default)]
    pub attachments: Vec<AttachmentFeature>,
    /// Registered domains of the message's URLs.
    #[serde(default)]
    pub domains: Vec<String>,
    /// URL host plus path with ids folded away (`evil.example/inv/0/view`).
    #[serde(default)]
    pub url_templates: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helo_pattern: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_mailer: Option<String>,
    /// Envelope sender's domain (lower case), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_domain: Option<String>,
    /// Sending IP: the trusted origin from the Received chain, else the SMTP peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    /// The network of `source_ip` (/24 for IPv4, /48 for IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_net: Option<String>,
    /// HELO/EHLO name as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    /// Domains of the accepted trap recipients.
    #[serde(default)]
    pub trap_domains: Vec<String>,
    /// Which trap caught it: the sensor name (the listener on a single node).
    #[serde(default)]
    pub sensor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Lure findings (`lure.invoice`, ...).
    #[serde(default)]
    pub lures: Vec<String>,
    /// YARA rules that matched anywhere in the message.
    #[serde(default)]
    pub yara: Vec<String>,
    /// Malware family tags (YARA `family_*` tags, ClamAV signature families).
    #[serde(default)]
    pub families: Vec<String>,
    /// The decoded `Subject:` as written (bounded), for watched-brand alert rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The `From:` header as `Display Name <address>` (or just the address, bounded), for
    /// watched-brand alert rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

/// The bounded summary of a campaign that new messages are compared against. Owned and
/// updated by `analysis::cluster`; the store keeps it as JSON and never looks inside.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CampaignProfile {
    /// A few representative MinHash sketches (the first message's, then diverse ones).
    #[serde(default)]
    pub minhashes: Vec<Vec<u32>>,
    #[serde(default)]
    pub body_sha256: Vec<String>,
    #[serde(default)]
    pub body_tlsh: Vec<String>,
    #[serde(default)]
    pub subject_templates: Vec<String>,
    #[serde(default)]
    pub attachment_sha256: Vec<String>,
    #[serde(default)]
    pub attachment_tlsh: Vec<String>,
    /// `kind:name_template` pairs of attachments.
    #[serde(default)]
    pub attachment_shapes: Vec<String>,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub url_templates: Vec<String>,
    #[serde(default)]
    pub helo_patterns: Vec<String>,
    #[serde(default)]
    pub x_mailers: Vec<String>,
    #[serde(default)]
    pub sender_domains: Vec<String>,
    #[serde(default)]
    pub source_nets: Vec<String>,
    /// Messages absorbed (so the clusterer can weigh a one-message campaign differently).
    #[serde(default)]
    pub messages: u64,
}

/// Where a campaign is in its life, judged at read time from its activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CampaignStatus {
    /// First seen recently.
    New,
    /// Still arriving at or above its earlier rate.
    Growing,
    /// Nothing arrived for a while.
    Dormant,
    /// Folded into another campaign (see `merged_into`).
    Merged,
}

impl CampaignStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::New => "new",
            CampaignStatus::Growing => "growing",
            CampaignStatus::Dormant => "dormant",
            CampaignStatus::Merged => "merged",
        }
    }
}

/// One distinct value a campaign showed (a sending IP, a URL, a trap domain...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FacetValue {
    pub value: String,
    pub count: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: Timestamp,
}

/// Messages per hour, for rate-over-time charts and spike rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatePoint {
    #[serde(with = "time::serde::rfc3339")]
    pub hour: Timestamp,
    pub messages: u64,
}

/// A campaign as an analyst reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    /// Stable public id (UUIDv7 at creation): feeds and the API use it.
    pub uuid: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub first_seen: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: Timestamp,
    /// Sightings assigned to it.
    pub messages: u64,
    pub status: CampaignStatus,
    /// The most severe verdict among its messages.
    pub verdict: VerdictClass,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<CampaignId>,
    /// Distinct values per facet (`source_ip`, `helo`, `sender_domain`, `trap_domain`, `sensor`,
    /// `subject_template`, `language`, `url`, `domain`, `attachment_kind`, `attachment_sha256`,
    /// `yara`, `family`, `verdict`), most frequent first, each list bounded.
    #[serde(default)]
    pub facets: std::collections::BTreeMap<String, Vec<FacetValue>>,
    /// Distinct values per facet, including those beyond the stored bound.
    #[serde(default)]
    pub distinct: std::collections::BTreeMap<String, u64>,
    /// Messages per hour, oldest first (bounded).
    #[serde(default)]
    pub rate: Vec<RatePoint>,
}

/// A merge in a campaign's history: `from` was folded into `into`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignMerge {
    pub from: CampaignId,
    pub into: CampaignId,
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// `cluster` (a message matched both) or `analyst`.
    pub by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}
