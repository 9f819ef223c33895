//! The visitor's address: the TCP peer, or the client a trusted proxy names in
//! `X-Forwarded-For`.
//!
//! Each proxy appends the address it got the request from, so the list reads client first,
//! nearest proxy last. Only the right end can be believed: everything left of the first entry
//! written by a machine we do not trust was written by the visitor. So the entries are walked
//! from the right, skipping our own proxies, and the first other one is the visitor. Anything
//! that does not parse means a confused or lying chain: the peer is kept.

use axum::http::HeaderMap;
use axum::http::header::HeaderName;
use std::net::{IpAddr, SocketAddr};

/// Most `X-Forwarded-For` entries looked at, from the right. A real chain has a handful of
/// proxies; a longer list is walked no further and the peer is kept.
pub const MAX_FORWARDED_HOPS: usize = 16;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The address a bait visit is recorded under.
pub fn visitor_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = canonical(peer);
    if !is_trusted(peer, trusted) {
        return peer;
    }
    forwarded_client(headers, trusted).unwrap_or(peer)
}

/// The right-most forwarded entry that is not a trusted proxy; `None` when there is no
/// header, an entry does not parse, the list is too long, or every entry is a trusted proxy.
fn forwarded_client(headers: &HeaderMap, trusted: &[IpAddr]) -> Option<IpAddr> {
    let values: Vec<&str> = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .map(|v| v.to_str().ok())
        .collect::<Option<_>>()?;
    // Several header lines form one list, in order.
    let entries = values.iter().rev().flat_map(|v| v.rsplit(','));
    for (hop, entry) in entries.enumerate() {
        if hop >= MAX_FORWARDED_HOPS {
            return None;
        }
        let ip = canonical(parse_entry(entry.trim())?);
        if !is_trusted(ip, trusted) {
            return Some(ip);
        }
    }
    None
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = entry.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<IpAddr>().ok())
}

/// IPv4 peers of a dual-stack listener arrive as `::ffff:a.b.c.d`: record them as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpAddr]) -> bool {
    trusted.iter().any(|t| canonical(*t) == ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const PROXY: [u8; 4] = [127, 0, 0, 1];

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn xff(values: &[&[u8]]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                X_FORWARDED_FOR,
                HeaderValue::from_bytes(v).expect("header value"),
            );
        }
        h
    }

    fn visitor(peer: &str, values: &[&[u8]]) -> String {
        visitor_ip(
            ip(peer),
            &xff(values),
            &[IpAddr::from(PROXY), ip("10.0.0.2")],
        )
        .to_string()
    }

    #[test]
    fn an_untrusted_peer_is_the_visitor_whatever_it_forwards() {
        assert_eq!(visitor("198.51.100.9", &[b"203.0.113.5"]), "198.51.100.9");
    }

    #[test]
    fn a_trusted_proxy_names_the_right_most_untrusted_entry() {
        assert_eq!(visitor("127.0.0.1", &[b"203.0.113.5"]), "203.0.113.5");
        // The visitor wrote the left part itself: it is not believed.
        assert_eq!(
            visitor("127.0.0.1", &[b"1.1.1.1, 203.0.113.5, 10.0.0.2"]),
            "203.0.113.5"
        );
        assert_eq!(
            visitor("127.0.0.1", &[b"1.1.1.1", b"[2001:db8::7]:443"]),
            "2001:db8::7"
        );
        assert_eq!(
            visitor("::ffff:127.0.0.1", &[b"203.0.113.5:80"]),
            "203.0.113.5"
        );
    }

    #[test]
    fn garbage_or_nothing_keeps_the_peer() {
        for bad in [
            &b"not-an-ip"[..],
            b"",
            b"203.0.113.5, <script>",
            b"203.0.113.5,,",
            b"\xff\xfe",
        ] {
            assert_eq!(visitor("127.0.0.1", &[bad]), "127.0.0.1", "{bad:?}");
        }
        assert_eq!(visitor("127.0.0.1", &[]), "127.0.0.1");
        assert_eq!(visitor("127.0.0.1", &[b"10.0.0.2, 127.0.0.1"]), "127.0.0.1");
        let long = vec!["127.0.0.1"; MAX_FORWARDED_HOPS + 1].join(",");
        assert_eq!(visitor("127.0.0.1", &[long.as_bytes()]), "127.0.0.1");
    }

    #[test]
    fn mapped_peers_are_recorded_as_ipv4() {
        assert_eq!(
            visitor("::ffff:198.51.100.9", &[b"203.0.113.5"]),
            "198.51.100.9"
        );
    }
}
