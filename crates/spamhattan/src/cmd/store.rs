//! `spamhattan store stats|verify|prune`.

use crate::config::Config;
use anyhow::Result;
use std::process::ExitCode;

pub fn stats(cfg: &Config, json: bool) -> Result<ExitCode> {
    let stats = super::open_store(cfg)?.stats()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        let v = serde_json::to_value(&stats)?;
        if let serde_json::Value::Object(map) = v {
            for (k, v) in map {
                println!("{k:<22} {v}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the report as JSON on stdout; exits 1 when it lists problems (with a one-line count
/// on stderr), 2 when the store cannot be opened at all (a damaged index: the error says which
/// file and what to do).
pub fn verify(cfg: &Config) -> Result<ExitCode> {
    let report = super::open_store(cfg)?.verify()?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report.is_ok() {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "spamhattan: store verify found {} problem(s) in {} (listed above)",
        report.problems.len(),
        cfg.data_dir.display()
    );
    Ok(ExitCode::from(1))
}

pub fn prune(cfg: &Config) -> Result<ExitCode> {
    let report = super::open_store(cfg)?.enforce_retention()?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
