//! The NATS subjects of the bus: `<prefix>.capture.<sensor>`, `<prefix>.session.<sensor>` and
//! `<prefix>.dead.<reason>`.
//!
//! The sensor id is the last token so a server permission can pin each sensor to its own two
//! subjects; the collector then holds the subject, not the payload, as the truth about who
//! published (see [`crate::wire::WireError::SensorMismatch`]).

use model::valid_sensor_id;

/// Longest dead-letter reason token.
const MAX_REASON_TOKEN: usize = 32;

/// Whether a payload came on a capture or a session subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    Capture,
    Session,
}

/// Builds and parses the subjects under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subjects {
    prefix: String,
}

impl Subjects {
    /// Subjects under `prefix` (one or more `.`-separated tokens, see [`valid_prefix`]).
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where `sensor` publishes its captures.
    pub fn capture(&self, sensor: &str) -> String {
        format!("{}.capture.{sensor}", self.prefix)
    }

    /// Where `sensor` publishes its session records.
    pub fn session(&self, sensor: &str) -> String {
        format!("{}.session.{sensor}", self.prefix)
    }

    /// Where refused payloads go; `reason` is reduced to a token by [`reason_token`].
    pub fn dead(&self, reason: &str) -> String {
        format!("{}.dead.{}", self.prefix, reason_token(reason))
    }

    /// Every sensor's captures: one subject of the main stream.
    pub fn all_captures(&self) -> String {
        format!("{}.capture.*", self.prefix)
    }

    /// Every sensor's sessions: the other subject of the main stream.
    pub fn all_sessions(&self) -> String {
        format!("{}.session.*", self.prefix)
    }

    /// Every dead letter: the subject of the dead-letter stream.
    pub fn all_dead(&self) -> String {
        format!("{}.dead.*", self.prefix)
    }

    /// The kind and sensor id of a capture or session subject under this prefix; `None` for
    /// anything else, including a last token that is not a valid sensor id.
    pub fn parse<'a>(&self, subject: &'a str) -> Option<(SubjectKind, &'a str)> {
        let rest = subject
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('.')?;
        let (kind, sensor) = rest.split_once('.')?;
        let kind = match kind {
            "capture" => SubjectKind::Capture,
            "session" => SubjectKind::Session,
            _ => return None,
        };
        valid_sensor_id(sensor).then_some((kind, sensor))
    }

    /// The sensor id of a capture or session subject.
    pub fn sensor_of<'a>(&self, subject: &'a str) -> Option<&'a str> {
        self.parse(subject).map(|(_, sensor)| sensor)
    }
}

impl Default for Subjects {
    fn default() -> Self {
        Self::new(crate::config::DEFAULT_PREFIX)
    }
}

/// `true` for a prefix of one or more non-empty tokens of `[A-Za-z0-9_-]` separated by `.`,
/// so no wildcard or white space can reach a subject and the prefix cannot end in a `.`.
pub fn valid_prefix(prefix: &str) -> bool {
    prefix.len() <= 128 && prefix.split('.').all(valid_sensor_id)
}

/// The subject token of a dead-letter reason: its first word (up to `:` or white space),
/// lower-cased, anything outside `[a-z0-9_-]` replaced by `-`, at most 32 characters;
/// `other` when nothing is left. [`crate::wire::WireError`]'s `Display` starts with such a
/// word, so `dead_letter(&err.to_string())` files it under `dead.truncated`, `dead.json`, ...
pub fn reason_token(reason: &str) -> String {
    let token: String = reason
        .split(|c: char| c == ':' || c.is_whitespace())
        .next()
        .unwrap_or_default()
        .chars()
        .take(MAX_REASON_TOKEN)
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if token.is_empty() {
        "other".into()
    } else {
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_put_the_sensor_last() {
        let s = Subjects::default();
        assert_eq!(s.capture("bank-nl"), "spamhattan.capture.bank-nl");
        assert_eq!(s.session("bank-nl"), "spamhattan.session.bank-nl");
        assert_eq!(s.dead("truncated: cut"), "spamhattan.dead.truncated");
    }

    #[test]
    fn parse_reads_only_well_formed_subjects_under_the_prefix() {
        let s = Subjects::new("t.x");
        assert_eq!(
            s.parse("t.x.capture.a_1"),
            Some((SubjectKind::Capture, "a_1"))
        );
        assert_eq!(s.parse("t.x.session.b"), Some((SubjectKind::Session, "b")));
        assert_eq!(s.sensor_of("t.x.capture.a_1"), Some("a_1"));
        for bad in [
            "t.x.capture",
            "t.x.capture.",
            "t.x.capture.a.b",
            "t.x.dead.a",
            "t.xy.capture.a",
            "u.x.capture.a",
            "t.x.capture.*",
        ] {
            assert_eq!(s.parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn prefixes_cannot_hold_wildcards_or_empty_tokens() {
        assert!(valid_prefix("spamhattan"));
        assert!(valid_prefix("org.spamhattan-test_1"));
        for bad in ["", "a.", ".a", "a..b", "a.*", "a.>", "a b"] {
            assert!(!valid_prefix(bad), "{bad}");
        }
    }

    #[test]
    fn reason_tokens_are_single_safe_tokens() {
        assert_eq!(
            reason_token("sensor-mismatch: sensor a ..."),
            "sensor-mismatch"
        );
        assert_eq!(reason_token("Store Refused"), "store");
        assert_eq!(reason_token("a.b*>c"), "a-b--c");
        assert_eq!(reason_token(""), "other");
        assert_eq!(reason_token(":x"), "other");
        assert_eq!(reason_token(&"y".repeat(100)).len(), 32);
    }
}
