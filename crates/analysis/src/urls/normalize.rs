//! One raw URL to its normalised record: WHATWG parsing (which also lower-cases the host,
//! converts IDN to punycode and reads decimal/hex/octal IPv4 forms), registered domain by the
//! public suffix list, and the tricks the raw form used.

use url::{Host, Position, Url};

/// Bytes of one raw URL considered. Real links stay under 2 KB; longer ones are padding meant to
/// push the host out of view or exhaust parsers, and the first 8 KiB carry all the evidence.
pub(crate) const MAX_URL_BYTES: usize = 8 << 10;

/// Schemes kept as URLs. `mailto:`, `tel:`, `cid:`, `data:`, `javascript:` name no host to
/// block and are left out on purpose.
const SCHEMES: &[&str] = &["http", "https", "ftp", "ftps", "sftp", "file", "ws", "wss"];

/// A URL as the report records it, with the facts its findings need.
#[derive(Debug)]
pub(crate) struct Normal {
    pub parsed: Url,
    pub url: String,
    pub host: String,
    pub registered_domain: Option<String>,
    pub ip_literal: bool,
    /// The raw form hid its host: IPv4 written in decimal/hex/octal, percent-encoded host, or a
    /// `user@` part that looks like a domain (`https://paypal.com@evil.example/`).
    pub tricky: Option<&'static str>,
    /// A label is punycode (`xn--`); `mixed-script` when the decoded label mixes Latin with
    /// Cyrillic or Greek (the homograph trick).
    pub punycode: Option<&'static str>,
    pub defanged: String,
}

/// Normalises `raw`; `None` when it is not an absolute URL of a kept scheme with a host.
pub(crate) fn normalize(raw: &str) -> Option<Normal> {
    let mut raw = raw
        .trim()
        .trim_matches(|c| matches!(c, '<' | '>' | '"' | '\''));
    if raw.len() > MAX_URL_BYTES {
        let mut cut = MAX_URL_BYTES;
        while !raw.is_char_boundary(cut) {
            cut -= 1;
        }
        raw = raw.get(..cut).unwrap_or_default();
    }
    let prefixed;
    let raw = if raw.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www.")) {
        prefixed = format!("http://{raw}");
        prefixed.as_str()
    } else {
        raw
    };
    let (scheme, _) = raw.split_once("://")?;
    if !SCHEMES.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
        return None;
    }
    let mut parsed = Url::parse(raw).ok()?;
    parsed.set_fragment(None);
    let (host, ip_literal) = match parsed.host()? {
        Host::Domain(d) if !d.is_empty() => (d.trim_end_matches('.').to_string(), false),
        Host::Domain(_) => return None,
        Host::Ipv4(ip) => (ip.to_string(), true),
        Host::Ipv6(ip) => (format!("[{ip}]"), true),
    };
    let raw_host = raw_host(raw);
    let tricky = if raw_host.contains('%') {
        Some("percent-encoded host")
    } else if ip_literal && !raw_host.eq_ignore_ascii_case(&host) {
        Some("IP written in decimal/hex/octal form")
    } else if parsed.username().contains('.') {
        Some("user part looks like a domain")
    } else {
        None
    };
    let registered_domain = if ip_literal {
        None
    } else {
        psl::domain_str(&host).map(str::to_string)
    };
    let punycode = if host.split('.').any(|l| l.starts_with("xn--")) {
        Some(if mixed_script(&host) {
            "mixed-script"
        } else {
            "punycode"
        })
    } else {
        None
    };
    let defanged = defang(&parsed, &host);
    Some(Normal {
        url: parsed.as_str().to_string(),
        parsed,
        host,
        registered_domain,
        ip_literal,
        tricky,
        punycode,
        defanged,
    })
}

/// The host as written in `raw` (between `://` and the path, without user and port).
fn raw_host(raw: &str) -> &str {
    let rest = raw.split_once("://").map_or(raw, |(_, r)| r);
    let authority = rest.split(['/', '?', '#', '\\']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return host_port.split_inclusive(']').next().unwrap_or(host_port);
    }
    host_port.split(':').next().unwrap_or(host_port)
}

/// `hxxps://evil[.]example/path`: the form text feeds and analysts paste without making links.
fn defang(url: &Url, host: &str) -> String {
    let scheme = match url.scheme() {
        "http" => "hxxp",
        "https" => "hxxps",
        "ftp" => "fxp",
        other => other,
    };
    format!(
        "{scheme}://{}{}{}",
        &url[Position::BeforeUsername..Position::BeforeHost],
        host.replace('.', "[.]"),
        &url[Position::AfterHost..]
    )
}

/// True when a decoded label mixes Latin letters with Greek or Cyrillic ones (U+0370–U+04FF) (`pаypal` with a
/// Cyrillic `а`): whole-script IDN is normal, mixing within a label is the homograph trick.
fn mixed_script(host: &str) -> bool {
    let (unicode, _) = idna::domain_to_unicode(host);
    unicode.split('.').any(|label| {
        let latin = label.chars().any(|c| c.is_ascii_alphabetic());
        let other = label.chars().any(|c| matches!(c as u32, 0x0370..=0x04FF));
        latin && other
    })
}
