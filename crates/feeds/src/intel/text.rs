//! Plain lists (`txt-urls`, `txt-domains`, `txt-ips`, `txt-sha256`) and the hosts file.
//!
//! One value per line, LF, after a `#` header block. A list line must be exactly one token,
//! so values holding whitespace or control characters are skipped, not mangled. The hosts
//! file only takes valid LDH names (see [`is_dns_name`]); internationalised names in
//! U-label form are skipped rather than converted (no IDNA table in the crate). Lines
//! stream in the driver's order; values are unique per store row, so no global sort or
//! deduplication pass is made (it would need the whole list in memory).

use super::format::{FeedMeta, FeedWriter, Format};
use super::policy::Ioc;
use super::writers::{carries, header_lines, write_comments};
use std::io::{self, BufWriter, Write};

/// Longest DNS name in presentation form without the final dot (RFC 1035: 255 octets on
/// the wire).
pub const MAX_DNS_NAME: usize = 253;
/// Longest DNS label (RFC 1035).
pub const MAX_DNS_LABEL: usize = 63;

/// Streams one list or the hosts file.
pub struct ListWriter {
    format: Format,
    out: BufWriter<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for ListWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListWriter")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl ListWriter {
    /// Writes the header block at once.
    pub fn new(
        format: Format,
        meta: &FeedMeta,
        out: Box<dyn Write + Send>,
    ) -> io::Result<ListWriter> {
        let title = match format {
            Format::TxtUrls => "spamhattan malspam URLs, one per line",
            Format::TxtDomains => "spamhattan malspam domains, one per line",
            Format::TxtIps => {
                "spamhattan malspam IP addresses (senders and URL hosts), one per line"
            }
            Format::TxtSha256 => "spamhattan malspam payload SHA-256 hashes, one per line",
            Format::Hosts => "spamhattan malspam domains as a hosts file (0.0.0.0 <domain>)",
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{format} is not a list format"),
                ));
            }
        };
        let mut out = BufWriter::new(out);
        write_comments(&mut out, "#", &header_lines(title, meta, &[]))?;
        Ok(ListWriter { format, out })
    }
}

impl FeedWriter for ListWriter {
    fn ioc(&mut self, ioc: &Ioc) -> io::Result<()> {
        if !carries(self.format, ioc) {
            return Ok(());
        }
        match self.format {
            Format::Hosts => {
                let name = dns_name(&ioc.value);
                if is_dns_name(&name) {
                    writeln!(self.out, "0.0.0.0 {name}")?;
                }
            }
            Format::TxtDomains => {
                let name = dns_name(&ioc.value);
                if is_token(&name) {
                    writeln!(self.out, "{name}")?;
                }
            }
            Format::TxtSha256 => {
                let v = ioc.value.to_ascii_lowercase();
                if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    writeln!(self.out, "{v}")?;
                }
            }
            Format::TxtIps => {
                if let Ok(ip) = ioc.value.parse::<std::net::IpAddr>() {
                    writeln!(self.out, "{ip}")?;
                }
            }
            _ => {
                if is_token(&ioc.value) {
                    writeln!(self.out, "{}", ioc.value)?;
                }
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<()> {
        let mut out = self.out;
        out.flush()
    }
}

/// One list token: not empty, no whitespace, no control characters.
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A domain as lists print it: lower case, without a final dot.
pub fn dns_name(s: &str) -> String {
    s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase()
}

/// A host name a resolver or hosts file can hold: at least two labels of letters, digits
/// and inner hyphens (LDH, 1–63 characters each), 253 characters at most, and a last label
/// that is not all digits (that would be an IPv4 address). One label alone (`localhost`,
/// `com`) is refused: blocking it would take out far more than a campaign.
pub fn is_dns_name(s: &str) -> bool {
    if s.is_empty() || s.len() > MAX_DNS_NAME {
        return false;
    }
    let labels: Vec<&str> = s.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    let ldh = |l: &&str| {
        !l.is_empty()
            && l.len() <= MAX_DNS_LABEL
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    labels.iter().all(ldh)
        && labels
            .last()
            .is_some_and(|l| !l.bytes().all(|b| b.is_ascii_digit()))
}
