//! Trap domains and their lifecycle.
//!
//! A trap domain goes through four states, by date or by the operator's word:
//!
//! | state | SMTP | why |
//! |---|---|---|
//! | `new` | RCPT `250`, then `550 5.1.1` after DATA; the message is **kept** | the quiet period: mail for the previous owner and old mailing lists still arrives; legitimate senders get a hard bounce and clean their lists, while the operator still sees what arrives |
//! | `aging` | `250`, captured as usual | quiet period over, not yet seeded: a baseline of residual traffic to compare with after seeding |
//! | `active` | `250`, captured as usual | a working trap |
//! | `retired` | `550 5.1.1` at RCPT, nothing kept but the attempt in the session record | the domain is leaving the trap |
//!
//! Dates: `new` until `aging_from` (or until `active_from` when there is no aging date),
//! `aging` until `active_from`, `active` until `retired_from`, then `retired`. A domain with no
//! dates is `active`; an explicit `state` wins over the dates.

use serde::{Deserialize, Serialize};
use time::Date;

/// Where a trap domain is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DomainState {
    New,
    Aging,
    Active,
    Retired,
}

impl DomainState {
    pub const ALL: [DomainState; 4] = [
        DomainState::New,
        DomainState::Aging,
        DomainState::Active,
        DomainState::Retired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DomainState::New => "new",
            DomainState::Aging => "aging",
            DomainState::Active => "active",
            DomainState::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// One configured trap domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrapDomain {
    /// Lower-case ASCII (IDNA) name, without a trailing dot and without the `*.` prefix.
    pub name: String,
    /// `*.name` was configured: every subdomain is a trap domain too (and the apex).
    pub wildcard: bool,
    /// Fixed state, when the operator set one; wins over the dates.
    pub state: Option<DomainState>,
    /// When the operator took the domain (informational; statistics start here).
    pub added: Option<Date>,
    pub aging_from: Option<Date>,
    pub active_from: Option<Date>,
    pub retired_from: Option<Date>,
    /// Free-form sector tag (`finance`, `isp`, `government`, ...), shown in statistics.
    pub sector: String,
}

impl TrapDomain {
    /// An active domain with no dates (what a bare `trap_domains = [...]` entry means).
    /// `pattern` is `name` or `*.name`, already normalised.
    pub fn active(pattern: &str) -> Self {
        let (wildcard, name) = match pattern.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        Self {
            name: name.to_string(),
            wildcard,
            state: None,
            added: None,
            aging_from: None,
            active_from: None,
            retired_from: None,
            sector: String::new(),
        }
    }

    /// The configured pattern: `name` or `*.name`.
    pub fn pattern(&self) -> String {
        if self.wildcard {
            format!("*.{}", self.name)
        } else {
            self.name.clone()
        }
    }

    /// True if `domain` (lower-case ASCII, no trailing dot) is this trap domain, or one of its
    /// subdomains for a wildcard; label boundaries only.
    pub fn matches(&self, domain: &str) -> bool {
        domain == self.name
            || (self.wildcard
                && domain.len() > self.name.len()
                && domain.ends_with(&self.name)
                && domain.as_bytes()[domain.len() - self.name.len() - 1] == b'.')
    }

    /// The state on `today` (UTC date).
    pub fn state_on(&self, today: Date) -> DomainState {
        if let Some(s) = self.state {
            return s;
        }
        let reached = |d: Option<Date>| d.is_some_and(|d| today >= d);
        if reached(self.retired_from) {
            DomainState::Retired
        } else if reached(self.active_from) {
            DomainState::Active
        } else if reached(self.aging_from) {
            DomainState::Aging
        } else if self.active_from.is_some() || self.aging_from.is_some() {
            DomainState::New
        } else {
            DomainState::Active
        }
    }

    /// When the domain became (or becomes) active: the start of "first spam after activation".
    pub fn activation(&self) -> Option<Date> {
        self.active_from
    }
}

/// The configured entry that decides for `domain`: the most specific one that matches (the
/// longest name; an exact name beats a wildcard of the same name), so `a.x.example` listed
/// beside `*.x.example` has its own lifecycle. The SMTP policy, the statistics and the seed
/// checks all use this one rule.
pub fn find_domain<'a>(domains: &'a [TrapDomain], domain: &str) -> Option<&'a TrapDomain> {
    domains
        .iter()
        .filter(|d| d.matches(domain))
        .max_by_key(|d| (d.name.len(), !d.wildcard))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn dates_walk_the_lifecycle() {
        let d = TrapDomain {
            aging_from: Some(date!(2027 - 02 - 01)),
            active_from: Some(date!(2027 - 03 - 01)),
            retired_from: Some(date!(2028 - 01 - 01)),
            ..TrapDomain::active("trap.example")
        };
        assert_eq!(d.state_on(date!(2027 - 01 - 31)), DomainState::New);
        assert_eq!(d.state_on(date!(2027 - 02 - 01)), DomainState::Aging);
        assert_eq!(d.state_on(date!(2027 - 03 - 01)), DomainState::Active);
        assert_eq!(d.state_on(date!(2028 - 01 - 01)), DomainState::Retired);
        let fixed = TrapDomain {
            state: Some(DomainState::Retired),
            ..d.clone()
        };
        assert_eq!(fixed.state_on(date!(2027 - 03 - 05)), DomainState::Retired);
        assert_eq!(
            TrapDomain::active("x.example").state_on(date!(2020 - 01 - 01)),
            DomainState::Active
        );
    }

    #[test]
    fn wildcards_match_on_label_boundaries() {
        let d = TrapDomain::active("*.trap.example");
        assert!(d.matches("trap.example"));
        assert!(d.matches("a.trap.example"));
        assert!(!d.matches("eviltrap.example"));
        assert!(!d.matches("trap.example.evil"));
        assert!(!TrapDomain::active("trap.example").matches("a.trap.example"));
        assert_eq!(d.pattern(), "*.trap.example");
    }

    #[test]
    fn the_most_specific_entry_decides() {
        let wide = TrapDomain::active("*.x.example");
        let narrow = TrapDomain {
            state: Some(DomainState::Retired),
            ..TrapDomain::active("a.x.example")
        };
        let apex = TrapDomain::active("x.example");
        let all = [wide.clone(), narrow.clone(), apex.clone()];
        assert_eq!(find_domain(&all, "a.x.example"), Some(&narrow));
        assert_eq!(find_domain(&all, "b.x.example"), Some(&wide));
        assert_eq!(find_domain(&all, "x.example"), Some(&apex));
        assert_eq!(find_domain(&all, "y.example"), None);
    }
}
