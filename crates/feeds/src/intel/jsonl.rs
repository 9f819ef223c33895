//! JSON lines: one object per indicator, no header line (every line must parse as JSON).
//!
//! Fields: `id` (the indicator UUID, same as the STIX indicator), `kind`, `value`,
//! `defanged`, `host` (or null), `first_seen`, `last_seen`, `changed_at`, `valid_until`
//! (RFC 3339 UTC), `count`, `confidence`, `tlp`, `campaign` (`{id, uuid, name, verdict,
//! families}` or null) and, for payloads, `file` (`md5, sha1, sha512, ssdeep, tlsh, size,
//! kind, mime, name, chain`). Values are exact (JSON escapes what needs escaping).

use super::format::{FeedWriter, Format};
use super::policy::Ioc;
use super::writers::{carries, rfc3339};
use model::intel::FileFacts;
use serde::Serialize;
use std::io::{self, BufWriter, Write};

/// Streams one JSON lines file.
pub struct JsonlWriter {
    out: BufWriter<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for JsonlWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JsonlWriter")
    }
}

impl JsonlWriter {
    pub fn new(out: Box<dyn Write + Send>) -> JsonlWriter {
        JsonlWriter {
            out: BufWriter::new(out),
        }
    }
}

#[derive(Serialize)]
struct Line<'a> {
    id: uuid::Uuid,
    kind: &'static str,
    value: &'a str,
    defanged: &'a str,
    host: Option<&'a str>,
    first_seen: String,
    last_seen: String,
    changed_at: String,
    valid_until: String,
    count: u64,
    confidence: u8,
    tlp: &'static str,
    campaign: Option<CampaignRef<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a FileFacts>,
}

#[derive(Serialize)]
struct CampaignRef<'a> {
    id: i64,
    uuid: uuid::Uuid,
    name: &'a str,
    verdict: &'static str,
    families: &'a [String],
}

impl FeedWriter for JsonlWriter {
    fn ioc(&mut self, ioc: &Ioc) -> io::Result<()> {
        if !carries(Format::Jsonl, ioc) {
            return Ok(());
        }
        let line = Line {
            id: ioc.uuid,
            kind: ioc.kind.as_str(),
            value: &ioc.value,
            defanged: &ioc.defanged,
            host: ioc.host.as_deref(),
            first_seen: rfc3339(ioc.first_seen),
            last_seen: rfc3339(ioc.last_seen),
            changed_at: rfc3339(ioc.changed_at),
            valid_until: rfc3339(ioc.valid_until),
            count: ioc.count,
            confidence: ioc.confidence,
            tlp: ioc.tlp.as_str(),
            campaign: ioc.campaign.as_deref().map(|c| CampaignRef {
                id: c.id(),
                uuid: c.brief.uuid,
                name: &c.name,
                verdict: c.brief.verdict.as_str(),
                families: &c.brief.families,
            }),
            file: ioc.file.as_ref(),
        };
        serde_json::to_writer(&mut self.out, &line)?;
        self.out.write_all(b"\n")
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let mut out = self.out;
        out.flush()
    }
}
