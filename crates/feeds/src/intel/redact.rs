//! Keeping the trap unburnt and victims unnamed.
//!
//! A published feed must never name the trap: its recipient addresses (they identify the trap
//! and its domains), its domains, its own host names. A phishing URL often carries the
//! recipient's address in a parameter (`?email=victim@...`, or base64 of it): that address is
//! the trap's when the trap caught it, and personal data when a real victim forwarded it. So
//! every e-mail address inside a URL is replaced by a keyed pseudonym
//! (`p-<10 hex>@pseudonym.invalid`), stable for one installation so that analysts can still see
//! "same recipient", and not reversible without the installation secret. Values that still
//! name the trap after that are dropped.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Scrubbing passes over one value before it is replaced whole (see `scrub_names`).
pub const MAX_SCRUB_PASSES: usize = 8;

/// Shortest run of base64 characters that is decoded to look for an address inside.
const MIN_BASE64_TOKEN: usize = 12;
/// Longest value the redactor looks into; longer values are dropped by [`Redactor::url`].
pub const MAX_VALUE_LEN: usize = 8192;

/// The trap's own names, and the key for pseudonyms.
#[derive(Clone)]
pub struct Redactor {
    /// Trap domains, lower case, without a leading `*.` (a wildcard protects subdomains
    /// anyway: every subdomain of a trap domain is treated as the trap's).
    domains: Vec<String>,
    /// The trap's host names (persona host name, sensor names), lower case.
    hosts: Vec<String>,
    secret: [u8; 32],
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("domains", &self.domains)
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl Redactor {
    pub fn new(domains: &[String], hosts: &[String], secret: [u8; 32]) -> Redactor {
        let clean = |v: &[String]| -> Vec<String> {
            let mut out: Vec<String> = v
                .iter()
                .map(|d| {
                    d.trim()
                        .trim_start_matches("*.")
                        .trim_end_matches('.')
                        .to_ascii_lowercase()
                })
                .filter(|d| !d.is_empty())
                .collect();
            out.sort();
            out.dedup();
            out
        };
        Redactor {
            domains: clean(domains),
            hosts: clean(hosts),
            secret,
        }
    }

    /// Does `s` mention a trap domain (or a subdomain) or a trap host name, in any case?
    pub fn burns(&self, s: &str) -> bool {
        let lower = s.to_ascii_lowercase();
        self.domains
            .iter()
            .chain(&self.hosts)
            .any(|name| contains_name(&lower, name))
    }

    /// The pseudonym of an e-mail address: `p-<10 hex>@pseudonym.invalid`.
    pub fn pseudonym(&self, address: &str) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(address.to_ascii_lowercase().as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("p-{}@pseudonym.invalid", hex(&tag[..5]))
    }

    /// Free text (subjects, labels, file names): addresses become pseudonyms, trap names
    /// become `[trap]`.
    pub fn text(&self, s: &str) -> String {
        let out = replace_addresses(s, |a| self.pseudonym(a));
        self.scrub_names(&out)
    }

    /// A URL as it may be published, or `None` when it names the trap (its host is a trap
    /// name) or is too long to inspect. Addresses inside it (plain, `%40`-encoded, or
    /// base64-encoded) become pseudonyms.
    pub fn url(&self, url: &str) -> Option<String> {
        if url.len() > MAX_VALUE_LEN {
            return None;
        }
        if let Some(host) = super::policy::url_host(url)
            && self.burns(&host)
        {
            return None;
        }
        let out = replace_addresses(url, |a| self.pseudonym(a));
        let out = self.replace_base64_addresses(&out);
        if self.burns(&out) {
            // Still names the trap (a bare domain in a parameter, say): scrub it.
            let scrubbed = self.scrub_names(&out);
            return (!self.burns(&scrubbed)).then_some(scrubbed);
        }
        Some(out)
    }

    /// Trap names replaced by `[trap]`, repeated until nothing names the trap: a replacement
    /// can turn what was the tail of a longer word into a whole name (`ébène-mxébène-mx`: the
    /// second name then follows the first's `]`). Each pass replaces at least one name while
    /// [`Redactor::burns`] holds (same matching rule), so this ends; past
    /// [`MAX_SCRUB_PASSES`] the whole value becomes `[trap]`.
    fn scrub_names(&self, s: &str) -> String {
        let mut out = s.to_string();
        for _ in 0..MAX_SCRUB_PASSES {
            for name in self.domains.iter().chain(&self.hosts) {
                out = replace_name(&out, name, "[trap]");
            }
            if !self.burns(&out) {
                return out;
            }
        }
        "[trap]".into()
    }

    fn replace_base64_addresses(&self, s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while i < bytes.len() {
            if is_b64(bytes[i]) {
                let start = i;
                while i < bytes.len() && is_b64(bytes[i]) {
                    i += 1;
                }
                let token = &s[start..i];
                match decode_b64_address(token) {
                    Some(addr) if token.len() >= MIN_BASE64_TOKEN => {
                        let p = self.pseudonym(&addr);
                        out.push_str(&p.replace('@', "%40"));
                    }
                    _ => out.push_str(token),
                }
            } else {
                let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
                out.push(ch);
                i += ch.len_utf8().max(1);
            }
        }
        out
    }
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
}

/// Decodes a base64 (standard or URL-safe, padded or not) token; `Some(address)` when the
/// text is or contains an e-mail address.
fn decode_b64_address(token: &str) -> Option<String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let t = token.trim_end_matches('=');
    let raw = STANDARD_NO_PAD
        .decode(t)
        .or_else(|_| URL_SAFE_NO_PAD.decode(t))
        .ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let mut found = None;
    replace_addresses(text, |a| {
        found.get_or_insert_with(|| a.to_string());
        String::new()
    });
    found
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Is `name` in `lower` as a whole DNS name or a parent of one (`x.trap.example` contains
/// `trap.example`; `nottrap.example` does not)?
fn contains_name(lower: &str, name: &str) -> bool {
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let start = from + pos;
        let end = start + name.len();
        let before_ok = start == 0
            || !is_label_char(lower.as_bytes()[start - 1])
            || lower.as_bytes()[start - 1] == b'.';
        let after_ok = end == lower.len() || !is_label_char(lower.as_bytes()[end]);
        if before_ok && after_ok {
            return true;
        }
        from = next_char(lower, start);
    }
    false
}

/// The byte index after the character at `i` (a name may start with a non-ASCII letter).
fn next_char(s: &str, i: usize) -> usize {
    i + s[i..].chars().next().map_or(1, char::len_utf8)
}

fn replace_name(s: &str, name: &str, with: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let start = from + pos;
        let end = start + name.len();
        let b = lower.as_bytes();
        let before_ok = start == 0 || !is_label_char(b[start - 1]) || b[start - 1] == b'.';
        let after_ok = end == lower.len() || !is_label_char(b[end]);
        if before_ok && after_ok {
            // Take subdomain labels in front of it with it.
            let mut s0 = start;
            while s0 > last && (is_label_char(b[s0 - 1])) {
                s0 -= 1;
            }
            out.push_str(&s[last..s0]);
            out.push_str(with);
            last = end;
            from = end;
        } else {
            from = next_char(&lower, start);
        }
    }
    out.push_str(&s[last..]);
    out
}

fn is_label_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
}

fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-' | b'%' | b'\'')
}

/// Replaces every `local@domain` (also `local%40domain`) in `s` with `f(address)`.
fn replace_addresses(s: &str, mut f: impl FnMut(&str) -> String) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        let at_len = if b[i] == b'@' {
            1
        } else if b[i] == b'%' && b.len() >= i + 3 && &b[i + 1..i + 3] == b"40" {
            3
        } else {
            i += 1;
            continue;
        };
        // Local part to the left (bounded by `last`), domain to the right.
        let mut l = i;
        while l > last && is_local_char(b[l - 1]) {
            l -= 1;
        }
        let mut r = i + at_len;
        while r < b.len() && (b[r].is_ascii_alphanumeric() || b[r] == b'-' || b[r] == b'.') {
            r += 1;
        }
        let domain = s[i + at_len..r].trim_end_matches('.');
        let r = i + at_len + domain.len();
        if l < i && domain.contains('.') && !domain.starts_with('.') {
            let mut local = &s[l..i];
            // `%3D` and friends before the local part belong to the URL, not the address.
            while let Some(p) = local.find('%') {
                local = &local[p + 1..];
                if local.len() >= 2 && local.as_bytes()[..2].iter().all(u8::is_ascii_hexdigit) {
                    local = &local[2..];
                }
            }
            let l = i - local.len();
            if !local.is_empty() {
                let address = format!("{local}@{domain}");
                let p = f(&address);
                out.push_str(&s[last..l]);
                if at_len == 3 {
                    out.push_str(&p.replace('@', "%40"));
                } else {
                    out.push_str(&p);
                }
                last = r;
                i = r;
                continue;
            }
        }
        i += at_len;
    }
    out.push_str(&s[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::new(
            &["trap.example".to_string(), "*.wild.example".to_string()],
            &["mx1.trap-host.example".to_string()],
            [7; 32],
        )
    }

    #[test]
    fn names_of_the_trap_are_found_as_whole_names_only() {
        let r = r();
        assert!(r.burns("TRAP.example"));
        assert!(r.burns("a.b.trap.example"));
        assert!(r.burns("x.wild.example"));
        assert!(r.burns("from mx1.trap-host.example by"));
        assert!(!r.burns("nottrap.example"));
        assert!(!r.burns("trap.example.com"));
    }

    #[test]
    fn urls_on_trap_hosts_are_dropped() {
        assert_eq!(r().url("http://www.trap.example/x"), None);
    }

    #[test]
    fn addresses_in_urls_become_stable_pseudonyms() {
        let r = r();
        let a = r
            .url("https://evil.example/login?u=john.doe@trap.example&x=1")
            .expect("a published URL");
        let b = r
            .url("https://evil.example/login?u=John.Doe%40trap.example&x=1")
            .expect("a published URL");
        assert!(!r.burns(&a) && !a.contains("john"), "{a}");
        assert!(a.contains("@pseudonym.invalid&x=1"), "{a}");
        assert!(b.contains("%40pseudonym.invalid&x=1"), "{b}");
        let p = r.pseudonym("john.doe@trap.example");
        assert!(a.contains(&p) && b.contains(&p.replace('@', "%40")));
        // Another secret, another pseudonym.
        let other = Redactor::new(&[], &[], [8; 32]);
        assert_ne!(other.pseudonym("john.doe@trap.example"), p);
    }

    #[test]
    fn base64_addresses_in_urls_are_found() {
        use base64::Engine;
        let enc = base64::engine::general_purpose::STANDARD.encode("victim@bank.example");
        let url = format!("https://evil.example/p#{enc}");
        let out = r().url(&url).expect("a published URL");
        assert!(!out.contains(&enc), "{out}");
        assert!(out.contains("pseudonym.invalid"), "{out}");
    }

    #[test]
    fn text_loses_addresses_and_trap_names() {
        let r = r();
        let t = r.text("Your mailbox jane@trap.example on mail.trap.example is full");
        assert!(!r.burns(&t), "{t}");
        assert!(
            t.contains("pseudonym.invalid") && t.contains("[trap]"),
            "{t}"
        );
        assert_eq!(r.text("Factuur 0000"), "Factuur 0000");
    }

    /// Found by the `feeds_redact` fuzz target: a trap name starting with a non-ASCII letter
    /// (a host name the config accepts) after a label character made `burns` slice inside
    /// that letter and panic.
    #[test]
    fn a_name_uncovered_by_a_replacement_is_scrubbed_too() {
        let r = Redactor::new(&[], &["ébène-mx".to_string()], [7; 32]);
        let t = r.text("ébène-mxébène-mx");
        assert!(!r.burns(&t), "{t}");
        assert_eq!(t, "[trap][trap]");
    }

    #[test]
    fn a_non_ascii_host_name_after_a_letter_does_not_panic() {
        let r = Redactor::new(&[], &["ébène-mx".to_string()], [7; 32]);
        assert!(!r.burns("xébène-mx"));
        assert!(r.burns("x.ébène-mx"));
        assert_eq!(r.text("xébène-mx"), "xébène-mx");
        assert_eq!(
            r.url("http://xébène-mx/").as_deref(),
            Some("http://xébène-mx/")
        );
    }

    /// Found by the `feeds_redact` fuzz target: after a rejected match, the scrubber skipped
    /// past its end, so with a trap domain whose labels repeat (`co.co`) the real match inside
    /// (`xco.co.co` is a subdomain) was left in `text` output.
    #[test]
    fn overlapping_trap_names_are_scrubbed_from_text() {
        let r = Redactor::new(&["co.co".to_string()], &[], [7; 32]);
        let t = r.text("see xco.co.co now");
        assert!(!r.burns(&t), "{t}");
        assert_eq!(t, "see [trap] now");
    }

    #[test]
    fn hostile_values_do_not_panic() {
        let r = r();
        for s in [
            "@", "%40", "%4", "a@", "@b.c", "é@é.é", "%%40x.y", "====@", "a%40.b",
        ] {
            let _ = r.url(s);
            let _ = r.text(s);
        }
    }
}
