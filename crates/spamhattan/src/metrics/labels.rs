//! Label values, always from a fixed set. Events carry what the trap saw; a value that is not
//! one of ours becomes `other`, so no client can create series (Prometheus keeps every label
//! combination it ever saw in memory).

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The value used for anything outside the fixed set.
pub const OTHER: &str = "other";

/// Why a session ended: the literals the trap's session loop returns (`trap::session::io`).
const SESSION_ENDS: &[&str] = &[
    "quit",
    "client-closed",
    "idle-timeout",
    "session-timeout",
    "command-deadline",
    "data-too-slow",
    "too-many-errors",
    "too-many-commands",
    "tls-failed",
    "starttls-twice",
    "read-error",
    "write-error",
    "shutdown",
];

/// Refusal reasons per stage, as counted in `spamhattan_smtp_refusals_total`; the zero series
/// registered at start-up.
pub const REFUSALS: &[(&str, &str)] = &[
    ("connect", "total-limit"),
    ("connect", "per-ip-limit"),
    ("rcpt", "unknown-user"),
    ("rcpt", "temp-fail"),
    ("rcpt", "relay-denied"),
    ("rcpt", "too-many"),
    ("rcpt", "syntax"),
    ("data", "store-failed"),
];

/// `end` of `spamhattan.session.closed`.
pub fn session_end(value: Option<&str>) -> &'static str {
    value
        .and_then(|v| SESSION_ENDS.iter().find(|e| **e == v))
        .copied()
        .unwrap_or(OTHER)
}

/// `limit` of `spamhattan.session.refused` (`total` or `per-ip`) as a refusal reason.
pub fn connection_limit(value: Option<&str>) -> &'static str {
    match value {
        Some("total") => "total-limit",
        Some("per-ip") => "per-ip-limit",
        _ => OTHER,
    }
}

/// A refused RCPT's `verdict` as a refusal reason: one of the `rcpt` reasons of [`REFUSALS`].
pub fn rcpt_refusal(value: Option<&str>) -> &'static str {
    value
        .and_then(|v| {
            REFUSALS
                .iter()
                .find(|(stage, reason)| *stage == "rcpt" && *reason == v)
        })
        .map_or(OTHER, |(_, reason)| reason)
}

/// The canonical name of `value` as a `T` (a fieldless enum of the model: `AnomalyKind`,
/// `VerdictClass`, `Severity`), or [`OTHER`]. The set is the enum's, so it is bounded without
/// a second list to keep in step.
pub fn variant<T: DeserializeOwned + Serialize>(value: Option<&str>) -> String {
    let Some(v) = value else {
        return OTHER.to_string();
    };
    match serde_json::from_value::<T>(serde_json::Value::String(v.to_string())) {
        Ok(parsed) => match serde_json::to_value(&parsed) {
            Ok(serde_json::Value::String(name)) => name,
            _ => OTHER.to_string(),
        },
        Err(_) => OTHER.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{AnomalyKind, RcptVerdict, Severity, VerdictClass};

    const HOSTILE: &[&str] = &[
        "",
        "other\"} 1\nspamhattan_fake 1",
        "<script>alert(1)</script>",
        "BARE-LF",
        "bare-lf ",
        "relay-denied\n",
    ];

    #[test]
    fn known_values_map_to_themselves() {
        assert_eq!(session_end(Some("idle-timeout")), "idle-timeout");
        assert_eq!(connection_limit(Some("per-ip")), "per-ip-limit");
        assert_eq!(rcpt_refusal(Some("relay-denied")), "relay-denied");
        assert_eq!(variant::<AnomalyKind>(Some("bare-lf")), "bare-lf");
        assert_eq!(
            variant::<AnomalyKind>(Some("smtp-smuggling")),
            "smtp-smuggling"
        );
        assert_eq!(variant::<VerdictClass>(Some("malware")), "malware");
        assert_eq!(variant::<Severity>(Some("critical")), "critical");
    }

    #[test]
    fn anything_else_is_other() {
        for h in HOSTILE {
            assert_eq!(session_end(Some(h)), OTHER, "{h:?}");
            assert_eq!(connection_limit(Some(h)), OTHER, "{h:?}");
            assert_eq!(rcpt_refusal(Some(h)), OTHER, "{h:?}");
            assert_eq!(variant::<AnomalyKind>(Some(h)), OTHER, "{h:?}");
            assert_eq!(variant::<VerdictClass>(Some(h)), OTHER, "{h:?}");
        }
        let long = "a".repeat(100_000);
        assert_eq!(variant::<AnomalyKind>(Some(&long)), OTHER);
        assert_eq!(session_end(None), OTHER);
        assert_eq!(rcpt_refusal(Some("accepted")), OTHER, "not a refusal");
    }

    /// Every refused RCPT verdict the model knows has its own reason (a new verdict would
    /// be counted as `other` until it is added to [`REFUSALS`]).
    #[test]
    fn every_refused_rcpt_verdict_is_a_reason() {
        for v in [
            RcptVerdict::UnknownUser,
            RcptVerdict::TempFail,
            RcptVerdict::RelayDenied,
            RcptVerdict::TooMany,
            RcptVerdict::Syntax,
        ] {
            let name = serde_json::to_value(v)
                .ok()
                .and_then(|n| n.as_str().map(str::to_owned))
                .unwrap_or_default();
            assert_eq!(rcpt_refusal(Some(&name)), name);
        }
    }
}
