//! `spamhattan indicators list|show`: the indicator index built from the reports.

use crate::config::Config;
use anyhow::{Result, bail};
use model::report::IndicatorKind;
use std::io::Write;
use std::process::ExitCode;
use store::IndicatorQuery;

/// Sightings listed per indicator by `show`.
const SHOW_SIGHTINGS: usize = 100;

fn kind(s: &str) -> Result<IndicatorKind> {
    match IndicatorKind::parse(s) {
        Some(k) => Ok(k),
        None => bail!(
            "unknown indicator kind {s:?} (want url, domain, ip, email, md5, sha1, sha256, filename or yara)"
        ),
    }
}

pub fn list(cfg: &Config, k: Option<&str>, limit: usize) -> Result<ExitCode> {
    let kind = k.map(kind).transpose()?;
    let store = super::open_store(cfg)?;
    let rows = store.indicators(&IndicatorQuery {
        kind,
        since: None,
        limit,
        sightings_per_indicator: 0,
    })?;
    let mut out = std::io::stdout().lock();
    for r in rows {
        writeln!(out, "{}", serde_json::to_string(&r)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(cfg: &Config, k: &str, value: &str) -> Result<ExitCode> {
    let kind = kind(k)?;
    let store = super::open_store(cfg)?;
    match store.indicator(kind, value, SHOW_SIGHTINGS)? {
        Some(r) => {
            writeln!(std::io::stdout().lock(), "{}", serde_json::to_string(&r)?)?;
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("spamhattan: no {k} indicator {value:?}");
            Ok(ExitCode::from(1))
        }
    }
}
