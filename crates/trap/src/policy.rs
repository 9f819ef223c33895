//! Relay policy: the trap accepts mail only for its trap domains, never for anyone else.
//!
//! An open relay is the one thing a spamtrap must never become, so this module refuses every
//! form of sender-specified routing outright (RFC 5321 §3.6.1, Appendix C): `%` hacks, `!` bang
//! paths, quoted local parts hiding an `@`, source routes, address literals. Domains are compared
//! after IDN normalisation and case folding, on label boundaries only, so `evil-trap.example` and
//! `trap.example.evil.org` never pass for `trap.example`.

use crate::config::AddressPolicy;
use model::{DomainState, TrapDomain};
use smtp_wire::{Domain, Path};
use std::collections::HashMap;
use time::Date;

/// The decision for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptDecision {
    Accept,
    /// A trap domain in its quiet period (`new`): answer `250` now, keep the message, and
    /// answer its end of data `550` unless another recipient is not quiet.
    Quiet,
    UnknownUser,
    TempFail,
    /// Refused as relaying; the string says why (for the anomaly record, never for the client).
    RelayDenied(&'static str),
    /// `RCPT TO:<>` and other unusable addresses.
    Syntax,
}

/// Compiled relay policy.
#[derive(Debug, Clone, Default)]
pub struct RelayPolicy {
    /// The configured domains with normalised names.
    domains: Vec<TrapDomain>,
    addresses: HashMap<String, AddressPolicy>,
}

/// A domain the policy cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadDomain(pub String);

impl std::fmt::Display for BadDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not a usable trap domain: {:?}", self.0)
    }
}

impl std::error::Error for BadDomain {}

/// Lower-case ASCII form of a domain name (IDNA), or `None` if it is not a valid name.
pub fn normalize_domain(name: &str) -> Option<String> {
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() || trimmed.contains(['[', ']', '@', '%', '!', ' ', ':', '/', '\\']) {
        return None;
    }
    let ascii = idna::domain_to_ascii(trimmed).ok()?;
    if ascii.is_empty() || ascii.split('.').any(str::is_empty) {
        return None;
    }
    Some(ascii)
}

impl RelayPolicy {
    /// Builds the policy from configured domains and per-address policies. Names are
    /// normalised again here, so a caller that built a [`TrapDomain`] by hand (`bücher.example`)
    /// gets the same matching as the config file.
    pub fn new(
        domains: &[TrapDomain],
        addresses: &[(String, AddressPolicy)],
    ) -> Result<Self, BadDomain> {
        let mut rules = Vec::with_capacity(domains.len());
        for d in domains {
            let name = normalize_domain(&d.name).ok_or_else(|| BadDomain(d.pattern()))?;
            rules.push(TrapDomain { name, ..d.clone() });
        }
        let mut map = HashMap::new();
        for (addr, policy) in addresses {
            let (local, domain) = addr
                .rsplit_once('@')
                .ok_or_else(|| BadDomain(addr.clone()))?;
            let domain = normalize_domain(domain).ok_or_else(|| BadDomain(addr.clone()))?;
            map.insert(format!("{}@{domain}", local.to_lowercase()), *policy);
        }
        Ok(Self {
            domains: rules,
            addresses: map,
        })
    }

    /// Decides one RCPT on `today` (UTC), which sets each domain's lifecycle state. Relay
    /// checks come first and do not depend on the date. A retired domain answers
    /// `UnknownUser` whatever its address policies say; on a quiet (`new`) domain an address
    /// policy that refuses still refuses, and an accepting one becomes `Quiet`.
    pub fn decide(&self, path: &Path, today: Date) -> RcptDecision {
        if path.null {
            return RcptDecision::Syntax;
        }
        if !path.source_route.is_empty() {
            return RcptDecision::RelayDenied("source route");
        }
        let local = path.local_part.as_str();
        if local.contains('@') {
            return RcptDecision::RelayDenied("quoted local part with @");
        }
        if local.contains('%') {
            return RcptDecision::RelayDenied("percent hack");
        }
        if local.contains('!') {
            return RcptDecision::RelayDenied("bang path");
        }
        if local.is_empty() {
            return RcptDecision::Syntax;
        }
        let domain = match &path.domain {
            None if local.eq_ignore_ascii_case("postmaster") && !path.quoted => {
                return RcptDecision::Accept;
            }
            None => return RcptDecision::RelayDenied("no domain"),
            Some(Domain::Literal(_)) => return RcptDecision::RelayDenied("address literal"),
            Some(Domain::Name(name)) => match normalize_domain(name) {
                Some(d) => d,
                None => return RcptDecision::RelayDenied("invalid domain"),
            },
        };
        let Some(trap_domain) = model::domain::find_domain(&self.domains, &domain) else {
            return RcptDecision::RelayDenied("not a trap domain");
        };
        let state = trap_domain.state_on(today);
        if state == DomainState::Retired {
            return RcptDecision::UnknownUser;
        }
        let by_address = self
            .addresses
            .get(&format!("{}@{domain}", local.to_lowercase()));
        match (by_address, state) {
            (Some(AddressPolicy::UnknownUser), _) => RcptDecision::UnknownUser,
            (Some(AddressPolicy::TempFail), _) => RcptDecision::TempFail,
            (_, DomainState::New) => RcptDecision::Quiet,
            _ => RcptDecision::Accept,
        }
    }
}
