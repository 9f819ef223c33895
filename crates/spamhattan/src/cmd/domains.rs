//! `spamhattan domains [--days N] [--json]`: every configured trap domain with its state today,
//! sector and dates, what it received in the last N days, and its first message after
//! activation: the store's [`store::Store::domain_report`], the same summary the console and
//! `/api/v1/domains` show.

use crate::cli::DomainsArgs;
use crate::config::Config;
use anyhow::{Result, bail};
use model::{DomainState, Timestamp};
use std::io::Write;
use std::process::ExitCode;
use store::{Count, DomainSummary, MAX_REPORT_DAYS};
use time::{format_description::FormatItem, macros::format_description};

const STAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");

pub fn run(cfg: &Config, args: &DomainsArgs) -> Result<ExitCode> {
    if args.days == 0 || args.days > MAX_REPORT_DAYS {
        bail!("--days must be 1 to {MAX_REPORT_DAYS}, got {}", args.days);
    }
    let store = super::open_store(cfg)?;
    let report = store.domain_report(&cfg.trap.domains, args.days, model::now())?;
    let mut out = std::io::stdout().lock();
    if args.json {
        for r in &report.domains {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
    } else {
        if report.domains.is_empty() {
            writeln!(
                out,
                "no trap domain configured and no mail in the last {} days",
                args.days
            )?;
        }
        for r in &report.domains {
            write_text(&mut out, r, args.days)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_text(out: &mut impl Write, r: &DomainSummary, days: u32) -> Result<()> {
    let state = r.state.map_or("not configured", DomainState::as_str);
    let sector = if r.sector.is_empty() {
        String::new()
    } else {
        format!("  sector {}", printable(&r.sector))
    };
    writeln!(out, "{}  {state}{sector}", r.pattern)?;
    if r.state.is_some() {
        let d = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "  dates: added {}, aging {}, active {}, retired {}",
            d(&r.added),
            d(&r.aging_from),
            d(&r.active_from),
            d(&r.retired_from)
        )?;
    }
    let stamp = |t: Option<Timestamp>| {
        t.and_then(|t| t.format(STAMP).ok())
            .unwrap_or_else(|| "-".into())
    };
    writeln!(
        out,
        "  last {} days: {} messages, {} campaigns, first {}, last {}",
        days,
        r.messages,
        r.campaigns,
        stamp(r.first_seen),
        stamp(r.last_seen)
    )?;
    if !r.by_class.is_empty() {
        writeln!(out, "  verdicts: {}", counts(&r.by_class))?;
    }
    if !r.by_sensor.is_empty() {
        writeln!(out, "  sensors: {}", counts(&r.by_sensor))?;
    }
    if r.exact_domains.len() > 1 || r.exact_domains.first().is_some_and(|e| *e != r.pattern) {
        writeln!(out, "  domains: {}", r.exact_domains.join(", "))?;
    }
    if r.active_from.is_some() {
        let after = match r.first_after_activation_secs {
            Some(s) => format!(" ({} after activation)", human(s)),
            None => String::new(),
        };
        writeln!(
            out,
            "  first message after activation: {}{after}",
            stamp(r.first_after_activation)
        )?;
    }
    Ok(())
}

fn counts(v: &[Count]) -> String {
    let parts: Vec<String> = v
        .iter()
        .map(|c| format!("{} {}", printable(&c.key), c.count))
        .collect();
    parts.join(", ")
}

/// Sensor names and verdict keys come from the store; control characters never reach the
/// terminal.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(100)
        .collect()
}

/// `3d 4h`, `2h 5m`, `40s`.
fn human(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_read_as_days_and_hours() {
        assert_eq!(human(40), "40s");
        assert_eq!(human(3 * 3600 + 120), "3h 2m");
        assert_eq!(human(2 * 86_400 + 5 * 3600), "2d 5h");
    }
}
