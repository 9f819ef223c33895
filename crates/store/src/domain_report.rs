//! Per configured trap domain: its lifecycle and what arrived over a window of days. One
//! summary for the API, the console and the `domains` command.
//!
//! The store counts per exact recipient domain ([`DomainStats`], `domains.rs`);
//! [`summarise`] adds those rows up under the configured domain each belongs to
//! ([`model::domain::find_domain`]: the most specific entry, the rule the RCPT decision uses),
//! so `live.trap.example` configured next to `*.trap.example` is not counted twice. Exact
//! domains that belong to no configured domain (one removed from the configuration) are listed
//! after them, with no state.

use crate::search::Count;
use crate::{DomainStats, Result, Store, Timestamp};
use model::{DomainState, TrapDomain};
use serde::Serialize;
use std::collections::BTreeMap;

/// Longest window, in days: a year and a day. Longer questions are exports.
pub const MAX_REPORT_DAYS: u32 = 366;

/// Exact domains whose first message after activation is looked up per configured domain,
/// at most (one index seek each): the apex, then the exact domains seen in the window.
pub const MAX_FIRST_LOOKUPS: usize = 64;

/// One trap domain (or one exact domain no longer configured) over the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainSummary {
    /// `name` or `*.name`; for an unconfigured domain, the exact domain.
    pub pattern: String,
    /// The state today; `None` for a domain that is not configured.
    pub state: Option<DomainState>,
    pub sector: String,
    /// Lifecycle dates (`YYYY-MM-DD`), as configured.
    pub added: Option<String>,
    pub aging_from: Option<String>,
    pub active_from: Option<String>,
    pub retired_from: Option<String>,
    /// The exact recipient domains counted here.
    pub exact_domains: Vec<String>,
    pub messages: u64,
    /// Verdict classes, most frequent first.
    pub by_class: Vec<Count>,
    /// Distinct campaigns, summed over the exact domains (a campaign that mailed two
    /// subdomains of a wildcard counts twice).
    pub campaigns: u64,
    /// Messages per sensor, most first.
    pub by_sensor: Vec<Count>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_seen: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<Timestamp>,
    /// The first message at or after `active_from` (at any time, not only in the window).
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_after_activation: Option<Timestamp>,
    /// Seconds from the start of `active_from` (00:00 UTC) to that message.
    pub first_after_activation_secs: Option<i64>,
}

/// The summaries over `days` up to `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainReport {
    pub days: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub since: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub until: Timestamp,
    pub domains: Vec<DomainSummary>,
}

impl Store {
    /// Every configured domain with its state on `now`'s date and its statistics over the
    /// `days` (clamped to 1..=[`MAX_REPORT_DAYS`]) before `now`, then the exact domains that
    /// belong to none.
    pub fn domain_report(
        &self,
        configured: &[TrapDomain],
        days: u32,
        now: Timestamp,
    ) -> Result<DomainReport> {
        let days = days.clamp(1, MAX_REPORT_DAYS);
        let since = now - time::Duration::days(i64::from(days));
        let rows = self.domain_stats(since, now)?;
        let mut domains = summarise(configured, now.date(), &rows);
        for (d, e) in configured.iter().zip(domains.iter_mut()) {
            let Some(start) = d.activation().map(|a| a.midnight().assume_utc()) else {
                continue;
            };
            if start > now {
                continue;
            }
            let mut names = vec![d.name.clone()];
            names.extend(e.exact_domains.iter().filter(|x| **x != d.name).cloned());
            let mut first: Option<Timestamp> = None;
            for name in names.iter().take(MAX_FIRST_LOOKUPS) {
                if let Some(t) = self.domain_first_since(name, start)? {
                    first = Some(first.map_or(t, |f| f.min(t)));
                }
            }
            e.first_after_activation = first;
            e.first_after_activation_secs = first.map(|t| (t - start).whole_seconds());
        }
        Ok(DomainReport {
            days,
            since,
            until: now,
            domains,
        })
    }
}

/// The per-exact-domain rows under the configured domains (in configuration order), then the
/// unconfigured exact domains (most messages first). Leaves the first message after
/// activation empty (a store read, done by [`Store::domain_report`]).
pub fn summarise(
    configured: &[TrapDomain],
    today: time::Date,
    rows: &[DomainStats],
) -> Vec<DomainSummary> {
    let mut out: Vec<DomainSummary> = configured
        .iter()
        .map(|d| DomainSummary {
            sector: d.sector.clone(),
            added: ymd(d.added),
            aging_from: ymd(d.aging_from),
            active_from: ymd(d.active_from),
            retired_from: ymd(d.retired_from),
            ..empty(d.pattern(), Some(d.state_on(today)))
        })
        .collect();
    let mut loose: Vec<DomainSummary> = Vec::new();
    for row in rows {
        let owner = model::domain::find_domain(configured, &row.domain);
        match owner.and_then(|o| configured.iter().position(|d| std::ptr::eq(d, o))) {
            Some(i) => add(&mut out[i], row),
            None => {
                let mut e = empty(row.domain.clone(), None);
                add(&mut e, row);
                loose.push(e);
            }
        }
    }
    loose.sort_by(|a, b| {
        b.messages
            .cmp(&a.messages)
            .then_with(|| a.pattern.cmp(&b.pattern))
    });
    out.extend(loose);
    out
}

fn ymd(d: Option<time::Date>) -> Option<String> {
    d.map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()))
}

/// `a` plus `b`, by key, most frequent first (ties by key).
fn merge_counts(a: &mut Vec<Count>, b: &[Count]) {
    let mut sum: BTreeMap<String, u64> = a.drain(..).map(|c| (c.key, c.count)).collect();
    for c in b {
        *sum.entry(c.key.clone()).or_default() += c.count;
    }
    a.extend(sum.into_iter().map(|(key, count)| Count { key, count }));
    a.sort_by(|x, y| y.count.cmp(&x.count).then_with(|| x.key.cmp(&y.key)));
}

fn empty(pattern: String, state: Option<DomainState>) -> DomainSummary {
    DomainSummary {
        pattern,
        state,
        sector: String::new(),
        added: None,
        aging_from: None,
        active_from: None,
        retired_from: None,
        exact_domains: Vec::new(),
        messages: 0,
        by_class: Vec::new(),
        campaigns: 0,
        by_sensor: Vec::new(),
        first_seen: None,
        last_seen: None,
        first_after_activation: None,
        first_after_activation_secs: None,
    }
}

fn add(e: &mut DomainSummary, row: &DomainStats) {
    if !e.exact_domains.contains(&row.domain) {
        e.exact_domains.push(row.domain.clone());
    }
    e.messages += row.messages;
    e.campaigns += row.campaigns;
    merge_counts(&mut e.by_class, &row.by_class);
    merge_counts(&mut e.by_sensor, &row.by_sensor);
    e.first_seen = match (e.first_seen, row.first_seen) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    e.last_seen = match (e.last_seen, row.last_seen) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn row(domain: &str, messages: u64, class: &[(&str, u64)], seen: Timestamp) -> DomainStats {
        DomainStats {
            domain: domain.into(),
            messages,
            first_seen: Some(seen),
            last_seen: Some(seen),
            by_class: class
                .iter()
                .map(|(k, n)| Count {
                    key: (*k).into(),
                    count: *n,
                })
                .collect(),
            campaigns: 1,
            by_sensor: vec![Count {
                key: "smtp".into(),
                count: messages,
            }],
        }
    }

    fn count(key: &str, count: u64) -> Count {
        Count {
            key: key.into(),
            count,
        }
    }

    #[test]
    fn exact_domains_add_up_under_their_pattern_and_the_rest_stand_alone() {
        let configured = vec![
            TrapDomain::active("*.trap.example"),
            TrapDomain {
                active_from: Some(date!(2027 - 01 - 01)),
                sector: "finance".into(),
                ..TrapDomain::active("bank.example")
            },
        ];
        let t1 = datetime!(2026-12-01 10:00 UTC);
        let t2 = datetime!(2026-12-03 10:00 UTC);
        let rows = vec![
            row("trap.example", 3, &[("spam", 2), ("malware", 1)], t2),
            row("a.trap.example", 2, &[("spam", 2)], t1),
            row("gone.example", 1, &[("spam", 1)], t1),
            row("eviltrap.example", 4, &[("phishing", 4)], t1),
        ];
        let e = summarise(&configured, date!(2026 - 12 - 05), &rows);
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].pattern, "*.trap.example");
        assert_eq!(e[0].state, Some(DomainState::Active));
        assert_eq!((e[0].messages, e[0].campaigns), (5, 2));
        assert_eq!((e[0].first_seen, e[0].last_seen), (Some(t1), Some(t2)));
        assert_eq!(e[0].by_class, vec![count("spam", 4), count("malware", 1)]);
        assert_eq!(e[0].exact_domains, vec!["trap.example", "a.trap.example"]);
        assert_eq!(e[1].pattern, "bank.example");
        assert_eq!(e[1].state, Some(DomainState::New));
        assert_eq!(e[1].sector, "finance");
        assert_eq!(e[1].active_from.as_deref(), Some("2027-01-01"));
        assert_eq!(e[1].messages, 0);
        // Not configured: listed alone, most messages first, no state.
        assert_eq!(e[2].pattern, "eviltrap.example");
        assert_eq!(e[3].pattern, "gone.example");
        assert!(e[2].state.is_none() && e[3].state.is_none());
    }

    #[test]
    fn the_most_specific_entry_gets_the_rows() {
        let configured = vec![
            TrapDomain::active("*.trap.example"),
            TrapDomain::active("live.trap.example"),
        ];
        let t = datetime!(2027-05-01 10:00 UTC);
        let e = summarise(
            &configured,
            date!(2027 - 05 - 02),
            &[
                row("a.trap.example", 2, &[("spam", 2)], t),
                row("live.trap.example", 5, &[("spam", 5)], t),
            ],
        );
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].messages, e[1].messages), (2, 5));
    }

    #[test]
    fn a_domain_without_mail_is_listed_with_zeros() {
        let e = summarise(
            &[TrapDomain::active("quiet.example")],
            date!(2027 - 01 - 01),
            &[],
        );
        assert_eq!(e.len(), 1);
        let json = serde_json::to_value(&e[0]).unwrap_or_default();
        assert_eq!(json["state"], "active");
        assert_eq!(json["messages"], 0);
        assert_eq!(json["first_seen"], serde_json::Value::Null);
    }
}
