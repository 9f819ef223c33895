//! `spamhattan alerts list|redeliver`: alerts with the state of each delivery.

use crate::config::Config;
use anyhow::Result;
use std::io::Write;
use std::process::ExitCode;

pub fn list(cfg: &Config, limit: usize, since: Option<&str>, json: bool) -> Result<ExitCode> {
    let since = since.map(super::worker::parse_since).transpose()?;
    let store = super::open_store(cfg)?;
    let rows = store.alerts(since, limit)?;
    let mut out = std::io::stdout().lock();
    if json {
        for a in rows {
            writeln!(out, "{}", serde_json::to_string(&a)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<20}  {:<8}  {:<24}  {:>8}  {:<24}  title",
        "raised", "severity", "rule", "campaign", "deliveries"
    )?;
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    for a in rows {
        let deliveries: Vec<String> = a
            .deliveries
            .iter()
            .map(|d| format!("{}:{}", d.receiver, d.state))
            .collect();
        let title: String = a
            .alert
            .title
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(100)
            .collect();
        writeln!(
            out,
            "{:<20}  {:<8}  {:<24}  {:>8}  {:<24}  {}",
            a.alert.created_at.format(&f).unwrap_or_default(),
            a.alert.severity.as_str(),
            a.alert.rule,
            a.alert.campaign.map(|c| c.to_string()).unwrap_or_default(),
            deliveries.join(","),
            title
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A running `serve` (or `worker`) delivers them within its idle check (1 s).
pub fn redeliver(cfg: &Config, receiver: Option<&str>) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let n = store.redeliver_failed(receiver)?;
    eprintln!("spamhattan: {n} failed deliveries queued again");
    Ok(ExitCode::SUCCESS)
}
