//! The envelope: MAIL FROM and RCPT TO exactly as sent and as understood.

use serde::{Deserialize, Serialize};

/// The reverse-path of a transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailFrom {
    /// The whole command line as the client sent it (lossy UTF-8), kept as evidence.
    pub raw: String,
    /// The parsed address; empty string for the null sender `<>`.
    pub address: String,
    /// ESMTP parameters as sent (`SIZE=1234`, `BODY=8BITMIME`, `RET=HDRS`, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<String>,
}

/// What the trap answered to one RCPT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RcptVerdict {
    /// `250`: a trap address; the message will be captured for it.
    Accepted,
    /// `550 5.1.1`: the operator marked this trap address unknown (lifecycle).
    UnknownUser,
    /// `450`: the operator asked for a temporary failure (greylisting-like behaviour).
    TempFail,
    /// `554 5.7.1 Relay access denied`: not a trap domain, or sender-specified routing.
    RelayDenied,
    /// `452`: recipient limit reached.
    TooMany,
    /// `501`: the address did not parse.
    Syntax,
}

/// One RCPT attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The whole command line as sent (lossy UTF-8).
    pub raw: String,
    /// The address as parsed (unquoted local part, IDN domain in ASCII form where possible).
    pub address: String,
    pub verdict: RcptVerdict,
    /// The reply line the trap sent, e.g. `250 2.1.5 Ok`.
    pub reply: String,
    /// The recipient's trap domain is in its quiet period (`new`, see `model::domain`): RCPT
    /// was answered `250` so the message is kept, but the end of DATA is answered `550` unless
    /// another recipient is not quiet.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub quiet: bool,
}

/// The envelope of a captured message: only accepted recipients receive it, but every attempt is
/// kept so relay probes and dictionary attacks stay visible.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    pub mail_from: MailFrom,
    pub recipients: Vec<Recipient>,
}

impl Envelope {
    /// Recipients that were answered `250`.
    pub fn accepted(&self) -> impl Iterator<Item = &Recipient> {
        self.recipients
            .iter()
            .filter(|r| r.verdict == RcptVerdict::Accepted)
    }
}
