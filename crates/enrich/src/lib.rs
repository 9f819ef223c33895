//! Network-facing enrichment of analysed messages: sender authentication (SPF, DKIM, DMARC,
//! ARC) and ClamAV scanning.
//!
//! # Why a crate of its own
//! The `analysis` crate is pure: bytes in, report out, no I/O, so that it can be fuzzed,
//! golden-tested and run offline (`spamhattan analyze`). Authentication needs DNS and ClamAV
//! needs a clamd socket; both are network-facing and slow. This crate isolates them and their
//! heavy dependencies (`mail-auth`, `hickory-resolver`) behind two small handles, so that only
//! the analysis worker links them and the SMTP path never waits for them: the trap has already
//! answered `250` when a job reaches the worker.
//!
//! # Flow
//! The worker takes a job, calls [`Authenticator::evaluate`] with the raw message and the
//! envelope of its sighting, passes the resulting [`model::report::AuthResults`] to the engine as
//! `Input::auth`, then scans the message and its artifacts with [`Clamd::scan_hit`] and appends
//! the hits to `report.scans` before `Engine::rescore`.
//!
//! # Types and layout
//! - [`AuthConfig`] / [`Authenticator`] (`auth.rs`): one evaluation per message, time-boxed by a
//!   per-message budget; `results.rs` turns mail-auth's outputs into RFC 8601 words.
//! - `resolver.rs`: the hickory resolver built from the configuration and the bounded,
//!   TTL-respecting record caches kept across messages.
//! - [`ClamdConfig`] / [`Clamd`] (`clamd.rs`): clamd's `zINSTREAM` protocol over a Unix or TCP
//!   socket, bytes only (never a path).
//! - [`EnrichError`]: why a handle could not be built or a scan did not complete. Authentication
//!   itself never fails: trouble becomes `temperror`/`permerror` results.

mod auth;
mod clamd;
mod resolver;
mod results;

pub use auth::{AuthConfig, Authenticator};
pub use clamd::{Clamd, ClamdConfig};

use std::time::Duration;

/// Why an enrichment handle could not be built, or why a ClamAV scan gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// The resolver could not be built (unreadable `/etc/resolv.conf`, no nameserver).
    #[error("DNS resolver: {0}")]
    Resolver(String),
    /// `address` is neither `unix:<path>` nor `tcp:<host>:<port>`.
    #[error("clamd address {0:?} is neither unix:<path> nor tcp:<host>:<port>")]
    ClamdAddress(String),
    /// Connecting to clamd failed: it is not running or the socket path/port is wrong.
    #[error("clamd at {address} is not reachable: {source}")]
    ClamdUnreachable {
        address: String,
        source: std::io::Error,
    },
    /// The connection broke during the exchange.
    #[error("clamd I/O: {0}")]
    ClamdIo(#[source] std::io::Error),
    /// clamd did not answer within the configured timeout.
    #[error("clamd did not answer within {0:?}")]
    ClamdTimeout(Duration),
    /// The object is larger than `max_stream`; it was not sent.
    #[error("object of {size} bytes exceeds max_stream ({limit} bytes); not scanned")]
    TooLarge { size: u64, limit: u64 },
    /// clamd refused the stream because it exceeds its `StreamMaxLength`.
    #[error("clamd refused the stream: INSTREAM size limit exceeded (raise StreamMaxLength)")]
    ClamdSizeLimit,
    /// clamd answered with an error line.
    #[error("clamd error: {0}")]
    Clamd(String),
    /// clamd answered something this client does not understand.
    #[error("unexpected clamd reply: {0:?}")]
    ClamdProtocol(String),
}
