//! The Received chain, hop by hop (newest first), and the origin of the message: the peer the
//! trap saw when it is known, else the oldest public IP a hop claims.

use super::clauses::{Keyword, clauses};
use crate::engine::Input;
use crate::walk::{Walk, bounded};
use mail_parser::{HeaderName, Host, Message, Received};
use model::report::{Hop, Origin};
use regex::Regex;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::LazyLock;

/// Received headers kept. Real mail crosses fewer than 15 hops; RFC 5321 §6.3 suggests MTAs
/// reject at 100 as a loop. 50 keeps every real chain and bounds a padded one.
const MAX_HOPS: usize = 50;

/// Bytes kept of a host name, protocol or id in a hop.
const MAX_FIELD: usize = 255;

/// `from <host> ... [ip]` for the hops mail-parser could not read fully.
static FROM_IP: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\[(?:IPv6:)?([0-9A-Fa-f:.]{3,45})\]").ok());

/// The Received headers of `msg`, newest (topmost) first.
pub(crate) fn chain(walk: &mut Walk<'_>, msg: &Message<'_>) -> Vec<Hop> {
    let headers: Vec<_> = msg
        .headers()
        .iter()
        .filter(|h| h.name == HeaderName::Received)
        .collect();
    if headers.len() > MAX_HOPS {
        walk.anomaly(
            model::AnomalyKind::MalformedContent,
            "headers.received",
            format!("{} Received headers; first {MAX_HOPS} kept", headers.len()),
        );
    }
    headers
        .into_iter()
        .take(MAX_HOPS)
        .map(|h| {
            let raw = msg
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            let mut hop = h.value.as_received().map(parsed).unwrap_or_default();
            best_effort(&mut hop, &raw);
            hop
        })
        .collect()
}

fn host(h: &Host<'_>) -> String {
    match h {
        Host::Name(n) => bounded(n.to_string(), MAX_FIELD),
        Host::IpAddr(ip) => ip.to_string(),
    }
}

fn parsed(r: &Received<'_>) -> Hop {
    let from_ip = r.from_ip.or(match &r.from {
        Some(Host::IpAddr(ip)) => Some(*ip),
        _ => None,
    });
    let from_host = match (&r.from, &r.helo) {
        (Some(Host::Name(n)), _) => Some(bounded(n.to_string(), MAX_FIELD)),
        (_, Some(h)) => Some(host(h)),
        _ => r
            .from_iprev
            .as_ref()
            .map(|n| bounded(n.to_string(), MAX_FIELD)),
    };
    Hop {
        from_host,
        from_ip: from_ip.map(|ip| ip.to_string()),
        by_host: r.by.as_ref().map(host),
        with: r.with.map(|p| p.to_string()),
        id: r.id.as_ref().map(|s| bounded(s.to_string(), MAX_FIELD)),
        for_addr: r.for_.as_ref().map(|s| bounded(s.to_string(), MAX_FIELD)),
        date_utc: r
            .date
            .filter(|d| d.is_valid())
            .and_then(|d| super::utc(d.to_timestamp())),
    }
}

/// Clauses read from one header at most; a padded header stops here.
const MAX_CLAUSES: usize = 8;

/// Fills what mail-parser left empty from the raw header text: broken hops are still evidence.
fn best_effort(hop: &mut Hop, raw: &str) {
    let complete = hop.from_ip.is_some()
        && hop.from_host.is_some()
        && hop.by_host.is_some()
        && hop.with.is_some()
        && hop.id.is_some()
        && hop.for_addr.is_some();
    if complete {
        return;
    }
    let from_clause = raw
        .split_once(" by ")
        .map_or(raw, |(f, _)| f)
        .split_once("from")
        .map(|(_, f)| f);
    if hop.from_ip.is_none()
        && let (Some(clause), Some(re)) = (from_clause, FROM_IP.as_ref())
    {
        hop.from_ip = re
            .captures(clause)
            .and_then(|c| c.get(1))
            .and_then(|m| m.as_str().parse::<IpAddr>().ok())
            .map(|ip| ip.to_string());
    }
    for (keyword, value) in clauses(raw).take(MAX_CLAUSES) {
        let slot = match keyword {
            Keyword::From => &mut hop.from_host,
            Keyword::By => &mut hop.by_host,
            Keyword::With => &mut hop.with,
            Keyword::Id => &mut hop.id,
            Keyword::For => &mut hop.for_addr,
        };
        if slot.is_none() {
            *slot = Some(value.to_string());
        }
    }
}

/// Where the message came from. The trap's own view of the connection beats anything written
/// in the message; without it, the oldest hop with a public IP is the best claim available
/// (every Received line below the trap's could be forged, hence trust `claimed`).
pub(crate) fn origin(input: &Input<'_>, hops: &[Hop]) -> Option<Origin> {
    if let Some(ip) = input.sighting.and_then(|s| peer_ip(&s.peer)) {
        return Some(Origin {
            ip: ip.to_string(),
            host: None,
            trust: "connection".to_string(),
            at: "sighting.peer".to_string(),
        });
    }
    hops.iter().enumerate().rev().find_map(|(i, hop)| {
        let ip: IpAddr = hop.from_ip.as_deref()?.parse().ok()?;
        is_public(ip).then(|| Origin {
            ip: ip.to_string(),
            host: hop.from_host.clone(),
            trust: "claimed".to_string(),
            at: format!("headers.received[{i}]"),
        })
    })
}

/// `ip:port`, `[v6]:port` or a bare IP.
fn peer_ip(peer: &str) -> Option<IpAddr> {
    let peer = peer.trim();
    if peer.is_empty() {
        return None;
    }
    peer.parse::<SocketAddr>()
        .map(|s| s.ip())
        .or_else(|_| peer.parse::<IpAddr>())
        .ok()
}

/// Globally routable: not private, loopback, link-local, CGNAT, documentation, benchmarking,
/// multicast or reserved. Such addresses in a Received line are internal hops, not origins.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && c == 0))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00
        || (s[0] & 0xffc0) == 0xfe80
        || (s[0] == 0x2001 && s[1] == 0x0db8))
}
