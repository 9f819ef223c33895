//! The two ways alert delivery goes wrong: a receiver configured badly, a delivery that failed.

/// A receiver section that cannot be used; names the receiver and says what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alert receiver {receiver:?}: {problem}")]
pub struct ConfigError {
    /// The receiver's `name` (may be empty when that is the problem).
    pub receiver: String,
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(receiver: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            receiver: receiver.to_owned(),
            problem: problem.into(),
        }
    }
}

/// One failed delivery attempt.
///
/// `retry` tells the outbox what to do: `true` for trouble that may pass (connection refused,
/// timeout, 408/425/429/5xx), `false` for an answer that will not change by asking again
/// (other 4xx, a redirect, a body we cannot build); those deliveries are recorded as failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", if *.retry { " (will retry)" } else { " (not retried)" })]
pub struct DeliveryError {
    pub retry: bool,
    pub message: String,
}

impl DeliveryError {
    /// A failure worth another attempt later.
    pub fn retryable(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            retry: true,
            message: message.into(),
        }
    }

    /// A failure that asking again will not fix.
    pub fn permanent(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            retry: false,
            message: message.into(),
        }
    }
}
