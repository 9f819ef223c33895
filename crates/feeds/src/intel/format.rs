//! The feed formats and the contract every writer follows.

use super::policy::{Audience, IntelCampaign, Ioc};
use model::Timestamp;
use model::report::IndicatorKind;
use std::io;
use std::path::PathBuf;

/// Every format `spamhattan export --format` and `/feeds/` offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// One STIX 2.1 bundle (producer identity, TLP markings, campaigns, indicators with their
    /// observables, relationships, sightings, one report).
    Stix,
    /// A MISP feed directory: `manifest.json`, `hashes.csv`, one `<uuid>.json` per campaign.
    Misp,
    /// URLhaus-style CSV of URLs.
    CsvUrls,
    /// MalwareBazaar-style CSV of payloads (files).
    CsvPayloads,
    /// ThreatFox-style CSV of every indicator.
    CsvIocs,
    TxtUrls,
    TxtDomains,
    TxtIps,
    TxtSha256,
    /// Hosts file: `0.0.0.0 domain`.
    Hosts,
    /// DNS Response Policy Zone.
    Rpz,
    /// One JSON object per indicator.
    Jsonl,
}

impl Format {
    pub const ALL: [Format; 12] = [
        Format::Stix,
        Format::Misp,
        Format::CsvUrls,
        Format::CsvPayloads,
        Format::CsvIocs,
        Format::TxtUrls,
        Format::TxtDomains,
        Format::TxtIps,
        Format::TxtSha256,
        Format::Hosts,
        Format::Rpz,
        Format::Jsonl,
    ];

    /// The name on the command line, in config and in `/feeds/<name>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Stix => "stix",
            Format::Misp => "misp",
            Format::CsvUrls => "csv-urls",
            Format::CsvPayloads => "csv-payloads",
            Format::CsvIocs => "csv-iocs",
            Format::TxtUrls => "txt-urls",
            Format::TxtDomains => "txt-domains",
            Format::TxtIps => "txt-ips",
            Format::TxtSha256 => "txt-sha256",
            Format::Hosts => "hosts",
            Format::Rpz => "rpz",
            Format::Jsonl => "jsonl",
        }
    }

    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == s)
    }

    /// The file (or, for MISP, directory) name a published feed gets.
    pub fn file_name(self) -> &'static str {
        match self {
            Format::Stix => "stix-bundle.json",
            Format::Misp => "misp",
            Format::CsvUrls => "urls.csv",
            Format::CsvPayloads => "payloads.csv",
            Format::CsvIocs => "iocs.csv",
            Format::TxtUrls => "urls.txt",
            Format::TxtDomains => "domains.txt",
            Format::TxtIps => "ips.txt",
            Format::TxtSha256 => "sha256.txt",
            Format::Hosts => "hosts.txt",
            Format::Rpz => "rpz.zone",
            Format::Jsonl => "iocs.jsonl",
        }
    }

    /// HTTP `Content-Type` of the published file.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Stix => "application/stix+json;version=2.1",
            Format::Misp => "application/json",
            Format::CsvUrls | Format::CsvPayloads | Format::CsvIocs => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
            _ => "text/plain; charset=utf-8",
        }
    }

    /// MISP writes a directory; every other format one file.
    pub fn is_directory(self) -> bool {
        self == Format::Misp
    }

    /// The indicator kinds the format carries (the driver skips the others before policy).
    pub fn kinds(self) -> &'static [IndicatorKind] {
        use IndicatorKind::*;
        match self {
            Format::CsvUrls | Format::TxtUrls => &[Url],
            Format::CsvPayloads | Format::TxtSha256 => &[Sha256],
            Format::TxtDomains | Format::Hosts => &[Domain],
            Format::TxtIps => &[Ip],
            Format::Rpz => &[Domain, Ip],
            _ => &[Url, Domain, Ip, Email, Sha256],
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who publishes: the STIX identity and MISP `Orgc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Producer {
    pub name: String,
    /// Contact for the consumers (`cert@example.org`), may be empty.
    pub contact: String,
    /// Stable UUIDv4 of this installation's identity (STIX identity id, MISP `Orgc.uuid`).
    pub uuid: uuid::Uuid,
    /// Installation secret: stable object ids (see `stix` ids) and pseudonyms are keyed
    /// with it, so they are stable across exports but not guessable from outside.
    pub secret: [u8; 32],
}

/// Everything a writer knows about the export it writes.
#[derive(Debug, Clone)]
pub struct FeedMeta {
    pub producer: Producer,
    pub audience: Audience,
    pub generated_at: Timestamp,
    /// A delta: only what changed after this time. `None` for a full snapshot.
    pub since: Option<Timestamp>,
    /// Publication serial, increasing across exports (RPZ SOA serial).
    pub serial: u32,
    /// Origin of the RPZ zone, with its final dot (`rpz.example.org.`).
    pub rpz_origin: String,
}

/// Where a writer writes: a stream for single-file formats, a directory for MISP.
pub enum Target {
    File(Box<dyn io::Write + Send>),
    Dir(PathBuf),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::File(_) => f.write_str("Target::File"),
            Target::Dir(p) => write!(f, "Target::Dir({})", p.display()),
        }
    }
}

/// One export in progress. The driver calls [`FeedWriter::campaign`] for a campaign, then
/// [`FeedWriter::ioc`] for each of its indicators, then the next campaign; indicators in no
/// campaign come last with `ioc.campaign == None`. [`FeedWriter::finish`] completes the
/// output (closing brackets, manifests, flushing). A writer keeps at most one campaign's
/// worth of data in memory.
pub trait FeedWriter: Send {
    fn campaign(&mut self, _campaign: &IntelCampaign) -> io::Result<()> {
        Ok(())
    }
    fn ioc(&mut self, ioc: &Ioc) -> io::Result<()>;
    fn finish(self: Box<Self>) -> io::Result<()>;
}
