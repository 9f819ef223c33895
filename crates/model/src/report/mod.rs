//! The analysis report: what one message is, as the analysis engine understood it.
//!
//! A [`Report`] is produced by `analysis::Engine::analyze` from the raw bytes (and, when known,
//! the envelope and the enrichment results), stored as JSON by the store and served as-is by the
//! CLI, the API and `spamhattan analyze`. Its format is a contract documented in `docs/REPORT.md`;
//! [`REPORT_SCHEMA`] is bumped when a field changes meaning or disappears.
//!
//! Places in a report are named by *locations*: short JSON-path-like strings such as
//! `headers.reply_to`, `bodies[1]`, `artifacts[3]` or `urls[0]`. Findings, anomalies and verdict
//! reasons use them to point at their evidence.
//!
//! Layout: `headers.rs` (decoded headers, Received chain), `body.rs` (text parts), `url.rs`
//! (URLs), `artifact.rs` (attachments and everything inside them), `document.rs` (Office, PDF,
//! LNK, HTML details), `auth.rs` (SPF/DKIM/DMARC/ARC), `verdict.rs` (class, score, reasons),
//! `indicator.rs` (the indexed indicators).

mod artifact;
mod auth;
mod body;
mod document;
mod headers;
mod indicator;
mod url;
mod verdict;

pub use artifact::{Artifact, Hashes};
pub use auth::{AuthResult, AuthResults, DkimResult, DmarcResult};
pub use body::BodyPart;
pub use document::{HtmlForm, HtmlInfo, LnkInfo, MacroKeyword, OfficeInfo, PdfInfo, VbaModule};
pub use headers::{Headers, Hop, Mailbox, Origin};
pub use indicator::{Indicator, IndicatorKind};
pub use url::UrlRecord;
pub use verdict::{Reason, Verdict, VerdictClass};

use crate::{AnomalyKind, MessageId};
use serde::{Deserialize, Serialize};

/// Version of the report format; see `docs/REPORT.md`.
pub const REPORT_SCHEMA: u32 = 1;

/// Everything the analysis found in one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    /// Engine and rule-set versions that produced this report, e.g. `spamhattan 0.1.0 rules 3f2a…`.
    pub engine: String,
    pub message_id: MessageId,
    pub size: u64,
    pub headers: Headers,
    #[serde(default)]
    pub bodies: Vec<BodyPart>,
    #[serde(default)]
    pub urls: Vec<UrlRecord>,
    #[serde(default)]
    pub artifacts: Vec<Artifact>,
    /// `None` when authentication was not evaluated (offline analysis, resolver switched off).
    #[serde(default)]
    pub auth: Option<AuthResults>,
    /// Signature hits (YARA rules, ClamAV signatures), per object.
    #[serde(default)]
    pub scans: Vec<ScanHit>,
    /// Facts the rules score: each names a signal, where it was seen and a short detail.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Deduplicated indicators of this message (never trap addresses: see `trap_addresses`).
    #[serde(default)]
    pub indicators: Vec<Indicator>,
    /// Recipient (trap) addresses seen in the envelope or headers: trap data, never indicators.
    #[serde(default)]
    pub trap_addresses: Vec<String>,
    #[serde(default)]
    pub anomalies: Vec<ReportAnomaly>,
    pub verdict: Verdict,
    pub budget: BudgetUse,
}

/// One fact about the message that verdict rules can score (`office.macro.autoexec`,
/// `url.ip-literal`, `header.reply-to-elsewhere`, `yara.<rule>`...). The signal names are listed
/// in `docs/REPORT.md`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub signal: String,
    /// Location of the evidence (`artifacts[2]`, `headers.from`, ...).
    pub at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// A signature match by a scanning engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanHit {
    /// `yara` or `clamav`.
    pub engine: String,
    /// Rule or signature name.
    pub rule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Location of the scanned object: `message` or `artifacts[N]`.
    pub at: String,
}

/// Something in the content that a well-formed message would not have, or a limit the analysis
/// hit. The rest of the report stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAnomaly {
    pub kind: AnomalyKind,
    pub at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What the analysis of this message cost, and whether a budget cut it short.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BudgetUse {
    /// Wall-clock time spent in the engine (varies run to run; golden tests zero it).
    pub elapsed_us: u64,
    /// Objects examined (the message, its parts and every artefact).
    pub objects: u32,
    /// Bytes of decoded or decompressed content examined.
    pub bytes: u64,
    /// Named limits that were reached (`max_depth`, `max_total_bytes`, `time_budget`...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limits_hit: Vec<String>,
}
