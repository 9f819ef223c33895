//! Seeds: trap addresses handed out on purpose, so that mail to them says where a spammer
//! got the address.
//!
//! A seed is minted either for one visit of a bait page ([`SeedOrigin::Visit`], one address per
//! way of showing it, see [`BaitForm`]) or by an operator for manual seeding
//! ([`SeedOrigin::Manual`]: a forum post, a paste site, a WHOIS record, a leaked-list canary).
//! The address carries a [`SEED_TOKEN_LEN`]-character token, 60 random bits in lower-case
//! Crockford base32, as the last dot-separated label of its local part (`anna.k3x9q2m7wd1a@…`):
//! the token alone identifies the seed, so the address itself names the visit, and 60 random
//! bits cannot be guessed by a dictionary attack. The name before the token is only there to
//! make the address look like a person's.

use crate::Timestamp;
use serde::{Deserialize, Serialize};

/// Characters in a seed token.
pub const SEED_TOKEN_LEN: usize = 12;

/// Crockford base32 without `i l o u`, lower case: no two symbols look alike.
const ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Common given names put in front of the token so the address looks like someone's.
const NAMES: &[&str] = &[
    "anna", "peter", "maria", "jan", "sophie", "thomas", "laura", "daniel", "emma", "mark",
    "julia", "kevin", "lisa", "martin", "sara", "paul", "eva", "robert", "nina", "david", "claire",
    "frank", "ines", "hugo", "lena", "oscar", "marta", "victor", "rosa", "simon", "karin", "tim",
];

/// Where a seed came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SeedOrigin {
    /// Minted for one visit of a bait page.
    Visit,
    /// Minted by an operator (`seeds mint`, `POST /api/v1/seeds`).
    Manual,
}

impl SeedOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            SeedOrigin::Visit => "visit",
            SeedOrigin::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "visit" => Some(SeedOrigin::Visit),
            "manual" => Some(SeedOrigin::Manual),
            _ => None,
        }
    }
}

/// How a bait page showed an address. One address is minted per form and visit, so the mail
/// that arrives also tells which forms the harvester could read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaitForm {
    /// `<a href="mailto:…">`.
    Mailto,
    /// The address as plain text in the page.
    Text,
    /// Lightly obfuscated: `name [at] domain [dot] tld`.
    Obfuscated,
    /// Written with HTML character references (`&#97;&#110;…`), plain once decoded.
    Entities,
}

impl BaitForm {
    /// Every form, in the order a page shows them.
    pub const ALL: [BaitForm; 4] = [
        BaitForm::Mailto,
        BaitForm::Text,
        BaitForm::Obfuscated,
        BaitForm::Entities,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BaitForm::Mailto => "mailto",
            BaitForm::Text => "text",
            BaitForm::Obfuscated => "obfuscated",
            BaitForm::Entities => "entities",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// A new random token (60 bits from the OS generator, through UUIDv4).
pub fn new_token() -> String {
    let bits = u128::from_be_bytes(*uuid::Uuid::new_v4().as_bytes());
    (0..SEED_TOKEN_LEN)
        .map(|i| ALPHABET[((bits >> (5 * i)) & 31) as usize] as char)
        .collect()
}

/// The local part of a seed address for `token`: a given name chosen by the token, a dot, the
/// token.
pub fn local_part(token: &str) -> String {
    let pick = token
        .bytes()
        .fold(0usize, |acc, b| acc.wrapping_add(b as usize));
    format!("{}.{token}", NAMES[pick % NAMES.len()])
}

/// The seed token inside an address or local part, if it has the shape of one: the last
/// dot-separated label of the local part, exactly [`SEED_TOKEN_LEN`] symbols of the alphabet
/// (case-insensitive). Returned lower-case. Never panics on any input.
pub fn token_of(address: &str) -> Option<String> {
    let local = address.rsplit_once('@').map_or(address, |(l, _)| l);
    let label = local.rsplit('.').next()?;
    if label.len() != SEED_TOKEN_LEN {
        return None;
    }
    let lower = label.to_ascii_lowercase();
    lower
        .bytes()
        .all(|b| ALPHABET.contains(&b))
        .then_some(lower)
}

/// A seed to be stored (the store assigns its id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSeed {
    pub token: String,
    /// The whole address, `local@domain`, domain in lower-case ASCII.
    pub address: String,
    pub domain: String,
    pub origin: SeedOrigin,
    /// For visit seeds: how the page showed it.
    pub form: Option<BaitForm>,
    /// Operator's label (manual seeds) or the bait page's name (visit seeds). At most
    /// [`MAX_SEED_LABEL`] bytes.
    pub label: String,
}

/// Longest seed label kept, in bytes.
pub const MAX_SEED_LABEL: usize = 200;

impl NewSeed {
    /// A new seed at `domain` with a fresh token.
    pub fn mint(domain: &str, origin: SeedOrigin, form: Option<BaitForm>, label: &str) -> Self {
        let token = new_token();
        let domain = domain.to_ascii_lowercase();
        Self {
            address: format!("{}@{domain}", local_part(&token)),
            token,
            domain,
            origin,
            form,
            label: truncate(label, MAX_SEED_LABEL),
        }
    }
}

/// One visit of a bait page, as recorded (visitor values truncated to the named limits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaitVisit {
    /// UUIDv7, time-ordered.
    pub id: uuid::Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub at: Timestamp,
    /// The visitor's address as the bait listener determined it (the peer, or the client named
    /// by a trusted proxy).
    pub ip: String,
    /// At most [`MAX_VISIT_FIELD`] bytes.
    pub user_agent: String,
    /// At most [`MAX_VISIT_FIELD`] bytes.
    pub referer: String,
    /// The page path requested. At most [`MAX_VISIT_FIELD`] bytes.
    pub path: String,
}

/// Longest user agent, referer or path kept for a visit, in bytes.
pub const MAX_VISIT_FIELD: usize = 512;

/// `s` cut to at most `max` bytes on a character boundary.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_addresses_carry_their_token() {
        let seed = NewSeed::mint("Trap.Example", SeedOrigin::Manual, None, "forum");
        assert_eq!(seed.token.len(), SEED_TOKEN_LEN);
        assert!(seed.address.ends_with("@trap.example"));
        assert_eq!(
            token_of(&seed.address).as_deref(),
            Some(seed.token.as_str())
        );
        assert_eq!(
            token_of(&seed.address.to_uppercase()).as_deref(),
            Some(seed.token.as_str())
        );
        assert_ne!(new_token(), new_token());
    }

    #[test]
    fn ordinary_addresses_have_no_token() {
        for a in [
            "",
            "@",
            "info@trap.example",
            "anna.k3x9q2m7wd1@trap.example",
            "anna.k3x9q2m7wd1ab@trap.example",
            "anna.k3x9q2m7wd1u@trap.example",
            "anna.k3x9q2m7wd1é@x",
            "k3x9q2m7wd1a.anna@trap.example",
        ] {
            assert_eq!(token_of(a), None, "{a}");
        }
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("ééé", 3), "é");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
