//! Relay policy: the trap accepts mail only for its trap domains, never for anyone else.
//!
//! An open relay is the one thing a spamtrap must never become, so this module refuses every
//! form of sender-specified routing outright (RFC 5321 §3.6.1, Appendix C): `%` hacks, `!` bang
//! paths, quoted local parts hiding an `@`, source routes, address literals. Domains are compared
//! after IDN normalisation and case folding, on label boundaries only, so `evil-trap.example` and
//! `trap.example.evil.org` never pass for `trap.example`.

use crate::config::AddressPolicy;
use smtp_wire::{Domain, Path};
use std::collections::HashMap;

/// The decision for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RcptDecision {
    Accept,
    UnknownUser,
    TempFail,
    /// Refused as relaying; the string says why (for the anomaly record, never for the client).
    RelayDenied(&'static str),
    /// `RCPT TO:<>` and other unusable addresses.
    Syntax,
}

/// One configured trap domain.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DomainRule {
    /// ASCII (punycode) lower-case, without a trailing dot.
    name: String,
    /// `*.name`: subdomains match too (the apex as well).
    wildcard: bool,
}

/// Compiled relay policy.
#[derive(Debug, Clone, Default)]
pub struct RelayPolicy {
    domains: Vec<DomainRule>,
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
    /// Builds the policy from configured domains (`trap.example`, `*.trap.example`) and
    /// per-address policies.
    pub fn new(
        domains: &[String],
        addresses: &[(String, AddressPolicy)],
    ) -> Result<Self, BadDomain> {
        let mut rules = Vec::new();
        for d in domains {
            let (wildcard, name) = match d.strip_prefix("*.") {
                Some(rest) => (true, rest),
                None => (false, d.as_str()),
            };
            let name = normalize_domain(name).ok_or_else(|| BadDomain(d.clone()))?;
            rules.push(DomainRule { name, wildcard });
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

    /// True if `domain` (already normalised) is one of ours.
    fn is_trap_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|r| {
            domain == r.name
                || (r.wildcard
                    && domain.len() > r.name.len()
                    && domain.ends_with(&r.name)
                    && domain.as_bytes()[domain.len() - r.name.len() - 1] == b'.')
        })
    }

    /// Decides one RCPT.
    pub fn decide(&self, path: &Path) -> RcptDecision {
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
        if !self.is_trap_domain(&domain) {
            return RcptDecision::RelayDenied("not a trap domain");
        }
        match self
            .addresses
            .get(&format!("{}@{domain}", local.to_lowercase()))
        {
            None | Some(AddressPolicy::Accept) => RcptDecision::Accept,
            Some(AddressPolicy::UnknownUser) => RcptDecision::UnknownUser,
            Some(AddressPolicy::TempFail) => RcptDecision::TempFail,
        }
    }
}
