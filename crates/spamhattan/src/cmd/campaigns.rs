//! `spamhattan campaigns list|show|merge|label|export`: the campaign index.

use crate::cli::CampaignsCommand;
use crate::config::Config;
use anyhow::{Result, bail};
use model::Campaign;
use std::io::Write;
use std::process::ExitCode;
use store::CampaignQuery;

/// Campaigns listed per export query page: bounded memory however many campaigns exist.
const EXPORT_PAGE: usize = 1_000;

/// Messages listed per campaign by `export`: all of them, up to this (a sanity bound).
const EXPORT_MESSAGES: usize = 10_000_000;

pub fn run(c: CampaignsCommand) -> Result<ExitCode> {
    match c {
        CampaignsCommand::List {
            common,
            limit,
            min_messages,
            since,
            all,
            json,
        } => {
            let q = CampaignQuery {
                limit,
                since: since
                    .as_deref()
                    .map(super::worker::parse_since)
                    .transpose()?,
                include_merged: all,
                min_messages,
                facet_values: if json { store::FACET_VALUES_SHOWN } else { 3 },
            };
            list(&super::resolve(&common)?, &q, json)
        }
        CampaignsCommand::Show {
            common,
            id,
            messages,
        } => show(&super::resolve(&common)?, id, messages),
        CampaignsCommand::Merge { common, from, into } => {
            let cfg = super::resolve(&common)?;
            let store = super::open_store(&cfg)?;
            crate::worker::campaign::merge_by_analyst(&store, from, into)?;
            eprintln!("spamhattan: campaign {from} merged into {into}");
            Ok(ExitCode::SUCCESS)
        }
        CampaignsCommand::Label {
            common,
            id,
            text,
            notes,
        } => {
            let cfg = super::resolve(&common)?;
            let store = super::open_store(&cfg)?;
            if !store.annotate_campaign(id, Some(&text), notes.as_deref())? {
                bail!("no campaign {id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        CampaignsCommand::Export {
            common,
            json: _,
            all,
        } => export(&super::resolve(&common)?, all),
        CampaignsCommand::Bench {
            dir,
            sizes,
            probes,
            seed,
        } => super::campaign_bench::run(
            &dir,
            &super::campaign_bench::BenchArgs {
                sizes,
                probes,
                seed,
            },
        ),
    }
}

fn list(cfg: &Config, q: &CampaignQuery, json: bool) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let rows = store.campaigns(q)?;
    let mut out = std::io::stdout().lock();
    if json {
        for c in rows {
            writeln!(out, "{}", serde_json::to_string(&c)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:>6}  {:>6}  {:<8}  {:<19}  {:<19}  {:<19}  subject / domain",
        "id", "msgs", "status", "verdict", "first seen", "last seen"
    )?;
    for c in rows {
        writeln!(
            out,
            "{:>6}  {:>6}  {:<8}  {:<19}  {:<19}  {:<19}  {}",
            c.id,
            c.messages,
            c.status.as_str(),
            c.verdict.as_str(),
            short_time(c.first_seen),
            short_time(c.last_seen),
            headline(&c)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The most telling facet values of a campaign, on one line, control characters removed.
fn headline(c: &Campaign) -> String {
    let top = |facet: &str| {
        c.facets
            .get(facet)
            .and_then(|v| v.first())
            .map(|v| v.value.clone())
    };
    let mut parts = Vec::new();
    if !c.label.is_empty() {
        parts.push(format!("[{}]", c.label));
    }
    parts.extend(top("subject_template"));
    parts.extend(top("domain"));
    let line: String = parts
        .join(" | ")
        .chars()
        .map(|ch| if ch.is_control() { ' ' } else { ch })
        .take(100)
        .collect();
    line
}

fn short_time(t: model::Timestamp) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.format(&f).unwrap_or_default()
}

fn show(cfg: &Config, id: i64, messages: usize) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let Some(c) = store.campaign(id)? else {
        eprintln!("spamhattan: no campaign {id}");
        return Ok(ExitCode::from(1));
    };
    let members = store.campaign_members(id, messages)?;
    let merges = store.campaign_merges(id)?;
    let mut v = serde_json::to_value(&c)?;
    if let Some(obj) = v.as_object_mut() {
        obj.insert("merges".into(), serde_json::to_value(&merges)?);
        obj.insert("sightings".into(), serde_json::to_value(&members)?);
    }
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::to_string_pretty(&v)?
    )?;
    Ok(ExitCode::SUCCESS)
}

fn export(cfg: &Config, all: bool) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let mut out = std::io::stdout().lock();
    let mut before: Option<i64> = None;
    loop {
        let page = store.campaigns_by_id(before, EXPORT_PAGE, all)?;
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        for c in page {
            let members = store.campaign_members(c.id, EXPORT_MESSAGES)?;
            let mut ids: Vec<String> = members.iter().map(|m| m.message_id.to_hex()).collect();
            ids.sort();
            ids.dedup();
            let mut v = serde_json::to_value(&c)?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("sightings".into(), members.len().into());
                obj.insert("message_ids".into(), ids.into());
            }
            writeln!(out, "{}", serde_json::to_string(&v)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
