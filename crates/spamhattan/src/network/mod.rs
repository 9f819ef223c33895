//! The sensor network (issue 7): what `spamhattan sensor` and `spamhattan collector` run
//! besides what `serve` runs.
//!
//! `forwarder.rs` (sensor): reads the local store's outbox in capture order, publishes to NATS
//! JetStream, moves the forward marks only over what the bus acknowledged, and frees the spool
//! behind them. `collector.rs` (collector): fetches from the shared durable consumer, stores
//! idempotently (the sighting id is the key), and acknowledges on the bus only after the store
//! made the batch durable; undecodable input goes to the dead-letter subject.

pub mod collector;
pub mod forwarder;

use std::time::Duration;

/// Longest pause between retries after a bus or store error.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// First pause after an error; doubled up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// Exponential back-off between retries, reset by the first success.
#[derive(Debug, Clone, Copy)]
pub struct Backoff(Option<Duration>);

impl Backoff {
    pub fn new() -> Self {
        Backoff(None)
    }

    /// The pause before the next try.
    pub fn next(&mut self) -> Duration {
        let d = self.0.map_or(FIRST_BACKOFF, |d| (d * 2).min(MAX_BACKOFF));
        self.0 = Some(d);
        d
    }

    pub fn reset(&mut self) {
        self.0 = None;
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new();
        let seq: Vec<_> = (0..8).map(|_| b.next()).collect();
        assert_eq!(seq[0], FIRST_BACKOFF);
        assert_eq!(seq[1], FIRST_BACKOFF * 2);
        assert_eq!(*seq.last().unwrap_or(&Duration::ZERO), MAX_BACKOFF);
        b.reset();
        assert_eq!(b.next(), FIRST_BACKOFF);
    }
}
