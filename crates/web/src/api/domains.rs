//! `GET /api/v1/domains`: per configured trap domain, its lifecycle and what arrived over a
//! window of days (volume, verdict mix, campaigns, sensors, first spam after activation).
//!
//! The store counts per exact recipient domain ([`store::DomainStats`]); [`summarise`] adds
//! those rows up under the configured pattern they belong to ([`model::domain::find_domain`]: the
//! most specific entry, as for the SMTP policy). Exact domains that match no configured pattern (a
//! domain removed from the configuration, say) are listed too, with state `null`.

use super::common::{blocking, query, store_err};
use crate::error::{ApiError, JsonError};
use crate::principal::Principal;
use crate::state::Console;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use model::{DomainState, Timestamp, TrapDomain};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use store::{Count, DomainStats};

/// Days of statistics when the request names none.
pub const DEFAULT_DAYS: u32 = 30;

/// Most days one request covers: a year (and a leap day).
pub const MAX_DAYS: u32 = 366;

/// Exact domains asked for their first message after activation, per configured domain: a
/// wildcard may have many subdomains, and each lookup is one indexed query.
pub const MAX_FIRST_LOOKUPS: usize = 50;

/// One trap domain (or one exact domain no longer configured) over the window.
#[derive(Debug, Clone, Serialize)]
pub struct DomainEntry {
    /// `name` or `*.name`; for an unconfigured domain, the exact domain.
    pub pattern: String,
    /// The state today; null for a domain that is not configured.
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
    pub by_sensor: Vec<Count>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_seen: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<Timestamp>,
    /// The first message at or after `active_from` (at any time, not only in the window).
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_after_activation: Option<Timestamp>,
    /// Seconds from the start of `active_from` (UTC) to that message.
    pub first_after_activation_secs: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct DomainsPage {
    pub days: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub since: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub until: Timestamp,
    pub domains: Vec<DomainEntry>,
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

fn empty(pattern: String, state: Option<DomainState>) -> DomainEntry {
    DomainEntry {
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

fn add(e: &mut DomainEntry, row: &DomainStats) {
    e.exact_domains.push(row.domain.clone());
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

/// The store's per-exact-domain rows under the configured domains (in configuration
/// order), then the unconfigured exact domains (most messages first). The first message
/// after activation is left for [`fill_activation`].
pub fn summarise(
    configured: &[TrapDomain],
    today: time::Date,
    rows: &[DomainStats],
) -> Vec<DomainEntry> {
    let mut out: Vec<DomainEntry> = configured
        .iter()
        .map(|d| DomainEntry {
            sector: d.sector.clone(),
            added: ymd(d.added),
            aging_from: ymd(d.aging_from),
            active_from: ymd(d.active_from),
            retired_from: ymd(d.retired_from),
            ..empty(d.pattern(), Some(d.state_on(today)))
        })
        .collect();
    let mut loose: Vec<DomainEntry> = Vec::new();
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

/// Looks up the first message after each configured domain's activation date: at the apex
/// and at the exact domains seen in the window (at most [`MAX_FIRST_LOOKUPS`]).
pub fn fill_activation(
    s: &store::Store,
    configured: &[TrapDomain],
    entries: &mut [DomainEntry],
    now: Timestamp,
) -> Result<(), store::StoreError> {
    for (d, e) in configured.iter().zip(entries.iter_mut()) {
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
            if let Some(t) = s.domain_first_since(name, start)? {
                first = Some(first.map_or(t, |f| f.min(t)));
            }
        }
        e.first_after_activation = first;
        e.first_after_activation_secs = first.map(|t| (t - start).whole_seconds());
    }
    Ok(())
}

/// Everything `/api/v1/domains` and the console's `/domains` show, over `days` up to `now`.
pub fn read(
    s: &store::Store,
    configured: &[TrapDomain],
    days: u32,
    now: Timestamp,
) -> Result<DomainsPage, store::StoreError> {
    let since = now - time::Duration::days(i64::from(days));
    let rows = s.domain_stats(since, now)?;
    let mut domains = summarise(configured, now.date(), &rows);
    fill_activation(s, configured, &mut domains, now)?;
    Ok(DomainsPage {
        days,
        since,
        until: now,
        domains,
    })
}

/// `days` checked against [`MAX_DAYS`].
pub fn days(v: Option<u32>) -> Result<u32, ApiError> {
    let d = v.unwrap_or(DEFAULT_DAYS);
    if (1..=MAX_DAYS).contains(&d) {
        Ok(d)
    } else {
        Err(ApiError::bad_request(format!(
            "days must be between 1 and {MAX_DAYS}, not {d}"
        )))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainsQuery {
    days: Option<u32>,
}

/// Trap domains with their lifecycle and statistics.
pub async fn list(
    State(console): State<Arc<Console>>,
    _who: Principal,
    q: Result<Query<DomainsQuery>, QueryRejection>,
) -> Result<Json<DomainsPage>, JsonError> {
    let q = query(q)?;
    let days = days(q.days)?;
    let configured = console.settings.trap_domains.clone();
    let page = blocking(&console, move |s| {
        read(s, &configured, days, model::now()).map_err(store_err("domain statistics"))
    })
    .await?;
    Ok(Json(page))
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
        assert_eq!(e[0].messages, 5);
        assert_eq!(e[0].campaigns, 2);
        assert_eq!(e[0].first_seen, Some(t1));
        assert_eq!(e[0].last_seen, Some(t2));
        assert_eq!(
            e[0].by_class,
            vec![
                Count {
                    key: "spam".into(),
                    count: 4
                },
                Count {
                    key: "malware".into(),
                    count: 1
                }
            ]
        );
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
    fn days_are_bounded() {
        assert_eq!(days(None).expect("default"), DEFAULT_DAYS);
        assert_eq!(days(Some(MAX_DAYS)).expect("max"), MAX_DAYS);
        assert!(days(Some(0)).is_err());
        assert!(days(Some(MAX_DAYS + 1)).is_err());
    }
}
