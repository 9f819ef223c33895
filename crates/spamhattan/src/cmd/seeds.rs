//! `spamhattan seeds mint|list|show` and `spamhattan harvesters list|show`: trap addresses
//! minted for manual seeding, the mail that came back to them, and the bait-page visitors
//! that harvested them.
//!
//! A seed is minted only in a trap domain that accepts mail today (active or aging; a `new`
//! domain in its quiet period answers `550` and a retired one refuses the RCPT): a seed in a
//! foreign or closed domain would never reach the trap. Visitor strings (user agents, pages)
//! are attacker text: the tables print them with control characters replaced, so a crafted
//! user agent cannot drive the operator's terminal.

use crate::cli::{HarvestersCommand, SeedsCommand};
use crate::config::Config;
use anyhow::{Result, bail};
use model::{DomainState, NewSeed, SeedOrigin, TrapDomain};
use std::io::Write;
use std::process::ExitCode;
use store::{SeedDetail, SeedFilter, SeedRecord};

/// Characters of an attacker-supplied string shown in a table cell.
const CELL: usize = 60;

pub fn run(c: SeedsCommand) -> Result<ExitCode> {
    match c {
        SeedsCommand::Mint {
            common,
            label,
            domain,
            count,
            trap_domain,
            json,
        } => {
            let mut o = super::overrides(&common);
            o.trap_domains = trap_domain;
            let cfg = crate::config::resolve(&o)?;
            mint(&cfg, &label, domain.as_deref(), count, json)
        }
        SeedsCommand::List {
            common,
            label,
            hit,
            limit,
            json,
        } => {
            let filter = SeedFilter {
                label,
                hit_only: hit,
                limit,
                ..SeedFilter::default()
            };
            list(&super::resolve(&common)?, &filter, json)
        }
        SeedsCommand::Show { common, key, json } => show(&super::resolve(&common)?, &key, json),
    }
}

pub fn harvesters(c: HarvestersCommand) -> Result<ExitCode> {
    match c {
        HarvestersCommand::List {
            common,
            limit,
            json,
        } => harvester_list(&super::resolve(&common)?, limit, json),
        HarvestersCommand::Show { common, ip, json } => {
            harvester_show(&super::resolve(&common)?, &ip, json)
        }
    }
}

/// The domain new seeds go to: `wanted` if it is a trap domain that accepts mail today,
/// otherwise the first configured domain that does.
fn seed_domain(domains: &[TrapDomain], wanted: Option<&str>) -> Result<String> {
    let today = model::now().date();
    let open =
        |d: &TrapDomain| matches!(d.state_on(today), DomainState::Active | DomainState::Aging);
    if domains.is_empty() {
        bail!("no trap domain is configured (trap_domains, [[domain]] or --trap-domain)");
    }
    let Some(wanted) = wanted else {
        return match domains.iter().find(|d| open(d)) {
            Some(d) => Ok(d.name.clone()),
            None => {
                bail!("no trap domain is active or aging today: configure one, or pass --domain")
            }
        };
    };
    let Some(name) = trap::normalize_domain(wanted.trim_end_matches('.')) else {
        bail!("not a domain name: {wanted:?}");
    };
    match model::domain::find_domain(domains, &name) {
        None => {
            bail!("{name} is not a trap domain: mail to a seed there would never reach the trap")
        }
        Some(d) if !open(d) => bail!(
            "trap domain {} is {} today: a seed there would bounce or be refused",
            d.pattern(),
            d.state_on(today).as_str()
        ),
        Some(_) => Ok(name),
    }
}

fn mint(
    cfg: &Config,
    label: &str,
    domain: Option<&str>,
    count: usize,
    json: bool,
) -> Result<ExitCode> {
    if count == 0 || count > store::MAX_MINT {
        bail!("--count must be 1 to {}", store::MAX_MINT);
    }
    if label.trim().is_empty() {
        bail!("--label must say where the seeds will be posted");
    }
    let domain = seed_domain(&cfg.trap.domains, domain)?;
    let seeds: Vec<NewSeed> = (0..count)
        .map(|_| NewSeed::mint(&domain, SeedOrigin::Manual, None, label))
        .collect();
    let store = super::open_store(cfg)?;
    let minted = store.mint_seeds(&seeds)?;
    let mut out = std::io::stdout().lock();
    for s in minted {
        if json {
            writeln!(out, "{}", serde_json::to_string(&s)?)?;
        } else {
            writeln!(out, "{}", s.address)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(cfg: &Config, filter: &SeedFilter, json: bool) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let rows = store.seeds(filter)?;
    let mut out = std::io::stdout().lock();
    if json {
        for s in rows {
            writeln!(out, "{}", serde_json::to_string(&s)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:>6}  {:<19}  {:>5}  {:<19}  {:<10}  {:<40}  label",
        "id", "issued", "hits", "first hit", "form", "address"
    )?;
    for s in rows {
        writeln!(out, "{}", seed_line(&s))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn seed_line(s: &SeedRecord) -> String {
    format!(
        "{:>6}  {:<19}  {:>5}  {:<19}  {:<10}  {:<40}  {}",
        s.id,
        short_time(s.issued_at),
        s.hits,
        s.first_hit.map(short_time).unwrap_or_else(|| "-".into()),
        s.form.map_or(s.origin.as_str(), |f| f.as_str()),
        s.address,
        plain(&s.label)
    )
}

fn show(cfg: &Config, key: &str, json: bool) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let found = match store.seed_by_address(key)? {
        Some(d) => Some(d),
        None => match key.parse::<i64>() {
            Ok(id) => store.seed(id)?,
            Err(_) => None,
        },
    };
    let Some(d) = found else {
        eprintln!("spamhattan: no seed {key:?}");
        return Ok(ExitCode::from(1));
    };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&d)?)?;
    } else {
        write_seed(&mut out, &d)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_seed(out: &mut impl Write, d: &SeedDetail) -> Result<()> {
    let s = &d.seed;
    writeln!(out, "seed {}  {}  ({})", s.id, s.address, plain(&s.label))?;
    writeln!(
        out,
        "issued  {}  {}",
        short_time(s.issued_at),
        s.origin.as_str()
    )?;
    if let Some(v) = &d.visit {
        writeln!(
            out,
            "visit   {} from {}  {}  {}",
            short_time(v.at),
            plain(&v.ip),
            plain(&v.path),
            plain(&v.user_agent)
        )?;
    }
    match d.first_spam_after_secs {
        Some(secs) => writeln!(out, "hits    {}, first after {}", s.hits, span(secs))?,
        None => writeln!(out, "hits    none yet")?,
    }
    for h in &d.hits {
        writeln!(
            out,
            "  {}  {:<10}  {:<18}  {}  {}",
            short_time(h.received_at),
            h.class,
            h.network,
            h.sighting,
            plain(h.subject.as_deref().unwrap_or(""))
        )?;
    }
    Ok(())
}

fn harvester_list(cfg: &Config, limit: usize, json: bool) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let rows = store.harvesters(limit, None)?;
    let mut out = std::io::stdout().lock();
    if json {
        for h in rows {
            writeln!(out, "{}", serde_json::to_string(&h)?)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:<39}  {:>6}  {:>6}  {:>6}  {:>6}  {:<19}  user agent",
        "ip", "visits", "seeds", "hit", "msgs", "last visit"
    )?;
    for h in rows {
        writeln!(
            out,
            "{:<39}  {:>6}  {:>6}  {:>6}  {:>6}  {:<19}  {}",
            plain(&h.ip),
            h.visits,
            h.seeds,
            h.seeds_hit,
            h.messages,
            short_time(h.last_visit),
            plain(&h.last_user_agent)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn harvester_show(cfg: &Config, ip: &str, json: bool) -> Result<ExitCode> {
    let store = super::open_store(cfg)?;
    let Some(d) = store.harvester(ip)? else {
        eprintln!("spamhattan: no harvester {ip:?}");
        return Ok(ExitCode::from(1));
    };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&d)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let h = &d.harvester;
    writeln!(out, "harvester {}", plain(&h.ip))?;
    writeln!(
        out,
        "visits  {} ({} .. {})",
        h.visits,
        short_time(h.first_visit),
        short_time(h.last_visit)
    )?;
    writeln!(
        out,
        "seeds   {}, {} hit, {} messages",
        h.seeds, h.seeds_hit, h.messages
    )?;
    if let (Some(min), Some(median)) = (d.first_spam_min_secs, d.first_spam_median_secs) {
        writeln!(
            out,
            "first spam after  {} at the soonest, {} median",
            span(min),
            span(median)
        )?;
    }
    let counts = |out: &mut std::io::StdoutLock<'_>, title: &str, list: &[store::Count]| {
        for c in list {
            writeln!(out, "{title:<12} {:>6}  {}", c.count, plain(&c.key))?;
        }
        std::io::Result::Ok(())
    };
    counts(&mut out, "user agent", &d.user_agents)?;
    counts(&mut out, "page", &d.pages)?;
    counts(&mut out, "form hit", &d.forms_hit)?;
    counts(&mut out, "network", &d.networks)?;
    for c in &d.campaigns {
        writeln!(
            out,
            "{:<12} {:>6}  {} {}",
            "campaign",
            c.messages,
            c.campaign,
            plain(c.label.as_deref().unwrap_or(""))
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `s` for a terminal: control characters (escape sequences, NUL, newlines) become spaces,
/// and at most [`CELL`] characters are kept.
fn plain(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(CELL)
        .collect()
}

/// A duration in seconds as `3d4h`, `5h12m`, `42m` or `17s`.
fn span(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sign}{s}s"),
        (0, 0, m) => format!("{sign}{m}m"),
        (0, h, m) => format!("{sign}{h}h{m}m"),
        (d, h, _) => format!("{sign}{d}d{h}h"),
    }
}

fn short_time(t: model::Timestamp) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    t.format(&f).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Vec<TrapDomain> {
        let mut new = TrapDomain::active("fresh.example");
        new.state = Some(DomainState::New);
        let mut gone = TrapDomain::active("old.example");
        gone.state = Some(DomainState::Retired);
        vec![new, gone, TrapDomain::active("*.trap.example")]
    }

    #[test]
    fn seeds_go_only_to_domains_that_accept_mail() {
        let d = domains();
        assert_eq!(seed_domain(&d, None).expect("default"), "trap.example");
        assert_eq!(
            seed_domain(&d, Some("Forum.Trap.Example.")).expect("subdomain"),
            "forum.trap.example"
        );
        for refused in [
            "fresh.example",
            "old.example",
            "gmail.com",
            "eviltrap.example",
            "a b",
        ] {
            assert!(seed_domain(&d, Some(refused)).is_err(), "{refused}");
        }
        assert!(seed_domain(&d[..2], None).is_err(), "none open");
        assert!(
            seed_domain(&[], Some("trap.example")).is_err(),
            "none configured"
        );
    }

    #[test]
    fn terminal_text_has_no_control_characters() {
        assert_eq!(plain("a\u{1b}[2Jb\0c\n\u{9b}"), "a [2Jb c  ");
        assert_eq!(plain(&"x".repeat(500)).len(), CELL);
        assert_eq!(span(3600), "1h0m");
        assert_eq!(span(90_061), "1d1h");
        assert_eq!(span(-42), "-42s");
    }
}
