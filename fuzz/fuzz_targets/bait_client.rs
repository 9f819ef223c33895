//! Fuzz the bait listener's two input parsers: the visitor address
//! (`web::bait::visitor_ip`, from the peer, the trusted proxies and `X-Forwarded-For`) and the
//! seed token of an address (`model::seed::token_of`).
//!
//! Input: the first byte picks the peer and the trusted-proxy list, the rest is split at `\n`
//! into `X-Forwarded-For` header lines (lines that are not valid header values are left out,
//! as HTTP would). The whole rest, and each line, is also an address for `token_of`.
//!
//! Checks beyond "no panic":
//! - the visitor is never an IPv4-mapped IPv6 address; an untrusted peer is the visitor
//!   whatever it sends; a visitor other than the peer is not a trusted proxy and is one of
//!   the forwarded entries;
//! - several header lines mean the same as one line joined with commas;
//! - once a visitor is named, entries added at the left (written by the visitor) change
//!   nothing;
//! - a token is `None` or exactly `SEED_TOKEN_LEN` symbols of the seed alphabet, found (lower
//!   case) in the input, the same for the input in upper case, and found again in its own
//!   seed address.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use model::seed::{SEED_TOKEN_LEN, local_part, token_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The seed token alphabet (Crockford base32 without `i l o u`, lower case).
const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// Most header lines used from one input.
const MAX_LINES: usize = 64;

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn v6(s: u16, last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(s, 0xdb8, 0, 0, 0, 0, 0, last))
}

fn mapped(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V6(Ipv4Addr::new(a, b, c, d).to_ipv6_mapped())
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Every address written in the header lines, in the forms a proxy writes (`ip`, `ip:port`,
/// `[v6]`, `[v6]:port`), canonical.
fn written(lines: &[&[u8]]) -> Vec<IpAddr> {
    let mut out = Vec::new();
    for line in lines {
        let Ok(text) = std::str::from_utf8(line) else {
            continue;
        };
        for entry in text.split(',').map(str::trim) {
            let ip = entry
                .parse::<IpAddr>()
                .ok()
                .or_else(|| entry.parse::<SocketAddr>().ok().map(|sa| sa.ip()))
                .or_else(|| {
                    entry
                        .strip_prefix('[')
                        .and_then(|e| e.strip_suffix(']'))
                        .and_then(|e| e.parse().ok())
                });
            out.extend(ip.map(canonical));
        }
    }
    out
}

fn headers(lines: &[&[u8]]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for line in lines {
        let v = HeaderValue::from_bytes(line).expect("lines are valid header values");
        h.append("x-forwarded-for", v);
    }
    h
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let peers = [
        v4(127, 0, 0, 1),
        mapped(127, 0, 0, 1),
        v4(10, 0, 0, 2),
        v4(198, 51, 100, 9),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        v6(0x2001, 1),
        mapped(198, 51, 100, 9),
        v6(0x2001, 2),
    ];
    let proxies = [v4(127, 0, 0, 1), v4(10, 0, 0, 2)];
    // As an operator may write them: mapped, IPv6, loopback.
    let written_as = [
        mapped(127, 0, 0, 1),
        v6(0x2001, 1),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    let most = [
        v4(127, 0, 0, 1),
        v4(10, 0, 0, 2),
        v6(0x2001, 1),
        v4(198, 51, 100, 9),
    ];
    let trusted_sets: [&[IpAddr]; 4] = [&[], &proxies, &written_as, &most];
    let peer = peers[usize::from(pick & 7)];
    let trusted = trusted_sets[usize::from(pick >> 3 & 3)];

    let lines: Vec<&[u8]> = rest
        .split(|b| *b == b'\n')
        .filter(|l| HeaderValue::from_bytes(l).is_ok())
        .take(MAX_LINES)
        .collect();
    let got = web::bait::visitor_ip(peer, &headers(&lines), trusted);

    let peer_c = canonical(peer);
    let trusted_c: Vec<IpAddr> = trusted.iter().copied().map(canonical).collect();
    assert_eq!(canonical(got), got, "visitor {got} is IPv4-mapped");
    if !trusted_c.contains(&peer_c) {
        assert_eq!(got, peer_c, "an untrusted peer forwarded {lines:?}");
    }
    if got != peer_c {
        assert!(
            !trusted_c.contains(&got),
            "visitor {got} is a trusted proxy"
        );
        assert!(
            written(&lines).contains(&got),
            "visitor {got} not in {lines:?}"
        );
        let first = [b"not-an-ip, 192.0.2.77, ".as_slice(), lines[0]].concat();
        let mut left = lines.clone();
        left[0] = first.as_slice();
        assert_eq!(
            web::bait::visitor_ip(peer, &headers(&left), trusted),
            got,
            "entries at the left changed the visitor"
        );
    }
    if lines.len() > 1 {
        let joined = lines.join(&b","[..]);
        assert_eq!(
            web::bait::visitor_ip(peer, &headers(&[joined.as_slice()]), trusted),
            got,
            "{lines:?} as one line"
        );
    }

    let text = String::from_utf8_lossy(rest);
    for address in std::iter::once(&*text).chain(text.lines()) {
        seed_token(address);
    }
});

fn seed_token(address: &str) {
    let Some(t) = token_of(address) else {
        assert_eq!(token_of(&address.to_ascii_uppercase()), None, "{address:?}");
        return;
    };
    assert!(
        t.len() == SEED_TOKEN_LEN && t.bytes().all(|b| ALPHABET.contains(&b)),
        "{address:?} -> {t:?}"
    );
    assert!(
        address.to_ascii_lowercase().contains(&t),
        "{address:?} -> {t:?}"
    );
    assert_eq!(token_of(&address.to_ascii_uppercase()).as_ref(), Some(&t));
    assert_eq!(token_of(&t).as_ref(), Some(&t));
    let seed = format!("{}@trap.example", local_part(&t));
    assert_eq!(token_of(&seed), Some(t), "{seed:?}");
}
