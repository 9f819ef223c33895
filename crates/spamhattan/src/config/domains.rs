//! `[[domain]]`: trap domains with a lifecycle (`model::domain`), next to the plain
//! `trap_domains = [...]` list, which keeps meaning "active, no dates".
//!
//! Dates are TOML local dates (`active_from = 2027-03-01`, no quotes), read with toml's own
//! datetime type so the file is checked by the TOML parser and prints back unchanged in
//! `config check`; a time of day or an offset is refused, since the lifecycle turns at UTC
//! midnight and a time would suggest a precision it does not have.

use anyhow::{Result, bail};
use model::{DomainState, TrapDomain};
use serde::{Deserialize, Serialize};
use time::{Date, Month};
use toml::value::Datetime;

/// Longest sector tag: a word or two for statistics, not a description.
pub const MAX_SECTOR: usize = 64;

/// One `[[domain]]` entry as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainFile {
    /// `trap.example`, or `*.trap.example` for the domain and every subdomain.
    pub name: String,
    /// `new`, `aging`, `active` or `retired`; wins over the dates.
    pub state: Option<String>,
    pub added: Option<Datetime>,
    pub aging_from: Option<Datetime>,
    pub active_from: Option<Datetime>,
    pub retired_from: Option<Datetime>,
    /// Free tag shown in statistics (`finance`, `isp`, ...).
    pub sector: Option<String>,
}

/// Every trap domain: the plain list (active) first, then the `[[domain]]` entries. A pattern
/// given twice, in either place, is an error: which entry's lifecycle applied would be a guess.
pub fn build(trap_domains: &[String], entries: &[DomainFile]) -> Result<Vec<TrapDomain>> {
    let mut out: Vec<TrapDomain> = Vec::with_capacity(trap_domains.len() + entries.len());
    for d in trap_domains {
        let pattern =
            pattern(d).ok_or_else(|| anyhow::anyhow!("not a valid trap domain: {d:?}"))?;
        push_unique(&mut out, TrapDomain::active(&pattern), "trap_domains")?;
    }
    for e in entries {
        let d = entry(e).map_err(|err| anyhow::anyhow!("[[domain]] {:?}: {err}", e.name))?;
        push_unique(&mut out, d, "[[domain]]")?;
    }
    Ok(out)
}

fn push_unique(out: &mut Vec<TrapDomain>, d: TrapDomain, place: &str) -> Result<()> {
    if out
        .iter()
        .any(|o| o.name == d.name && o.wildcard == d.wildcard)
    {
        bail!(
            "trap domain {} is configured twice (second time in {place}); give each domain once",
            d.pattern()
        );
    }
    out.push(d);
    Ok(())
}

/// `name` or `*.name`, normalised (lower-case, IDNA, no trailing dot).
fn pattern(raw: &str) -> Option<String> {
    let (wild, bare) = match raw.trim().strip_prefix("*.") {
        Some(rest) => ("*.", rest),
        None => ("", raw.trim()),
    };
    trap::normalize_domain(bare).map(|n| format!("{wild}{n}"))
}

fn entry(e: &DomainFile) -> Result<TrapDomain> {
    let Some(pattern) = pattern(&e.name) else {
        bail!("not a valid trap domain name (want x.example or *.x.example)");
    };
    let state = match e.state.as_deref() {
        None => None,
        Some(s) => Some(DomainState::parse(s).ok_or_else(|| {
            anyhow::anyhow!("state {s:?} is not one of new, aging, active, retired")
        })?),
    };
    let sector = e.sector.clone().unwrap_or_default();
    if sector.chars().count() > MAX_SECTOR || sector.chars().any(char::is_control) {
        bail!("sector must be at most {MAX_SECTOR} printable characters");
    }
    let d = TrapDomain {
        state,
        added: date("added", e.added.as_ref())?,
        aging_from: date("aging_from", e.aging_from.as_ref())?,
        active_from: date("active_from", e.active_from.as_ref())?,
        retired_from: date("retired_from", e.retired_from.as_ref())?,
        sector,
        ..TrapDomain::active(&pattern)
    };
    in_order(&d)?;
    Ok(d)
}

/// A TOML local date as a `time::Date`.
fn date(field: &str, v: Option<&Datetime>) -> Result<Option<Date>> {
    let Some(v) = v else { return Ok(None) };
    let (Some(d), None, None) = (v.date, v.time, v.offset) else {
        bail!("{field} must be a date such as 2027-03-01 (no time, no offset), got {v}");
    };
    let month = Month::try_from(d.month).ok();
    match month.and_then(|m| Date::from_calendar_date(i32::from(d.year), m, d.day).ok()) {
        Some(date) => Ok(Some(date)),
        None => bail!("{field}: {v} is not a calendar date"),
    }
}

/// `added` ≤ `aging_from` ≤ `active_from` ≤ `retired_from`, for the dates that are given.
fn in_order(d: &TrapDomain) -> Result<()> {
    let dates = [
        ("added", d.added),
        ("aging_from", d.aging_from),
        ("active_from", d.active_from),
        ("retired_from", d.retired_from),
    ];
    let given: Vec<(&str, Date)> = dates
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect();
    for pair in given.windows(2) {
        let ((a, da), (b, db)) = (pair[0], pair[1]);
        if db < da {
            bail!("dates out of order: {b} ({db}) is before {a} ({da})");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn parse(text: &str) -> Result<Vec<TrapDomain>> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct F {
            #[serde(default)]
            trap_domains: Vec<String>,
            #[serde(default)]
            domain: Vec<DomainFile>,
        }
        let f: F = toml::from_str(text)?;
        build(&f.trap_domains, &f.domain)
    }

    fn err(text: &str) -> String {
        parse(text)
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default()
    }

    #[test]
    fn entries_carry_dates_state_and_sector() -> Result<()> {
        let d = parse(
            "trap_domains = [\"Plain.Example.\"]\n\
             [[domain]]\nname = \"*.Bücher.example\"\nadded = 2027-01-01\n\
             aging_from = 2027-02-01\nactive_from = 2027-03-01\nretired_from = 2028-01-01\n\
             sector = \"retail\"\n\
             [[domain]]\nname = \"old.example\"\nstate = \"retired\"\n",
        )?;
        assert_eq!(d.len(), 3);
        assert_eq!(d[0], TrapDomain::active("plain.example"));
        assert_eq!(d[1].pattern(), "*.xn--bcher-kva.example");
        assert_eq!(d[1].sector, "retail");
        assert_eq!(d[1].state_on(date!(2027 - 01 - 15)), DomainState::New);
        assert_eq!(d[1].state_on(date!(2027 - 03 - 01)), DomainState::Active);
        assert_eq!(d[2].state, Some(DomainState::Retired));
        Ok(())
    }

    #[test]
    fn bad_entries_are_refused_with_a_reason() {
        for (text, needle) in [
            (
                "trap_domains = [\"a.example\"]\n[[domain]]\nname = \"A.example\"\n",
                "configured twice",
            ),
            (
                "[[domain]]\nname = \"a.example\"\n[[domain]]\nname = \"a.example\"\n",
                "configured twice",
            ),
            (
                "[[domain]]\nname = \"bad domain\"\n",
                "not a valid trap domain",
            ),
            (
                "[[domain]]\nname = \"a@b.example\"\n",
                "not a valid trap domain",
            ),
            (
                "[[domain]]\nname = \"a.example\"\nstate = \"old\"\n",
                "state",
            ),
            (
                "[[domain]]\nname = \"a.example\"\naging_from = 2027-03-01\nactive_from = 2027-02-01\n",
                "out of order",
            ),
            (
                "[[domain]]\nname = \"a.example\"\nadded = 2027-03-02\nretired_from = 2027-03-01\n",
                "out of order",
            ),
            (
                "[[domain]]\nname = \"a.example\"\nactive_from = 2027-03-01T10:00:00Z\n",
                "no time",
            ),
            (
                "[[domain]]\nname = \"a.example\"\nactive_from = \"2027-03-01\"\n",
                "datetime",
            ),
            (
                "[[domain]]\nname = \"a.example\"\nstart = 2027-03-01\n",
                "start",
            ),
            (
                "[[domain]]\nname = \"a.example\"\nsector = \"a\\nb\"\n",
                "printable",
            ),
        ] {
            let e = err(text);
            assert!(e.contains(needle), "{text}: {e:?}");
        }
    }

    #[test]
    fn the_resolved_config_prints_its_domains_back() -> Result<()> {
        let c = super::super::tests::from_toml(
            "trap_domains = [\"a.example\"]\n\
             [[domain]]\nname = \"b.example\"\nactive_from = 2027-03-01\nsector = \"isp\"\n",
        )?;
        assert_eq!(c.trap.domains.len(), 2);
        assert_eq!(c.trap.domains[1].active_from, Some(date!(2027 - 03 - 01)));
        let again: super::super::FileConfig = toml::from_str(&c.to_toml()?)?;
        assert_eq!(again.domain, c.file.domain);
        Ok(())
    }

    #[test]
    fn the_example_config_declares_a_lifecycle() -> Result<()> {
        let text = include_str!("../../../../docs/spamhattan.example.toml");
        let file: super::super::FileConfig = toml::from_str(text)?;
        let d = build(
            file.trap_domains.as_deref().unwrap_or_default(),
            file.domain.as_deref().unwrap_or_default(),
        )?;
        let shop = d.iter().find(|d| d.name == "expired-shop.example");
        assert_eq!(
            shop.map(|s| s.state_on(date!(2027 - 02 - 01))),
            Some(DomainState::New)
        );
        assert!(
            d.iter()
                .any(|d| d.wildcard && d.state == Some(DomainState::Retired))
        );
        Ok(())
    }

    #[test]
    fn a_wildcard_and_its_apex_are_two_patterns() -> Result<()> {
        let d = parse("trap_domains = [\"a.example\", \"*.a.example\"]\n")?;
        assert_eq!(d.len(), 2);
        Ok(())
    }
}
