//! One STIX 2.1 bundle, streamed: `{"type":"bundle","id":"bundle--<v4>","objects":[` then
//! the preamble, each campaign's objects as the driver hands the campaign over, each
//! indicator's objects, and at the end one `report` listing what the bundle holds.
//!
//! Memory stays bounded whatever the export's size: the report lists every campaign id but
//! at most [`MAX_REPORT_REFS`] other objects (indicators first come, first listed; the rest
//! are in the bundle, just not named by the report), and the set of malware families already
//! written (a family shared by campaigns is written once) holds at most [`MAX_FAMILIES`].
//! Observables are written once too: the store holds one row per value, so each observable
//! comes once anyway; the writer still remembers up to [`MAX_OBSERVABLES_REMEMBERED`] ids so a
//! driver handing the same value over twice does not make an invalid bundle.

use super::StixObject;
use super::ids::{identity_id, stix_id};
use super::objects::{domain_object, stix_time, to_millis};
use super::{campaign_objects, ioc_objects, preamble};
use crate::intel::format::{FeedMeta, FeedWriter, Target};
use crate::intel::ids::stable_v4;
use crate::intel::policy::{IntelCampaign, Ioc};
use crate::intel::tlp::Tlp;
use serde_json::json;
use std::collections::HashSet;
use std::io::{self, BufWriter, Write};

/// Most objects besides campaigns the final report names.
pub const MAX_REPORT_REFS: usize = 10_000;

/// Most campaigns the final report names (one export rarely holds more than a few hundred).
pub const MAX_REPORT_CAMPAIGNS: usize = 100_000;

/// Most distinct malware families one bundle carries. Past it, campaigns' further families
/// (their `malware` and `uses` objects) are left out rather than written twice.
pub const MAX_FAMILIES: usize = 4096;

/// Most observable ids remembered to skip repeats (about 80 bytes each).
pub const MAX_OBSERVABLES_REMEMBERED: usize = 100_000;

/// Streams one STIX bundle to a file target.
pub struct StixWriter {
    out: BufWriter<Box<dyn Write + Send>>,
    meta: FeedMeta,
    campaigns: Vec<String>,
    refs: Vec<String>,
    families: HashSet<String>,
    observables: HashSet<String>,
    /// The most restricted marking of anything the report names: the report's own marking.
    tlp: Tlp,
}

impl std::fmt::Debug for StixWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StixWriter")
            .field("campaigns", &self.campaigns.len())
            .field("refs", &self.refs.len())
            .field("families", &self.families.len())
            .finish_non_exhaustive()
    }
}

impl StixWriter {
    /// Starts the bundle and writes the preamble. A STIX bundle is one file: `Target::Dir`
    /// is refused.
    pub fn new(meta: &FeedMeta, target: Target) -> io::Result<StixWriter> {
        let Target::File(w) = target else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a STIX bundle is written to a file, not a directory",
            ));
        };
        let mut out = BufWriter::new(w);
        write!(
            out,
            "{{\"type\":\"bundle\",\"id\":\"{}\",\"objects\":[",
            stix_id(
                "bundle",
                stable_v4(&meta.producer.secret, &export_key("bundle", meta))
            )
        )?;
        let mut writer = StixWriter {
            out,
            meta: meta.clone(),
            campaigns: Vec::new(),
            refs: Vec::new(),
            families: HashSet::new(),
            observables: HashSet::new(),
            tlp: Tlp::Clear,
        };
        let mut first = true;
        for o in preamble(meta) {
            if !first {
                writer.out.write_all(b",")?;
            }
            first = false;
            writer.out.write_all(o.json.as_bytes())?;
        }
        Ok(writer)
    }

    fn write_object(&mut self, o: &StixObject) -> io::Result<()> {
        self.out.write_all(b",")?;
        self.out.write_all(o.json.as_bytes())
    }

    fn name_in_report(&mut self, id: &str) {
        if self.refs.len() < MAX_REPORT_REFS {
            self.refs.push(id.to_string());
        }
    }
}

/// Observables are the objects two indicators can share.
fn is_observable(kind: &str) -> bool {
    matches!(
        kind,
        "url" | "domain-name" | "ipv4-addr" | "ipv6-addr" | "email-addr" | "email-message" | "file"
    )
}

/// The key of this export's derived ids (bundle, report): stable for the same export.
fn export_key(what: &str, meta: &FeedMeta) -> String {
    format!(
        "{what}:{}:{}:{}",
        meta.audience.name,
        meta.serial,
        stix_time(meta.generated_at)
    )
}

impl FeedWriter for StixWriter {
    fn campaign(&mut self, campaign: &IntelCampaign) -> io::Result<()> {
        // `campaign_objects` gives each family's `malware` right before its `uses`; a `uses`
        // whose family was left out (past MAX_FAMILIES) would point at nothing.
        let mut family_written = true;
        for o in campaign_objects(campaign, &self.meta) {
            match o.kind {
                "campaign" if self.campaigns.len() < MAX_REPORT_CAMPAIGNS => {
                    self.campaigns.push(o.id.clone());
                }
                "malware" => {
                    if self.families.contains(&o.id) {
                        family_written = true;
                        continue;
                    }
                    family_written = self.families.len() < MAX_FAMILIES;
                    if !family_written {
                        continue;
                    }
                    self.families.insert(o.id.clone());
                    self.name_in_report(&o.id);
                }
                _ if !family_written => continue,
                _ => {}
            }
            self.write_object(&o)?;
        }
        self.tlp = self.tlp.max(campaign.tlp);
        Ok(())
    }

    fn ioc(&mut self, ioc: &Ioc) -> io::Result<()> {
        let objects = ioc_objects(ioc, &self.meta);
        for o in &objects {
            if is_observable(o.kind) {
                if self.observables.contains(&o.id) {
                    continue;
                }
                if self.observables.len() < MAX_OBSERVABLES_REMEMBERED {
                    self.observables.insert(o.id.clone());
                }
            }
            self.write_object(o)?;
        }
        if let Some(ind) = objects.iter().find(|o| o.kind == "indicator") {
            let id = ind.id.clone();
            self.name_in_report(&id);
            self.tlp = self.tlp.max(ioc.tlp);
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> io::Result<()> {
        let meta = &self.meta;
        let mut refs: Vec<&str> = self.campaigns.iter().map(String::as_str).collect();
        refs.extend(self.refs.iter().map(String::as_str));
        let identity = identity_id(meta.producer.uuid);
        if refs.is_empty() {
            // `object_refs` may not be empty: an empty export reports on its producer.
            refs.push(&identity);
        }
        let id = stix_id(
            "report",
            stable_v4(&meta.producer.secret, &export_key("report", meta)),
        );
        let at = to_millis(meta.generated_at);
        let props = json!({
            "name": format!("spamhattan export for {} at {}", meta.audience.name, stix_time(at)),
            "published": stix_time(at),
            "report_types": ["campaign", "indicator"],
            "object_refs": refs,
        });
        let report = domain_object("report", id, (at, at), self.tlp, meta, props);
        self.write_object(&report)?;
        self.out.write_all(b"]}")?;
        self.out.flush()
    }
}
