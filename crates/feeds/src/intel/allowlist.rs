//! Domains feeds never list: the real sites kits link (they would break the web on a
//! blocklist) and shared services whose domain must not be listed while its URLs are.
//! The shipped list is `crates/feeds/data/well-known-domains.txt`; operators add their own
//! file with the same format (`[feeds] allowlist`).

use std::collections::HashMap;

/// Lines read from one allowlist file, at most (a list is a curated file, not a dump).
pub const MAX_ENTRIES: usize = 100_000;
/// Labels looked at from the right when matching a host (`a.b.c.example.co.uk`).
const MAX_LABELS: usize = 16;

const SHIPPED: &str = include_str!("../../data/well-known-domains.txt");

/// How a domain is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Neither its URLs nor the domain are published.
    WellKnown,
    /// Its URLs are published, the domain is not.
    Shared,
}

#[derive(Clone, Default)]
pub struct Allowlist {
    entries: HashMap<String, Listing>,
}

impl std::fmt::Debug for Allowlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Allowlist({} domains)", self.entries.len())
    }
}

impl Allowlist {
    /// The shipped list.
    pub fn shipped() -> Allowlist {
        let mut a = Allowlist::default();
        a.add_text(SHIPPED)
            .expect("the shipped allowlist is well-formed (checked by a test)");
        a
    }

    /// Adds the lines of an allowlist file; the error names the first bad line.
    pub fn add_text(&mut self, text: &str) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (listing, domain) = match line.split_once(char::is_whitespace) {
                Some(("shared", d)) => (Listing::Shared, d.trim()),
                Some(_) => {
                    return Err(format!(
                        "line {}: expected `domain` or `shared domain`",
                        n + 1
                    ));
                }
                None => (Listing::WellKnown, line),
            };
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            if domain.is_empty() || !domain.contains('.') || domain.contains(['/', ':', '@']) {
                return Err(format!("line {}: {domain:?} is not a domain", n + 1));
            }
            if self.entries.len() >= MAX_ENTRIES {
                return Err(format!("more than {MAX_ENTRIES} entries"));
            }
            self.entries.insert(domain, listing);
        }
        Ok(())
    }

    /// The listing of `host` (or of its closest listed parent domain).
    pub fn listing(&self, host: &str) -> Option<Listing> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let mut rest = host.as_str();
        for _ in 0..MAX_LABELS {
            if let Some(l) = self.entries.get(rest) {
                return Some(*l);
            }
            match rest.split_once('.') {
                Some((_, parent)) if parent.contains('.') => rest = parent,
                _ => return None,
            }
        }
        None
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_parses_and_matches_subdomains() {
        let a = Allowlist::shipped();
        assert!(a.len() > 100);
        assert_eq!(a.listing("www.PayPal.com"), Some(Listing::WellKnown));
        assert_eq!(
            a.listing("drive.google.com"),
            Some(Listing::Shared),
            "the closest entry wins"
        );
        assert_eq!(
            a.listing("x.y.blob.core.windows.net"),
            Some(Listing::Shared)
        );
        assert_eq!(a.listing("paypal.com.evil.example"), None);
        assert_eq!(a.listing("notpaypal.com"), None);
        assert_eq!(a.listing("com"), None);
    }

    #[test]
    fn bad_lines_are_named() {
        let mut a = Allowlist::default();
        assert!(
            a.add_text("ok.example\nhttp://x.example/\n")
                .expect_err("a bad line")
                .contains("line 2")
        );
        assert!(
            a.add_text("maybe x.example")
                .expect_err("a bad line")
                .contains("line 1")
        );
    }
}
