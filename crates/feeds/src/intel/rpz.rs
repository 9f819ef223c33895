//! DNS Response Policy Zone (draft-vixie-dnsop-dns-rpz): QNAME rules for domains, answer-IP
//! rules for addresses, all with the NXDOMAIN action (`CNAME .`).
//!
//! Owner names are relative to `$ORIGIN` (the zone name). Per domain two rules: the name and
//! `*.name` (its subdomains). Per IP one `rpz-ip` rule for the single address: IPv4 as
//! `32.<octets reversed>.rpz-ip`; IPv6 as `128.<16-bit groups reversed, lower-case hex
//! without leading zeros>.rpz-ip` where the longest run of two or more zero groups (the
//! RFC 5952 `::`) is written `zz`, as the draft specifies. Provenance goes in a `;` comment
//! on the line before: a TXT next to a CNAME is invalid (CNAME-and-other-data). Comments
//! carry only ids, dates, numbers and the family tag, never free text such as subjects.

use super::format::{FeedMeta, FeedWriter, Format};
use super::policy::Ioc;
use super::text::{MAX_DNS_NAME, dns_name, is_dns_name};
use super::writers::{carries, header_lines, utc_seconds, write_comments};
use model::report::IndicatorKind;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv6Addr};

/// TTL of every record: five minutes, so a withdrawn rule stops blocking quickly.
pub const RPZ_TTL: u32 = 300;
/// Longest family tag repeated in a provenance comment.
const MAX_COMMENT_FAMILY: usize = 64;

/// Streams one zone.
pub struct RpzWriter {
    origin: String,
    out: BufWriter<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for RpzWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpzWriter")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl RpzWriter {
    /// Writes the header comments, `$ORIGIN`, `$TTL`, SOA (serial `meta.serial`) and NS.
    /// `origin` must be a valid DNS name; a missing final dot is added.
    pub fn new(meta: &FeedMeta, origin: &str, out: Box<dyn Write + Send>) -> io::Result<RpzWriter> {
        let bare = dns_name(origin);
        if !is_dns_name(&bare) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("RPZ origin {origin:?} is not a valid DNS name"),
            ));
        }
        let origin = format!("{bare}.");
        let mut out = BufWriter::new(out);
        let legend =
            ["Policy: every rule answers NXDOMAIN (CNAME .); domains also block their subdomains."];
        write_comments(
            &mut out,
            ";",
            &header_lines("spamhattan malspam response policy zone", meta, &legend),
        )?;
        writeln!(out, "$ORIGIN {origin}")?;
        writeln!(out, "$TTL {RPZ_TTL}")?;
        writeln!(
            out,
            "@ IN SOA localhost. hostmaster.{origin} ( {} 3600 600 604800 {RPZ_TTL} )",
            meta.serial
        )?;
        writeln!(out, "@ IN NS localhost.")?;
        Ok(RpzWriter { origin, out })
    }

    /// Does `name` fit below the origin with a `*.` in front (255 octets on the wire)?
    fn fits(&self, name: &str) -> bool {
        name.len() + 2 + self.origin.len() <= MAX_DNS_NAME + 1
    }
}

impl FeedWriter for RpzWriter {
    fn ioc(&mut self, ioc: &Ioc) -> io::Result<()> {
        if !carries(Format::Rpz, ioc) {
            return Ok(());
        }
        match ioc.kind {
            IndicatorKind::Domain => {
                let name = dns_name(&ioc.value);
                if !is_dns_name(&name) || !self.fits(&name) {
                    return Ok(());
                }
                writeln!(self.out, "{}", provenance(ioc))?;
                writeln!(self.out, "{name} CNAME .")?;
                writeln!(self.out, "*.{name} CNAME .")?;
            }
            IndicatorKind::Ip => {
                let Ok(ip) = ioc.value.parse::<IpAddr>() else {
                    return Ok(());
                };
                writeln!(self.out, "{}", provenance(ioc))?;
                writeln!(self.out, "{} CNAME .", rpz_ip(ip))?;
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let mut out = self.out;
        out.flush()
    }
}

/// `; <kind> <value> campaign=<id> family=<tag> first_seen=... last_seen=... confidence=N`.
fn provenance(ioc: &Ioc) -> String {
    let campaign = ioc
        .campaign
        .as_ref()
        .map(|c| format!("{} ({})", c.id(), c.brief.uuid))
        .unwrap_or_else(|| "none".to_string());
    let family: String = ioc
        .family()
        .unwrap_or("none")
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(MAX_COMMENT_FAMILY)
        .collect();
    format!(
        "; {} campaign={campaign} family={family} first_seen={}Z last_seen={}Z confidence={}",
        ioc.kind.as_str(),
        utc_seconds(ioc.first_seen).replace(' ', "T"),
        utc_seconds(ioc.last_seen).replace(' ', "T"),
        ioc.confidence
    )
}

/// The relative `rpz-ip` owner name of a single address (prefix length 32 or 128).
pub fn rpz_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("32.{d}.{c}.{b}.{a}.rpz-ip")
        }
        IpAddr::V6(v6) => format!("128.{}.rpz-ip", v6_words_reversed(v6)),
    }
}

fn v6_words_reversed(v6: Ipv6Addr) -> String {
    let seg = v6.segments();
    // Longest run of zero groups, two or more long, first one on a tie (RFC 5952 §4.2).
    let (mut best, mut best_len, mut i) = (0usize, 0usize, 0usize);
    while i < seg.len() {
        if seg[i] == 0 {
            let start = i;
            while i < seg.len() && seg[i] == 0 {
                i += 1;
            }
            if i - start > best_len {
                (best, best_len) = (start, i - start);
            }
        } else {
            i += 1;
        }
    }
    let mut words: Vec<String> = Vec::with_capacity(8);
    let mut j = 0;
    while j < seg.len() {
        if best_len >= 2 && j == best {
            words.push("zz".to_string());
            j += best_len;
        } else {
            words.push(format!("{:x}", seg[j]));
            j += 1;
        }
    }
    words.reverse();
    words.join(".")
}
