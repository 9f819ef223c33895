//! Intel feeds: what the trap shares, with whom, and in which formats.
//!
//! The store hands over facts ([`model::intel::IndicatorRow`], [`model::intel::CampaignBrief`]).
//! [`policy::SharingPolicy`] turns them into what may leave: an [`Ioc`] (value pseudonymised
//! where it holds personal data, defanged form, confidence, TLP, expiry) and an
//! [`IntelCampaign`]; [`redact::Redactor`] makes sure nothing names the trap (its recipient
//! addresses, domains and host names), and [`policy::Audience`] decides who sees what. The
//! formats implement [`FeedWriter`]: they are fed campaign by campaign, each followed by its
//! indicators, so every format streams with bounded memory.
//!
//! Layout: `tlp.rs` (TLP 2.0), `policy.rs` (confidence, expiry, TLP, audiences), `redact.rs`
//! (trap data and pseudonyms), `format.rs` (the format list and the writer contract), then one
//! module per format family: `stix/`, `misp.rs`, `csv.rs`, `text.rs` (lists, hosts file),
//! `rpz.rs`, `jsonl.rs`.

pub mod allowlist;
pub mod csv;
pub mod format;
pub mod ids;
pub mod jsonl;
pub mod misp;
pub mod policy;
pub mod redact;
pub mod rpz;
pub mod sample;
pub mod stix;
pub mod submit;
pub mod text;
pub mod tlp;
pub mod writers;

pub use format::{FeedMeta, FeedWriter, Format, Producer, Target};
pub use policy::{Audience, IntelCampaign, Ioc, SharingPolicy};
pub use redact::Redactor;
pub use tlp::Tlp;
