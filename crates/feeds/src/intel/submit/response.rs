//! What a service's answer means for the batch: accepted, already known, refused for good,
//! or worth another attempt.
//!
//! abuse.ch answers `200` with `{"query_status": "..."}`. `ok` and `inserted` accept,
//! `file_already_known` and the like say the service has it (also success: at-least-once
//! delivery relies on the services deduplicating). Statuses about the credentials
//! (`unknown_auth_key`, `user_blacklisted`, ...) are [`Verdict::Stop`]: nothing further can
//! succeed until the operator fixes the key, and the cursor must not move. Any other status
//! names something wrong with the submission itself and will not change by asking again:
//! [`Verdict::Rejected`], the batch is logged and skipped. HTTP 408, 425, 429 and 5xx, and
//! network trouble, are [`Verdict::Retry`]; 401/403 are `Stop`; other 4xx `Rejected`.

use super::ConnectorKind;
use crate::http_client::Response;

/// The meaning of one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Accepted,
    /// The service already has it.
    Duplicate,
    /// Refused for a reason tied to this submission: skip it.
    Rejected(String),
    /// Refused for a reason tied to the connector (key, account): stop the pass, keep the
    /// cursor.
    Stop(String),
    /// Passing trouble: try again later.
    Retry(String),
}

/// abuse.ch `query_status` values that mean the account or key is the problem.
const CREDENTIAL_STATUSES: [&str; 6] = [
    "unknown_auth_key",
    "invalid_auth_key",
    "no_auth_key",
    "user_blacklisted",
    "unauthorized",
    "not_authorized",
];

/// Judges `response` from a service of `kind`.
pub fn judge(kind: ConnectorKind, response: &Response) -> Verdict {
    let status = response.status.as_u16();
    let snippet = response.snippet();
    if status == 408 || status == 425 || status == 429 || response.status.is_server_error() {
        return Verdict::Retry(format!("{status}: {snippet}"));
    }
    if status == 401 || status == 403 {
        if kind == ConnectorKind::Misp && super::misp::already_exists(status, &response.body) {
            return Verdict::Duplicate;
        }
        return Verdict::Stop(format!("{status}: {snippet}"));
    }
    if !response.status.is_success() {
        if kind == ConnectorKind::Misp && super::misp::already_exists(status, &response.body) {
            return Verdict::Duplicate;
        }
        return Verdict::Rejected(format!("{status}: {snippet}"));
    }
    match kind {
        ConnectorKind::Misp => Verdict::Accepted,
        _ => abusech_status(response),
    }
}

/// The `query_status` of an abuse.ch answer. URLhaus's submission API answers with a plain
/// text line; a 2xx without a JSON status is accepted unless the text names an error.
fn abusech_status(response: &Response) -> Verdict {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
    let status = parsed
        .as_ref()
        .and_then(|v| v.get("query_status"))
        .and_then(|s| s.as_str())
        .map(str::to_ascii_lowercase);
    let Some(status) = status else {
        let text = response.snippet().to_ascii_lowercase();
        if CREDENTIAL_STATUSES.iter().any(|s| text.contains(s)) {
            return Verdict::Stop(response.snippet());
        }
        return Verdict::Accepted;
    };
    match status.as_str() {
        "ok" | "inserted" | "success" => Verdict::Accepted,
        s if s.contains("already_known") || s.contains("duplicate") || s.contains("exists") => {
            Verdict::Duplicate
        }
        s if CREDENTIAL_STATUSES.contains(&s) => Verdict::Stop(status),
        _ => Verdict::Rejected(status),
    }
}
