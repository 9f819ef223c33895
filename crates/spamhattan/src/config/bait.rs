//! The `[bait]` section: the public bait-page listener (off unless `listen` is set), the
//! proxies it believes, its limits and the domains it mints seed addresses in.

use anyhow::{Context, Result, bail};
use model::{DomainState, TrapDomain};
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use time::Date;
use web::bait::{BaitSettings, DEFAULT_VISITS_PER_DAY, DEFAULT_VISITS_PER_IP_HOUR};

/// Longest `site_name`: a company name, shown in every page's title and heading.
pub const MAX_SITE_NAME: usize = 100;
/// Most `trusted_proxies`: a load balancer or two, a CDN's handful of egress addresses.
pub const MAX_TRUSTED_PROXIES: usize = 64;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaitFile {
    /// `IP:PORT` of the bait listener, meant to face the internet (`0.0.0.0:8080`); absent or
    /// `off`: no bait listener.
    pub listen: Option<String>,
    /// Proxies (IP addresses) whose `X-Forwarded-For` names the visitor; default none.
    pub trusted_proxies: Option<Vec<String>>,
    /// New visits (minting seeds) per visitor IP per hour; past it the visitor sees its latest
    /// addresses again.
    pub visits_per_ip_hour: Option<u32>,
    /// New visits per UTC day in total; past it pages show the latest addresses issued.
    pub visits_per_day: Option<u64>,
    /// The organisation the pages pretend to be.
    pub site_name: Option<String>,
    /// Domains to mint in (each must be a trap domain; `*.x` mints in `x`). Default: every
    /// trap domain that is `active` or `aging` when `serve` starts.
    pub domains: Option<Vec<String>>,
}

/// The resolved `[bait]` section, when the listener is on.
#[derive(Debug, Clone)]
pub struct BaitConfig {
    pub listen: SocketAddr,
    pub settings: BaitSettings,
}

/// Fills the defaults of a present section (what `config check` prints).
pub(super) fn fill_defaults(f: &mut BaitFile) {
    let d = BaitSettings::default();
    f.trusted_proxies.get_or_insert_with(Vec::new);
    f.visits_per_ip_hour
        .get_or_insert(DEFAULT_VISITS_PER_IP_HOUR);
    f.visits_per_day.get_or_insert(DEFAULT_VISITS_PER_DAY);
    f.site_name.get_or_insert(d.site_name);
}

/// The bait listener's configuration, or `None` when it is off. `trap` are the configured trap
/// domains and `today` the UTC date their states are read on.
pub(super) fn build(f: &BaitFile, trap: &[TrapDomain], today: Date) -> Result<Option<BaitConfig>> {
    let listen = match f.listen.as_deref().map(str::trim) {
        None | Some("off") => return Ok(None),
        Some(a) => a.parse::<SocketAddr>().map_err(|e| {
            anyhow::anyhow!(
                "bait.listen {a:?} is not an address such as 0.0.0.0:8080 (or \"off\"): {e}"
            )
        })?,
    };
    let proxies = f.trusted_proxies.as_deref().unwrap_or_default();
    if proxies.len() > MAX_TRUSTED_PROXIES {
        bail!("bait.trusted_proxies: at most {MAX_TRUSTED_PROXIES} addresses");
    }
    let trusted_proxies = proxies
        .iter()
        .map(|p| {
            p.trim().parse::<IpAddr>().with_context(|| {
                format!("bait.trusted_proxies: {p:?} is not an IP address (no ranges, no ports)")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let d = BaitSettings::default();
    let visits_per_ip_hour = f.visits_per_ip_hour.unwrap_or(d.visits_per_ip_hour);
    let visits_per_day = f.visits_per_day.unwrap_or(d.visits_per_day);
    if visits_per_ip_hour == 0 || visits_per_day == 0 {
        bail!("bait.visits_per_ip_hour and bait.visits_per_day must be at least 1");
    }
    let site_name = f.site_name.clone().unwrap_or(d.site_name);
    if site_name.trim().is_empty()
        || site_name.len() > MAX_SITE_NAME
        || site_name.chars().any(char::is_control)
    {
        bail!("bait.site_name must be 1 to {MAX_SITE_NAME} bytes without control characters");
    }
    let domains = match &f.domains {
        Some(list) => chosen_domains(list, trap, today)?,
        None => default_domains(trap, today),
    };
    if domains.is_empty() {
        bail!(
            "[bait] has no domain to mint addresses in: configure a trap domain that is active \
             or aging today (trap_domains or [[domain]]), or list bait.domains"
        );
    }
    Ok(Some(BaitConfig {
        listen,
        settings: BaitSettings {
            domains,
            trusted_proxies,
            visits_per_ip_hour,
            visits_per_day,
            site_name,
        },
    }))
}

/// Every trap domain that is `active` or `aging` on `today`, wildcards by their apex.
fn default_domains(trap: &[TrapDomain], today: Date) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in trap {
        if matches!(d.state_on(today), DomainState::Active | DomainState::Aging)
            && !out.contains(&d.name)
        {
            out.push(d.name.clone());
        }
    }
    out
}

/// The operator's list: each must be a trap domain that is not retired (mail to a retired
/// domain is refused, so its seeds could never say anything).
fn chosen_domains(list: &[String], trap: &[TrapDomain], today: Date) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for raw in list {
        let bare = raw.trim().strip_prefix("*.").unwrap_or(raw.trim());
        let Some(name) = trap::normalize_domain(bare) else {
            bail!("bait.domains: {raw:?} is not a domain name");
        };
        match model::domain::find_domain(trap, &name) {
            None => bail!("bait.domains: {raw:?} is not a trap domain, so mail to it is refused"),
            Some(d) if d.state_on(today) == DomainState::Retired => {
                bail!("bait.domains: {raw:?} is retired, so mail to it is refused")
            }
            Some(_) if !out.contains(&name) => out.push(name),
            Some(_) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2027 - 03 - 10);

    fn trap() -> Vec<TrapDomain> {
        vec![
            TrapDomain::active("trap.example"),
            TrapDomain::active("*.wild.example"),
            TrapDomain {
                active_from: Some(date!(2027 - 06 - 01)),
                ..TrapDomain::active("quiet.example")
            },
            TrapDomain {
                state: Some(DomainState::Retired),
                ..TrapDomain::active("old.example")
            },
        ]
    }

    fn on(text: &str) -> Result<Option<BaitConfig>> {
        let f: BaitFile = toml::from_str(text)?;
        build(&f, &trap(), TODAY)
    }

    #[test]
    fn no_listen_means_no_listener() -> Result<()> {
        assert!(on("")?.is_none());
        assert!(on("listen = \"off\"\nsite_name = \"x\"\n")?.is_none());
        Ok(())
    }

    #[test]
    fn defaults_mint_in_active_and_aging_domains_wildcards_by_apex() -> Result<()> {
        let c = on("listen = \"127.0.0.1:0\"\n")?.expect("on");
        assert_eq!(c.settings.domains, vec!["trap.example", "wild.example"]);
        assert_eq!(c.settings.visits_per_ip_hour, DEFAULT_VISITS_PER_IP_HOUR);
        assert!(c.settings.trusted_proxies.is_empty());
        Ok(())
    }

    #[test]
    fn the_operator_may_choose_domains_among_the_trap_domains() -> Result<()> {
        let c = on(
            "listen = \"127.0.0.1:0\"\ndomains = [\"*.wild.example\", \"a.wild.example\", \"Quiet.Example\"]\n\
             trusted_proxies = [\"127.0.0.1\", \"::1\"]\nsite_name = \"Acme\"\n",
        )?
        .expect("on");
        assert_eq!(
            c.settings.domains,
            vec!["wild.example", "a.wild.example", "quiet.example"]
        );
        assert_eq!(c.settings.trusted_proxies.len(), 2);
        Ok(())
    }

    #[test]
    fn bad_settings_are_refused_with_the_field_named() {
        for (text, words) in [
            ("listen = \"everywhere\"\n", "bait.listen"),
            ("domains = [\"elsewhere.example\"]\n", "not a trap domain"),
            ("domains = [\"old.example\"]\n", "retired"),
            ("domains = [\"bad domain\"]\n", "not a domain name"),
            ("domains = []\n", "no domain"),
            ("trusted_proxies = [\"10.0.0.0/8\"]\n", "trusted_proxies"),
            ("visits_per_day = 0\n", "at least 1"),
            ("site_name = \"\"\n", "site_name"),
        ] {
            let text = if text.starts_with("listen") {
                text.to_string()
            } else {
                format!("listen = \"127.0.0.1:0\"\n{text}")
            };
            let err = format!("{:#}", on(&text).expect_err(&text));
            assert!(err.contains(words), "{text}: {err}");
        }
        let none = build(
            &toml::from_str("listen = \"127.0.0.1:0\"\n").expect("toml"),
            &trap()[2..],
            TODAY,
        );
        assert!(format!("{:#}", none.expect_err("no usable domain")).contains("no domain"));
        assert!(toml::from_str::<BaitFile>("lisen = \"x\"\n").is_err());
    }
}
