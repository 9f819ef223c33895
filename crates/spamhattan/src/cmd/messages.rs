//! `spamhattan messages list|raw|report`: what was captured, its exact bytes, its report.

use crate::config::Config;
use anyhow::{Context, Result};
use model::{MessageId, SightingSource};
use std::io::Write;
use std::process::ExitCode;
use store::{RawLookup, SightingQuery};

pub fn list(cfg: &Config, json: bool, limit: usize) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let sightings = store.sightings(&SightingQuery {
        limit,
        ..SightingQuery::default()
    })?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for s in sightings {
        let recipients: Vec<&str> = s.envelope.accepted().map(|r| r.address.as_str()).collect();
        let source = match &s.source {
            SightingSource::Smtp => "smtp",
            SightingSource::Import { .. } => "import",
        };
        let received = s
            .received_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        if json {
            let v = serde_json::json!({
                "id": s.message_id, "sighting": s.id, "received_at": received, "source": source,
                "peer": s.peer, "sender": s.sender(), "recipients": recipients, "size": s.size,
                "sensor": s.sensor,
            });
            writeln!(out, "{v}")?;
        } else {
            writeln!(
                out,
                "{received}  {}  {:>8}  {:<21}  {} -> {}",
                s.message_id,
                s.size,
                s.peer,
                s.sender(),
                recipients.join(",")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn raw(cfg: &Config, id: &str) -> Result<ExitCode> {
    let id: MessageId = id.parse().context("bad message id")?;
    let store = super::open_store(cfg)?;
    match store.raw(&id)? {
        RawLookup::Found(bytes) => {
            std::io::stdout().lock().write_all(&bytes)?;
            Ok(ExitCode::SUCCESS)
        }
        RawLookup::Purged => {
            eprintln!("spamhattan: message {id}: raw bytes were removed by the retention policy");
            Ok(ExitCode::from(1))
        }
        RawLookup::Unknown => {
            eprintln!("spamhattan: no message {id}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The report of a sighting (UUID) or the newest report of a message (SHA-256).
pub fn report(cfg: &Config, id: &str) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let report = if let Ok(sighting) = id.parse::<uuid::Uuid>() {
        store.report(sighting)?
    } else {
        let message: MessageId = id
            .parse()
            .context("want a sighting UUID or a message id (SHA-256)")?;
        store.report_for_message(&message)?
    };
    match report {
        Some(r) => {
            writeln!(std::io::stdout().lock(), "{}", serde_json::to_string(&r)?)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("spamhattan: no report for {id} (not analysed yet, or unknown)");
            Ok(ExitCode::from(1))
        }
    }
}
