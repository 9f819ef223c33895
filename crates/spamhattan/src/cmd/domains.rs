//! `spamhattan domains [--days N] [--json]`: every configured trap domain with its state today,
//! sector and dates, what it received in the last N days, and its first message after
//! activation.
//!
//! The store counts per exact recipient domain; each exact domain is added to the most specific
//! configured domain it belongs to (`trap::domain_for`, the rule the RCPT decision uses), so
//! `live.trap.example` next to `*.trap.example` is not counted twice. Exact domains that belong
//! to no configured domain (a domain since removed from the config) are listed after them.

use crate::cli::DomainsArgs;
use crate::config::Config;
use anyhow::{Result, bail};
use model::{DomainState, Timestamp, TrapDomain};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use store::{Count, DomainStats};
use time::{Date, Duration, format_description::FormatItem, macros::format_description};

/// Longest window: a year and a day, the console's limit too; longer questions are exports.
pub const MAX_DAYS: u32 = 366;

/// Exact domains a wildcard entry's first-after-activation is looked up for, at most: one
/// index seek each.
const MAX_FIRST_LOOKUPS: usize = 256;

const DAY: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");
const STAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]Z");

/// One line of the report (`--json` prints these, one per line).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DomainSummary {
    /// `name` or `*.name`; exact domains outside the config are listed with `configured: false`.
    pub pattern: String,
    pub configured: bool,
    /// `new`, `aging`, `active`, `retired` today (UTC); `None` when not configured.
    pub state: Option<DomainState>,
    pub sector: String,
    pub added: Option<String>,
    pub aging_from: Option<String>,
    pub active_from: Option<String>,
    pub retired_from: Option<String>,
    /// The window, in days back from now.
    pub days: u32,
    pub messages: u64,
    /// Distinct campaigns per exact domain, summed: a campaign that reached two subdomains of
    /// a wildcard entry counts twice.
    pub campaigns: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_seen: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<Timestamp>,
    pub by_class: Vec<Count>,
    pub by_sensor: Vec<Count>,
    /// The exact domains that received mail in the window.
    pub exact_domains: Vec<String>,
    /// First message at or after `active_from` (00:00 UTC), and how long after that it came.
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_after_activation: Option<Timestamp>,
    pub first_after_activation_secs: Option<i64>,
}

pub fn run(cfg: &Config, args: &DomainsArgs) -> Result<ExitCode> {
    if args.days == 0 || args.days > MAX_DAYS {
        bail!("--days must be 1 to {MAX_DAYS}, got {}", args.days);
    }
    let store = super::open_store(cfg)?;
    let now = model::now();
    let since = now - Duration::days(i64::from(args.days));
    let stats = store.domain_stats(since, now)?;
    let mut rows = summarize(&cfg.trap.domains, &stats, now.date(), args.days);
    for (row, domain) in rows.iter_mut().zip(&cfg.trap.domains) {
        let Some(start) = domain.activation().map(|d| d.midnight().assume_utc()) else {
            continue;
        };
        let mut candidates = vec![domain.name.clone()];
        candidates.extend(row.exact_domains.iter().cloned());
        candidates.sort();
        candidates.dedup();
        let mut first: Option<Timestamp> = None;
        for exact in candidates.iter().take(MAX_FIRST_LOOKUPS) {
            if let Some(t) = store.domain_first_since(exact, start)? {
                first = Some(first.map_or(t, |f| f.min(t)));
            }
        }
        row.first_after_activation = first;
        row.first_after_activation_secs = first.map(|t| (t - start).whole_seconds());
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        for r in &rows {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        }
    } else {
        if rows.is_empty() {
            writeln!(
                out,
                "no trap domain configured and no mail in the last {} days",
                args.days
            )?;
        }
        for r in &rows {
            write_text(&mut out, r)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One summary per configured domain (in config order), then one per exact domain seen that
/// matches none; the store rows are added to the most specific configured domain.
pub fn summarize(
    domains: &[TrapDomain],
    stats: &[DomainStats],
    today: Date,
    days: u32,
) -> Vec<DomainSummary> {
    let mut rows: Vec<DomainSummary> = domains.iter().map(|d| configured(d, today, days)).collect();
    let mut loose: BTreeMap<String, DomainSummary> = BTreeMap::new();
    for s in stats {
        let exact = s.domain.to_ascii_lowercase();
        let row = match trap::domain_for(domains, &exact)
            .and_then(|d| domains.iter().position(|o| std::ptr::eq(o, d)))
        {
            Some(i) => &mut rows[i],
            None => loose.entry(exact.clone()).or_insert_with(|| DomainSummary {
                pattern: exact.clone(),
                days,
                ..DomainSummary::default()
            }),
        };
        add(row, &exact, s);
    }
    rows.extend(loose.into_values());
    for r in &mut rows {
        sort_counts(&mut r.by_class);
        sort_counts(&mut r.by_sensor);
    }
    rows
}

fn configured(d: &TrapDomain, today: Date, days: u32) -> DomainSummary {
    let day = |v: Option<Date>| v.and_then(|v| v.format(DAY).ok());
    DomainSummary {
        pattern: d.pattern(),
        configured: true,
        state: Some(d.state_on(today)),
        sector: d.sector.clone(),
        added: day(d.added),
        aging_from: day(d.aging_from),
        active_from: day(d.active_from),
        retired_from: day(d.retired_from),
        days,
        ..DomainSummary::default()
    }
}

fn add(row: &mut DomainSummary, exact: &str, s: &DomainStats) {
    row.messages += s.messages;
    row.campaigns += s.campaigns;
    row.first_seen = earliest(row.first_seen, s.first_seen);
    row.last_seen = match (row.last_seen, s.last_seen) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    merge(&mut row.by_class, &s.by_class);
    merge(&mut row.by_sensor, &s.by_sensor);
    if !row.exact_domains.iter().any(|e| e == exact) {
        row.exact_domains.push(exact.to_string());
    }
}

fn earliest(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn merge(into: &mut Vec<Count>, from: &[Count]) {
    for c in from {
        match into.iter_mut().find(|i| i.key == c.key) {
            Some(i) => i.count += c.count,
            None => into.push(c.clone()),
        }
    }
}

/// Most frequent first, then by name, so the output is stable.
fn sort_counts(v: &mut [Count]) {
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
}

fn write_text(out: &mut impl Write, r: &DomainSummary) -> Result<()> {
    let state = r.state.map_or("not configured", DomainState::as_str);
    let sector = if r.sector.is_empty() {
        String::new()
    } else {
        format!("  sector {}", printable(&r.sector))
    };
    writeln!(out, "{}  {state}{sector}", r.pattern)?;
    if r.configured {
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
        r.days,
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
    use time::macros::{date, datetime};

    fn stats(domain: &str, messages: u64, first: Timestamp, sensor: &str) -> DomainStats {
        DomainStats {
            domain: domain.into(),
            messages,
            first_seen: Some(first),
            last_seen: Some(first + Duration::hours(1)),
            by_class: vec![Count {
                key: "spam".into(),
                count: messages,
            }],
            campaigns: 1,
            by_sensor: vec![Count {
                key: sensor.into(),
                count: messages,
            }],
        }
    }

    #[test]
    fn exact_domains_add_up_under_their_most_specific_entry() {
        let domains = vec![
            TrapDomain {
                active_from: Some(date!(2030 - 01 - 01)),
                sector: "retail".into(),
                ..TrapDomain::active("*.trap.example")
            },
            TrapDomain::active("live.trap.example"),
        ];
        let t = datetime!(2027-05-01 10:00 UTC);
        let rows = summarize(
            &domains,
            &[
                stats("a.trap.example", 2, t, "smtp"),
                stats("trap.example", 3, t - Duration::days(1), "smtps"),
                stats("live.trap.example", 5, t, "smtp"),
                stats("gone.example", 1, t, "smtp"),
            ],
            date!(2027 - 05 - 02),
            30,
        );
        assert_eq!(rows.len(), 3);
        let wild = &rows[0];
        assert_eq!(
            (
                wild.pattern.as_str(),
                wild.state,
                wild.messages,
                wild.campaigns
            ),
            ("*.trap.example", Some(DomainState::New), 5, 2)
        );
        assert_eq!(wild.first_seen, Some(t - Duration::days(1)));
        assert_eq!(wild.last_seen, Some(t + Duration::hours(1)));
        assert_eq!(wild.active_from.as_deref(), Some("2030-01-01"));
        assert_eq!(wild.exact_domains, vec!["a.trap.example", "trap.example"]);
        assert_eq!(
            wild.by_sensor,
            vec![
                Count {
                    key: "smtps".into(),
                    count: 3
                },
                Count {
                    key: "smtp".into(),
                    count: 2
                }
            ]
        );
        assert_eq!(
            (rows[1].messages, rows[1].state),
            (5, Some(DomainState::Active))
        );
        assert_eq!(
            (rows[2].pattern.as_str(), rows[2].configured, rows[2].state),
            ("gone.example", false, None)
        );
    }

    #[test]
    fn a_domain_without_mail_is_listed_with_zeros() {
        let rows = summarize(
            &[TrapDomain::active("quiet.example")],
            &[],
            date!(2027 - 01 - 01),
            7,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].messages, rows[0].days), (0, 7));
        let json = serde_json::to_value(&rows[0]).unwrap_or_default();
        assert_eq!(json["state"], "active");
        assert_eq!(json["first_seen"], serde_json::Value::Null);
    }

    #[test]
    fn delays_read_as_days_and_hours() {
        assert_eq!(human(40), "40s");
        assert_eq!(human(3 * 3600 + 120), "3h 2m");
        assert_eq!(human(2 * 86_400 + 5 * 3600), "2d 5h");
    }
}
