//! The trap's own configuration section: listeners, trap domains, per-address policies, limits.
//!
//! The binary resolves the config file, flags and environment into this structure once at
//! start-up; the trap never reads configuration anywhere else.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How a listener speaks TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain SMTP that offers STARTTLS (port 25/587 style).
    StartTls,
    /// TLS from the first byte (port 465 style).
    Implicit,
}

impl TlsMode {
    /// The name used in config files and the ready line.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "implicit",
        }
    }
}

/// One listening socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    /// Short name recorded with every session (`smtp`, `smtps`, ...).
    pub name: String,
    pub address: SocketAddr,
    pub tls: TlsMode,
}

/// What the operator wants done with mail for one trap address (trap-domain lifecycle).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressPolicy {
    Accept,
    /// `550 5.1.1`: pretend the mailbox does not exist (a retired address).
    UnknownUser,
    /// `450`: answer a temporary failure (a resting address; greylisting look-alike).
    TempFail,
}

/// Where the TLS certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// PEM files named by the operator.
    Files { cert: PathBuf, key: PathBuf },
    /// Generate a self-signed certificate for the hostname at first start and keep it in `dir`.
    SelfSigned { dir: PathBuf },
}

/// Per-session and per-server limits. Every value is attacker-reachable, so each has a bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest message accepted; the excess is swallowed and answered `552`.
    /// Default 10,240,000 bytes: Postfix's `message_size_limit`, so the SIZE keyword matches.
    pub max_message_bytes: u64,
    /// Recipients per transaction. Default 1000: Postfix's `smtpd_recipient_limit`.
    pub max_recipients: usize,
    /// Longest command line before it is refused. Default 2048: Postfix's `line_length_limit`.
    pub max_line: usize,
    /// Longest DATA line before it is recorded as an anomaly (RFC 5321 §4.5.3.1.6: 1000 with CRLF).
    pub max_data_line: usize,
    /// Commands per session; past it the session is closed with `421`. Default 10,000.
    pub max_commands: u64,
    /// Errors after which each further error reply is delayed by `error_sleep` (tarpit).
    /// Default 10: Postfix's `smtpd_soft_error_limit`.
    pub soft_errors: u32,
    /// Errors after which the session is closed with `421`. Default 20: `smtpd_hard_error_limit`.
    pub max_errors: u32,
    /// Delay before each error reply past `soft_errors`. Default 1 s: `smtpd_error_sleep_time`.
    pub error_sleep: Duration,
    /// Total session lifetime. Default 30 min: long enough for a slow 10 MB upload, short
    /// enough that a drip-feeding client cannot hold a slot forever.
    pub session_lifetime: Duration,
    /// Idle time allowed while waiting for a command. Default 300 s (RFC 5321 §4.5.3.2.7).
    pub idle_timeout: Duration,
    /// Idle time allowed inside DATA/BDAT. Default 180 s (RFC 5321 §4.5.3.2.5, "data block").
    pub data_idle_timeout: Duration,
    /// Concurrent connections in total. Default 16,384: above the 10,000 idle connections the
    /// trap must hold, below the usual 65,536 descriptor limit.
    pub max_connections: usize,
    /// Concurrent connections per client IP (per /64 for IPv6). Default 50: Postfix's
    /// `smtpd_client_connection_count_limit`.
    pub max_connections_per_ip: usize,
    /// AUTH attempts per session on the lure. Default 5.
    pub max_auth_attempts: u32,
    /// Time to wait before the banner; talk in this window is recorded as pre-greeting talk
    /// (what Postfix's postscreen does). Default 0: no delay, because every connection would pay
    /// it; operators who want the signal set 1–6 s.
    pub greet_delay: Duration,
    /// Time allowed for one command line (or AUTH response) from its first byte to its line
    /// end; past it the session gets `421 4.4.2` and ends. Postfix's analogue is
    /// `smtpd_per_record_deadline` (a deadline per record instead of per read). Default 60 s: a
    /// client writes a command line (at most `max_line` bytes) in one go, so the only honest
    /// delay is TCP retransmission, whose exponential backoff passes 30 s after five lost
    /// segments; a client that types it by hand in telnet needs a few seconds. A drip-feeder
    /// sending one byte just inside `idle_timeout` no longer keeps its slot for the whole
    /// `session_lifetime`. Waiting *before* the first byte is `idle_timeout`'s business.
    /// Zero turns the deadline off.
    pub command_deadline: Duration,
    /// Lowest average rate, in bytes per second, at which DATA/BDAT content must arrive once
    /// `data_rate_grace` has passed: the transaction's content must be complete by
    /// `start + data_rate_grace + received / min_data_rate`, or the session gets `421 4.4.2`.
    /// Postfix's `smtpd_min_data_rate` (default 500) works the same way. Default 500 bytes/s
    /// (4 kbit/s, far below any real link): a 10 MB message over a 100 kbit/s link still
    /// arrives; one byte per 170 s (inside `data_idle_timeout`) is cut off after the grace.
    /// Zero turns the check off.
    pub min_data_rate: u64,
    /// Time at the start of DATA/BDAT content before `min_data_rate` applies, so TCP slow
    /// start and a retransmission or two never count against a sender. Default 60 s, the same
    /// reasoning as `command_deadline`.
    pub data_rate_grace: Duration,
    /// Message bytes all sessions together may hold in memory while receiving DATA/BDAT (the
    /// body buffers' capacity). Past it, the transaction that needs more has its buffer
    /// freed, the rest of its content swallowed, and is answered `451`; MAIL is answered
    /// `452` while less than an eighth of the budget is left. Default 512 MiB: fifty
    /// maximum-size messages or tens of thousands of ordinary spam at once, and, with the
    /// store's own 512 MiB for bytes waiting for its writer, a bound of about 1 GiB of
    /// message bytes in the process, instead of `max_connections` × `max_message_bytes`
    /// (160 GiB with the defaults).
    pub max_inflight_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 10_240_000,
            max_recipients: 1000,
            max_line: 2048,
            max_data_line: 1000,
            max_commands: 10_000,
            soft_errors: 10,
            max_errors: 20,
            error_sleep: Duration::from_secs(1),
            session_lifetime: Duration::from_secs(30 * 60),
            idle_timeout: Duration::from_secs(300),
            data_idle_timeout: Duration::from_secs(180),
            max_connections: 16_384,
            max_connections_per_ip: 50,
            max_auth_attempts: 5,
            greet_delay: Duration::ZERO,
            command_deadline: Duration::from_secs(60),
            min_data_rate: 500,
            data_rate_grace: Duration::from_secs(60),
            max_inflight_bytes: 512 << 20,
        }
    }
}

/// Everything the trap needs.
#[derive(Debug, Clone)]
pub struct TrapConfig {
    /// The name the persona announces (banner, EHLO, certificate).
    pub hostname: String,
    pub listeners: Vec<ListenerConfig>,
    /// Trap domains with their lifecycle (`model::domain`): a wildcard entry also accepts every
    /// subdomain; the state on the day of the RCPT decides its answer (see [`crate::RelayPolicy`]).
    pub domains: Vec<model::TrapDomain>,
    /// Per-address policies (`user@trap.example` → policy).
    pub addresses: Vec<(String, AddressPolicy)>,
    /// Persona name (`postfix`, `postfix-debian`).
    pub persona: String,
    pub limits: Limits,
    pub tls: TlsSource,
    /// Offer AUTH PLAIN/LOGIN as a lure; every attempt fails with 535 and is recorded.
    pub auth_lure: bool,
    /// Set by `spamhattan sensor`: stamped on every sighting, so the collector knows which
    /// sensor (and sector, location) accepted it. `None` for `serve`.
    pub sensor: Option<model::SensorTag>,
}
