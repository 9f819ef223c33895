//! The value shapes the STIX 2.1 JSON schemas (as stix2-validator checks them) demand of
//! observables, checked conservatively: a value we are unsure of gets `false`, which costs
//! an observable (the indicator keeps the exact value in its pattern) but never the bundle's
//! validity.
//!
//! - `url.value`: JSON-schema format `uri`, i.e. an RFC 3986 URI (ASCII only, `%` escapes
//!   well formed, one `#`, brackets only around an IP literal host, numeric port).
//! - `email-addr.value`: the validator's own shape, `^[a-zA-Z0-9_.+-]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$`.
//! - `domain-name.value`: format `idn-hostname`; we accept ASCII letter-digit-hyphen labels
//!   of 1 to 63 characters, 253 in all.
//! - `ipv4-addr`/`ipv6-addr`: the schema's patterns; an address with an optional prefix
//!   length. IPv6 with an embedded IPv4 part or a zone is refused (the schema's pattern
//!   mishandles both).

use std::net::{Ipv4Addr, Ipv6Addr};

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn sub_delim(b: u8) -> bool {
    b"!$&'()*+,;=".contains(&b)
}

/// Every byte in `allowed` or part of a well-formed `%HH` escape.
fn chars_ok(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |j: usize| b.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if allowed(b[i]) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

fn pchar(b: u8) -> bool {
    unreserved(b) || sub_delim(b) || b == b':' || b == b'@'
}

fn authority_ok(auth: &str) -> bool {
    let (userinfo, hostport) = match auth.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, auth),
    };
    if userinfo.is_some_and(|u| !chars_ok(u, |b| unreserved(b) || sub_delim(b) || b == b':')) {
        return false;
    }
    let (host_ok, port) = if let Some(rest) = hostport.strip_prefix('[') {
        match rest.split_once(']') {
            Some((lit, port)) => (lit.parse::<Ipv6Addr>().is_ok(), port),
            None => return false,
        }
    } else {
        let (host, port) = match hostport.find(':') {
            Some(i) => hostport.split_at(i),
            None => (hostport, ""),
        };
        (chars_ok(host, |b| unreserved(b) || sub_delim(b)), port)
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// An RFC 3986 URI (absolute, with a scheme).
pub fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut sb = scheme.bytes();
    let scheme_ok = sb.next().is_some_and(|b| b.is_ascii_alphabetic())
        && sb.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return false;
    }
    let (before_fragment, fragment) = match rest.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (rest, None),
    };
    if fragment.is_some_and(|f| !chars_ok(f, |b| pchar(b) || b == b'/' || b == b'?')) {
        return false;
    }
    let (hier, query) = match before_fragment.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (before_fragment, None),
    };
    if query.is_some_and(|q| !chars_ok(q, |b| pchar(b) || b == b'/' || b == b'?')) {
        return false;
    }
    let path = match hier.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            let (auth, path) = after.split_at(end);
            if !authority_ok(auth) {
                return false;
            }
            path
        }
        None => hier,
    };
    chars_ok(path, |b| pchar(b) || b == b'/')
}

/// The validator's e-mail shape.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.+-".contains(&b));
    let Some((first, rest)) = domain.split_once('.') else {
        return false;
    };
    let first_ok = !first.is_empty()
        && first
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let rest_ok = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b));
    local_ok && first_ok && rest_ok
}

/// An ASCII host name: labels of letters, digits and inner hyphens, 1 to 63 long, 253 in all.
pub fn is_hostname(s: &str) -> bool {
    s.len() <= 253
        && s.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// An IPv4 or IPv6 address, optionally with a prefix length (`/24`, `/64`).
pub fn is_ip(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let prefix_of = |max: u8| match prefix {
        None => true,
        Some(p) => {
            p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'))
                && p.parse::<u8>().is_ok_and(|n| n <= max)
        }
    };
    if addr.contains(':') {
        !addr.contains('.') && addr.parse::<Ipv6Addr>().is_ok() && prefix_of(128)
    } else {
        addr.parse::<Ipv4Addr>().is_ok() && prefix_of(32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_as_the_validator_sees_them() {
        // Expected values from jsonschema's `uri` check (rfc3986-validator), run by hand.
        for ok in [
            "http://a.example/a'b",
            "http://[::1]/x",
            "https://u:p@a.example:8080/p?q=1#f",
        ] {
            assert!(is_uri(ok), "{ok}");
        }
        for bad in [
            "http://a.example/x y",
            "http://a.example/é",
            "http://a.example/%zz",
            "http://a.example/a|b",
            "http://a.example/a#b#c",
            "hxxp://a.example/{x}",
            "http://a.example/a\\b",
            "http://a.example/?q=\"x\"",
            "http://a.example/a[b]",
            "http://a.example:8x/",
            "no scheme",
        ] {
            assert!(!is_uri(bad), "{bad}");
        }
    }

    #[test]
    fn emails_domains_and_ips() {
        // Expected values from stix2-validator 3.3.2, run by hand.
        assert!(is_email("a.b+c@x-y.example"));
        for bad in [
            "o'brien@evil.example",
            "é@x.example",
            "x@évil.example",
            "a@b",
            "\"q\"@x.example",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(is_hostname("EXAMPLE.com") && is_hostname("xn--exmple-cua.com"));
        assert!(!is_hostname("a_b.example") && !is_hostname("-a.example") && !is_hostname("a..b"));
        assert!(is_ip("203.0.113.7") && is_ip("203.0.113.0/24") && is_ip("2001:db8::7/64"));
        assert!(!is_ip("203.0.113.07") && !is_ip("203.0.113.7/33") && !is_ip("::ffff:1.2.3.4"));
    }
}
