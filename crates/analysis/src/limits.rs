//! Named limits of the analysis. Every quantity an attacker controls has one; reaching it is
//! recorded (`budget.limits_hit` and a `limit-reached` anomaly) and the rest of the report stands.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Per-message analysis limits. Defaults are sized so that every message of a 6,600-mail real
/// phishing corpus is analysed completely while a bomb costs at most a few hundred MiB and a
/// few seconds of one core.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Nesting of objects (zip in iso in zip...). Real droppers use 2–4 levels; 8 leaves room
    /// without letting a quine-like archive recurse for ever.
    pub max_depth: u32,
    /// Objects (attachments plus everything extracted) per message.
    pub max_objects: u32,
    /// Entries read from one container; the rest are counted, not extracted.
    pub max_entries: u32,
    /// Decoded size of one object. Larger entries are skipped (and flagged): malspam payloads
    /// are small, bombs are not.
    pub max_object_bytes: u64,
    /// Decoded bytes of all objects of one message together: the memory budget.
    pub max_total_bytes: u64,
    /// Uncompressed/compressed ratio above which an entry counts as a bomb (zip bombs reach
    /// 1000:1 and more; text compresses to ~10:1, sparse office XML to ~100:1).
    pub max_ratio: u64,
    /// MIME parts per message.
    pub max_mime_parts: u32,
    /// Distinct URLs kept per message.
    pub max_urls: u32,
    /// Characters of body text analysed per part (language, hashing, URL extraction).
    pub max_text_chars: u32,
    /// Bytes of VBA source kept per module in the report.
    pub max_vba_code_bytes: u32,
    /// Wall-clock budget for one message; checked between objects and passed to YARA.
    #[serde(with = "millis")]
    pub time_budget: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 8,
            max_objects: 1_000,
            max_entries: 500,
            max_object_bytes: 64 << 20,
            max_total_bytes: 256 << 20,
            max_ratio: 250,
            max_mime_parts: 500,
            max_urls: 2_000,
            max_text_chars: 2 << 20,
            max_vba_code_bytes: 256 << 10,
            time_budget: Duration::from_secs(10),
        }
    }
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
