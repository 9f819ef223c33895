//! Alerts: what the early-warning rules raise and the alert sinks deliver (never by mail).
//!
//! An alert is stored (with one delivery per configured receiver) in the same transaction as
//! the campaign change that raised it, so none is lost across restarts; `dedup_key` makes a
//! rule fire once per campaign (or once per window for volume rules).

use crate::report::Indicator;
use crate::{Timestamp, campaign::CampaignId};
use serde::{Deserialize, Serialize};

/// How urgent an alert is; receivers can filter on a minimum.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Syslog severity (RFC 5424 numeric: 2 critical ... 6 informational).
    pub fn syslog(self) -> u8 {
        match self {
            Severity::Critical => 2,
            Severity::High => 3,
            Severity::Medium => 4,
            Severity::Low => 5,
            Severity::Info => 6,
        }
    }
}

/// One piece of evidence behind an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What it is (`messages`, `sources`, `yara`, `payload-kind`, `watched-domain`...).
    pub what: String,
    pub detail: String,
    /// The message (SHA-256) it was seen in, when one message shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An alert raised by an early-warning rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// UUIDv7; receivers see it as `webhook-id` and can deduplicate on it.
    pub id: uuid::Uuid,
    /// The rule id from the rules file (`new-malicious-campaign`, ...).
    pub rule: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<CampaignId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub campaign_uuid: Option<uuid::Uuid>,
    /// One line for chat and syslog.
    pub title: String,
    /// A few lines for humans.
    pub summary: String,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// Indicators to act on (bounded).
    #[serde(default)]
    pub indicators: Vec<Indicator>,
    /// Arrival time of the message that satisfied the rule (time to alert is measured from it).
    #[serde(with = "time::serde::rfc3339")]
    pub triggered_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    /// The rule fires once per key: `rule/campaign` or `rule/campaign/window`.
    pub dedup_key: String,
}
