//! Anomalies: what a client did that a well-behaved MTA would not. They are evidence, not errors.

use serde::{Deserialize, Serialize};

/// One observed deviation from the protocol or from sane input, with a short human detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomaly {
    pub kind: AnomalyKind,
    /// What exactly was seen (bounded, lossy UTF-8 of attacker bytes where relevant).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

impl Anomaly {
    pub fn new(kind: AnomalyKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }
}

/// Kinds of anomaly, serialised in kebab-case (`bare-lf`, `smtp-smuggling`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnomalyKind {
    /// The client spoke before the greeting banner (classic spambot behaviour).
    PreGreetingTalk,
    /// Commands sent ahead of replies where RFC 2920 does not allow it (or before EHLO).
    PipeliningViolation,
    /// A line ended in LF without CR.
    BareLf,
    /// A CR not followed by LF.
    BareCr,
    /// A NUL byte in a command or in message data.
    NulByte,
    /// A line longer than the configured limit.
    LineTooLong,
    /// A command verb the server does not know.
    UnknownCommand,
    /// A command whose arguments do not parse.
    SyntaxError,
    /// A command out of order (RCPT before MAIL, DATA without recipients, ...).
    BadSequence,
    /// An end-of-data look-alike (`\n.\n`, `\r.\r`, `\n.\r\n`, `\r\n.\n`...) used for SMTP smuggling.
    SmtpSmuggling,
    /// Bytes pipelined after STARTTLS, discarded before the handshake (CVE-2011-0411 class).
    StarttlsInjection,
    /// The TLS handshake failed (old protocol, no shared cipher, garbage).
    TlsHandshakeFailed,
    /// The message exceeded the size limit; the excess was swallowed.
    MessageTooLarge,
    /// More recipients than the per-message limit.
    TooManyRecipients,
    /// Too many errors or commands in one session.
    TooManyErrors,
    /// The client went idle past the timeout for its state.
    IdleTimeout,
    /// The session exceeded its total lifetime.
    SessionTimeout,
    /// A command line (or AUTH response) was still incomplete `command_deadline` after its
    /// first byte: a client dripping a line byte by byte.
    CommandDeadline,
    /// DATA/BDAT content arrived below the minimum average rate once the grace period was over.
    SlowData,
    /// A relay attempt: a recipient outside the trap domains or with sender-specified routing.
    RelayAttempt,
    /// A non-ASCII byte where the protocol expects ASCII.
    NonAscii,
    /// An 8-bit or UTF-8 parameter used without announcing the extension.
    UndeclaredExtension,
    /// The client closed the connection in the middle of a transaction.
    AbortedTransaction,
    /// A message file or mbox entry could not be read as mail (import).
    MalformedMessage,
    /// Content that does not follow its format (MIME structure, archive, document, encoding).
    MalformedContent,
    /// A parser panicked on this object; it was caught and the rest of the analysis went on.
    ParserPanic,
    /// A named analysis limit was reached (depth, entries, bytes, ratio); the rest was skipped.
    LimitReached,
    /// The analysis ran out of its time budget; the report covers what was done until then.
    BudgetExceeded,
    /// An encrypted object that no known password opened.
    EncryptedContent,
}
