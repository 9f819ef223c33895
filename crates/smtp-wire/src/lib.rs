//! Sans-I/O SMTP grammar for the spamhattan trap: bytes in, requests out.
//!
//! This crate knows the SMTP wire format and nothing else: no sockets, no async
//! runtime, no policy. The trap's session loop owns I/O, timeouts and quotas, and
//! asks this crate to frame and parse what the client sent. Every byte is
//! attacker controlled, so nothing here panics on input; malformed input becomes
//! an error value or a [`WireAnomaly`], and the raw text is kept as evidence.
//!
//! Main types:
//! - [`scan_line`] frames a command line; [`parse_command`] turns it into a
//!   [`Command`] (with [`Path`] for envelope addresses) or a [`CommandError`].
//! - [`DataReceiver`] receives a `DATA` body: dot-unstuffing, end-of-data
//!   detection, size cap, and smuggling / bare-LF / NUL anomaly records.
//! - [`BdatChunk`] receives one `BDAT` chunk.
//! - [`Reply`] writes replies without reply injection.
//! - [`decode_plain`] and friends decode AUTH lure payloads.
//!
//! Layout: one module per job — `limits` (named limits and why), `line`
//! (command framing), `command` (verbs), `path` (addresses), `data` and
//! `anomaly` (DATA framing), `bdat`, `reply`, `sasl`.

pub mod anomaly;
pub mod bdat;
pub mod command;
pub mod data;
pub mod limits;
pub mod line;
pub mod path;
pub mod reply;
pub mod sasl;

pub use anomaly::{WireAnomaly, WireAnomalyKind};
pub use bdat::BdatChunk;
pub use command::{Command, CommandError, parse_command};
pub use data::{DataReceiver, DataStep};
pub use limits::{
    DEFAULT_MAX_COMMAND_LINE, DEFAULT_MAX_DATA_LINE, DEFAULT_MAX_MESSAGE_SIZE, MAX_ANOMALIES,
    RFC_MAX_TEXT_LINE,
};
pub use line::{LineEnding, LineScan, scan_line, skip_to_next_line};
pub use path::{Domain, Path, param_value};
pub use reply::Reply;
pub use sasl::{decode_base64, decode_login, decode_plain, encode_base64};
