//! CSV feeds in the abuse.ch style: `#` header block, one header row, RFC 4180 rows.
//!
//! Decisions, so consumers can rely on them:
//! - Every data field is double-quoted and inner quotes are doubled (RFC 4180). The header
//!   row is unquoted so `csv.DictReader` works once `#` lines are skipped.
//! - Control characters inside a value (CR, LF, TAB, NUL, ...) are replaced by U+FFFD. A
//!   quoted newline would be legal RFC 4180, but abuse desks read these files line by line
//!   and skip `#` lines before parsing: a value whose second line starts with `#` would
//!   silently lose a row. U+FFFD shows that something was there; the JSON lines feed keeps
//!   the value exact.
//! - `csv-urls` carries the URL itself, not defanged (the URLhaus convention: these files
//!   feed proxies and blocklists, not chat). Personal data in URLs is already pseudonymised.
//! - Times are `YYYY-MM-DD HH:MM:SS` UTC; absent values are empty strings.
//! - Rows stream in the order the driver hands indicators over; nothing is buffered.

use super::format::{FeedMeta, FeedWriter, Format};
use super::policy::Ioc;
use super::writers::{carries, header_lines, utc_seconds, write_comments};
use model::report::IndicatorKind;
use std::io::{self, BufWriter, Write};

/// Columns of `csv-urls`.
pub const URL_COLUMNS: &[&str] = &[
    "first_seen_utc",
    "last_seen_utc",
    "url",
    "host",
    "campaign_id",
    "campaign_uuid",
    "malware_family",
    "verdict",
    "confidence",
    "tlp",
    "valid_until_utc",
];

/// Columns of `csv-payloads`.
pub const PAYLOAD_COLUMNS: &[&str] = &[
    "first_seen_utc",
    "last_seen_utc",
    "sha256",
    "md5",
    "sha1",
    "ssdeep",
    "tlsh",
    "file_name",
    "file_type",
    "mime_type",
    "size",
    "container_chain",
    "campaign_id",
    "malware_family",
    "confidence",
    "tlp",
];

/// Columns of `csv-iocs`.
pub const IOC_COLUMNS: &[&str] = &[
    "first_seen_utc",
    "last_seen_utc",
    "ioc_value",
    "ioc_type",
    "threat_type",
    "campaign_id",
    "malware_family",
    "confidence",
    "tlp",
    "valid_until_utc",
    "count",
];

/// The columns of a CSV format (empty for the others).
pub fn columns(format: Format) -> &'static [&'static str] {
    match format {
        Format::CsvUrls => URL_COLUMNS,
        Format::CsvPayloads => PAYLOAD_COLUMNS,
        Format::CsvIocs => IOC_COLUMNS,
        _ => &[],
    }
}

/// Streams one CSV feed.
pub struct CsvWriter {
    format: Format,
    out: BufWriter<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for CsvWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvWriter")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl CsvWriter {
    /// Writes the header block and the header row at once.
    pub fn new(
        format: Format,
        meta: &FeedMeta,
        out: Box<dyn Write + Send>,
    ) -> io::Result<CsvWriter> {
        let cols = columns(format);
        if cols.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{format} is not a CSV format"),
            ));
        }
        let title = match format {
            Format::CsvUrls => "spamhattan malspam URLs (csv-urls)",
            Format::CsvPayloads => "spamhattan malspam payloads (csv-payloads)",
            _ => "spamhattan malspam indicators (csv-iocs)",
        };
        let legend = [
            format!("Columns: {}", cols.join(",")),
            "Times are UTC. Every field is double-quoted; control characters in values are replaced by U+FFFD.".to_string(),
        ];
        let legend: Vec<&str> = legend.iter().map(String::as_str).collect();
        let mut out = BufWriter::new(out);
        write_comments(&mut out, "#", &header_lines(title, meta, &legend))?;
        writeln!(out, "{}", cols.join(","))?;
        Ok(CsvWriter { format, out })
    }
}

impl FeedWriter for CsvWriter {
    fn ioc(&mut self, ioc: &Ioc) -> io::Result<()> {
        if !carries(self.format, ioc) {
            return Ok(());
        }
        let fields = match self.format {
            Format::CsvUrls => url_row(ioc),
            Format::CsvPayloads => payload_row(ioc),
            _ => ioc_row(ioc),
        };
        write_row(&mut self.out, &fields)
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let mut out = self.out;
        out.flush()
    }
}

fn write_row(out: &mut dyn Write, fields: &[String]) -> io::Result<()> {
    let mut line = String::new();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push('"');
        for c in f.chars() {
            match c {
                '"' => line.push_str("\"\""),
                c if c.is_control() => line.push('\u{FFFD}'),
                c => line.push(c),
            }
        }
        line.push('"');
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}

fn campaign_id(ioc: &Ioc) -> String {
    ioc.campaign
        .as_ref()
        .map(|c| c.id().to_string())
        .unwrap_or_default()
}

fn family(ioc: &Ioc) -> String {
    ioc.family().unwrap_or_default().to_string()
}

fn url_row(ioc: &Ioc) -> Vec<String> {
    let c = ioc.campaign.as_deref();
    vec![
        utc_seconds(ioc.first_seen),
        utc_seconds(ioc.last_seen),
        ioc.value.clone(),
        ioc.host.clone().unwrap_or_default(),
        campaign_id(ioc),
        c.map(|c| c.brief.uuid.to_string()).unwrap_or_default(),
        family(ioc),
        c.map(|c| c.brief.verdict.as_str().to_string())
            .unwrap_or_default(),
        ioc.confidence.to_string(),
        ioc.tlp.as_str().to_string(),
        utc_seconds(ioc.valid_until),
    ]
}

fn payload_row(ioc: &Ioc) -> Vec<String> {
    let f = ioc.file.clone().unwrap_or_default();
    vec![
        utc_seconds(ioc.first_seen),
        utc_seconds(ioc.last_seen),
        ioc.value.to_ascii_lowercase(),
        f.md5,
        f.sha1,
        f.ssdeep,
        f.tlsh.unwrap_or_default(),
        f.name.unwrap_or_default(),
        f.kind,
        f.mime.unwrap_or_default(),
        if ioc.file.is_some() {
            f.size.to_string()
        } else {
            String::new()
        },
        f.chain,
        campaign_id(ioc),
        family(ioc),
        ioc.confidence.to_string(),
        ioc.tlp.as_str().to_string(),
    ]
}

/// ThreatFox-style `(ioc_type, threat_type)` of an indicator kind.
pub fn ioc_type(kind: IndicatorKind) -> (&'static str, &'static str) {
    match kind {
        IndicatorKind::Url => ("url", "payload_delivery"),
        IndicatorKind::Domain => ("domain", "malspam_infrastructure"),
        IndicatorKind::Ip => ("ip", "malspam_sender"),
        IndicatorKind::Email => ("email", "malspam_sender"),
        _ => ("sha256_hash", "payload_delivery"),
    }
}

fn ioc_row(ioc: &Ioc) -> Vec<String> {
    let (kind, threat) = ioc_type(ioc.kind);
    vec![
        utc_seconds(ioc.first_seen),
        utc_seconds(ioc.last_seen),
        ioc.value.clone(),
        kind.to_string(),
        threat.to_string(),
        campaign_id(ioc),
        family(ioc),
        ioc.confidence.to_string(),
        ioc.tlp.as_str().to_string(),
        utc_seconds(ioc.valid_until),
        ioc.count.to_string(),
    ]
}
