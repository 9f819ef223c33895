//! Who counts as one client for the caps and throttles (SMTP connections, HTTP connections,
//! bait visits).

use std::net::{IpAddr, Ipv6Addr};

/// The key a client is counted under: an IPv4 address (also when it arrives IPv4-mapped on a
/// dual-stack socket) or an IPv6 /64. One end site gets a whole /64 and can pick a fresh
/// address for every connection, so counting IPv6 addresses one by one would multiply every
/// per-client cap by 2^64.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_ipv4_addresses_and_ipv6_64s() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
        assert_eq!(client_key(ip("192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(client_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
        assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("::1")), ip("::"));
    }
}
