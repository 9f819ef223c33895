//! MISP feed directory: one `<event-uuid>.json` per campaign, `manifest.json` and
//! `hashes.csv`, the same as `pymisp.tools.feed_meta_generator` would generate from the
//! event files (checked by `tests/oracles/check_misp.py`).
//!
//! Streaming: the writer keeps one event's indicators in memory (at most
//! [`MAX_EVENT_ATTRIBUTES`] attributes; the rest are counted and the event's `info` says
//! so), writes the event file when the next campaign starts, appends its `hashes.csv` lines
//! to `hashes.csv.part`, and keeps only a small manifest entry per event until
//! [`FeedWriter::finish`] writes `manifest.json` and renames the hashes. Indicators without
//! a campaign go to one "unclustered" event whose UUID is derived from the producer UUID.
//! The event UUID of a campaign is its `brief.uuid`, stable across exports.

mod event;
pub mod md5;

pub use event::{MAX_INFO, misp_tlsh};

use super::format::{FeedMeta, FeedWriter};
use super::policy::{IntelCampaign, Ioc};
use model::report::IndicatorKind;
use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// Attributes per event before indicators are left out: MISP instances slow down badly on
/// events above a few ten thousand attributes, and this bounds the writer's memory.
pub const MAX_EVENT_ATTRIBUTES: usize = 20_000;

/// The UUID of the event holding indicators in no campaign: UUIDv5 of a fixed name under
/// the producer UUID, so it is stable for one installation and distinct between them.
pub fn unclustered_uuid(producer: uuid::Uuid) -> uuid::Uuid {
    uuid::Uuid::new_v5(&producer, b"spamhattan:unclustered-indicators")
}

/// The event being collected.
struct Pending {
    uuid: uuid::Uuid,
    campaign: Option<Arc<IntelCampaign>>,
    iocs: Vec<Ioc>,
    seen: HashSet<(IndicatorKind, String)>,
    attributes: usize,
    dropped: u64,
}

/// Writes one MISP feed directory.
pub struct MispWriter {
    meta: FeedMeta,
    dir: PathBuf,
    hashes: BufWriter<File>,
    manifest: BTreeMap<String, serde_json::Value>,
    pending: Option<Pending>,
}

impl std::fmt::Debug for MispWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MispWriter")
            .field("dir", &self.dir)
            .field("events", &self.manifest.len())
            .finish_non_exhaustive()
    }
}

const HASHES_PART: &str = "hashes.csv.part";

impl MispWriter {
    /// Creates `dir` if needed and opens the hashes scratch file in it.
    pub fn new(meta: &FeedMeta, dir: PathBuf) -> io::Result<MispWriter> {
        std::fs::create_dir_all(&dir)?;
        let hashes = BufWriter::new(File::create(dir.join(HASHES_PART))?);
        Ok(MispWriter {
            meta: meta.clone(),
            dir,
            hashes,
            manifest: BTreeMap::new(),
            pending: None,
        })
    }

    /// Makes `uuid` the event being collected, writing the previous one out.
    fn switch_to(
        &mut self,
        uuid: uuid::Uuid,
        campaign: Option<Arc<IntelCampaign>>,
    ) -> io::Result<()> {
        if self.pending.as_ref().is_some_and(|p| p.uuid == uuid) {
            return Ok(());
        }
        self.flush()?;
        if self.manifest.contains_key(&uuid.to_string()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "MISP event {uuid} was already written: the driver must hand over each campaign's indicators together"
                ),
            ));
        }
        self.pending = Some(Pending {
            uuid,
            campaign,
            iocs: Vec::new(),
            seen: HashSet::new(),
            attributes: 0,
            dropped: 0,
        });
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        let Some(p) = self.pending.take() else {
            return Ok(());
        };
        let input = event::EventInput {
            uuid: p.uuid,
            campaign: p.campaign.as_deref(),
            iocs: &p.iocs,
            dropped: p.dropped,
        };
        let built = event::build(&input, &self.meta);
        let name = p.uuid.to_string();
        let mut f = BufWriter::new(File::create(self.dir.join(format!("{name}.json")))?);
        serde_json::to_writer(&mut f, &built.event)?;
        f.flush()?;
        for v in built.event.attribute_values() {
            writeln!(self.hashes, "{},{name}", md5::md5_hex(v.as_bytes()))?;
        }
        self.manifest.insert(name, built.manifest);
        Ok(())
    }
}

/// Attributes an indicator becomes (a payload: up to 9 in its file object; a sender: the
/// attribute and the email object's `from`).
fn cost(ioc: &Ioc) -> usize {
    match ioc.kind {
        IndicatorKind::Sha256 => 9,
        IndicatorKind::Email => 2,
        _ => 1,
    }
}

impl FeedWriter for MispWriter {
    fn campaign(&mut self, campaign: &IntelCampaign) -> io::Result<()> {
        self.switch_to(campaign.brief.uuid, Some(Arc::new(campaign.clone())))
    }

    fn ioc(&mut self, ioc: &Ioc) -> io::Result<()> {
        let (uuid, campaign) = match &ioc.campaign {
            Some(c) => (c.brief.uuid, Some(c.clone())),
            None => (unclustered_uuid(self.meta.producer.uuid), None),
        };
        self.switch_to(uuid, campaign)?;
        let p = self
            .pending
            .as_mut()
            .expect("switch_to leaves a pending event");
        let key = (ioc.kind, ioc.value.clone());
        if p.seen.contains(&key) {
            return Ok(());
        }
        if p.attributes + cost(ioc) > MAX_EVENT_ATTRIBUTES {
            p.dropped += 1;
            return Ok(());
        }
        p.seen.insert(key);
        p.attributes += cost(ioc);
        p.iocs.push(ioc.clone());
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        self.flush()?;
        self.hashes.flush()?;
        let mut m = BufWriter::new(File::create(self.dir.join("manifest.json"))?);
        serde_json::to_writer(&mut m, &self.manifest)?;
        m.flush()?;
        std::fs::rename(self.dir.join(HASHES_PART), self.dir.join("hashes.csv"))
    }
}
