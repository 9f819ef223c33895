//! mail-auth's outputs in the report's words (RFC 8601: `pass`, `fail`, `softfail`, `neutral`,
//! `none`, `temperror`, `permerror`).

use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Policy;
use mail_auth::{ArcOutput, DkimOutput, DmarcOutput, SpfOutput, SpfResult};
use model::report::{AuthResult, DkimResult, DmarcResult};

/// Longest detail text kept. Details can quote attacker-published DNS text (SPF `exp=`
/// explanations, parse errors); a report line, not a transcript.
pub(crate) const MAX_DETAIL_CHARS: usize = 200;

pub(crate) fn detail(text: impl AsRef<str>) -> String {
    let text = text.as_ref();
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or_default()),
        None => text.to_string(),
    }
}

/// `identity` is `mailfrom` or `helo` (RFC 7208 §9.1 names), so the report says which identity
/// the result is about.
pub(crate) fn spf(output: &SpfOutput, identity: &str) -> AuthResult {
    let result = match output.result() {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    };
    let mut text = format!("identity={identity}");
    if let Some(exp) = output.explanation() {
        text.push_str("; explanation=");
        text.push_str(exp);
    }
    AuthResult {
        result: result.to_string(),
        domain: output.domain().to_string(),
        detail: detail(text),
    }
}

/// One DKIM signature. A body-hash mismatch is `fail`: RFC 6376 §6.1.3 makes it a PERMFAIL of
/// the signature, which RFC 8601 §2.7.1 reports as `fail` (mail-auth calls it neutral).
pub(crate) fn dkim(output: &DkimOutput<'_>) -> DkimResult {
    use mail_auth::DkimResult as R;
    let (result, text) = match output.result() {
        R::Pass => ("pass", String::new()),
        R::Neutral(mail_auth::Error::Dkim(DkimError::FailedBodyHashMatch)) => {
            ("fail", "body hash did not verify".to_string())
        }
        R::Neutral(e) => ("neutral", e.to_string()),
        R::Fail(e) => ("fail", e.to_string()),
        R::PermError(e) => ("permerror", e.to_string()),
        R::TempError(e) => ("temperror", e.to_string()),
        R::None => ("none", String::new()),
    };
    let (domain, selector) = output
        .signature()
        .map(|s| (s.d.clone(), s.s.clone()))
        .unwrap_or_default();
    DkimResult {
        result: result.to_string(),
        domain: detail(domain),
        selector: detail(selector),
        detail: detail(text),
    }
}

/// The policy is reported only when the result proves a record was found (`pass`/`fail`):
/// mail-auth reports `none` as the policy of a domain without a record too.
pub(crate) fn dmarc(output: &DmarcOutput) -> DmarcResult {
    use mail_auth::DmarcResult as R;
    let result = match output.result() {
        R::Pass => "pass",
        R::Fail(_) => "fail",
        R::TempError(_) => "temperror",
        R::PermError(_) => "permerror",
        R::None => "none",
    };
    let policy = match (result, output.policy()) {
        ("pass" | "fail", Policy::None) => "none",
        ("pass" | "fail", Policy::Quarantine) => "quarantine",
        ("pass" | "fail", Policy::Reject) => "reject",
        _ => "",
    };
    DmarcResult {
        result: result.to_string(),
        domain: output.domain().to_string(),
        policy: policy.to_string(),
    }
}

/// ARC results are `none`, `pass` or `fail` (RFC 8617 §4.4: any validation problem fails the
/// chain), plus `temperror` when a key could not be fetched.
pub(crate) fn arc(output: &ArcOutput<'_>) -> AuthResult {
    use mail_auth::DkimResult as R;
    let (result, text) = match output.result() {
        R::Pass => ("pass", String::new()),
        R::None => ("none", String::new()),
        R::TempError(e) => ("temperror", e.to_string()),
        R::Fail(e) | R::Neutral(e) | R::PermError(e) => ("fail", e.to_string()),
    };
    let domain = output
        .sets()
        .last()
        .map(|set| set.signature.header.d.clone())
        .unwrap_or_default();
    AuthResult {
        result: result.to_string(),
        domain: detail(domain),
        detail: detail(text),
    }
}
