//! Hosts with a meaning of their own: URL shorteners and the wrappers (open redirects, safe-link
//! rewriters, tracking redirectors) whose query carries the real destination.

/// Public URL shorteners. A short link hides its destination from the reader and from filters,
/// which is why phishing uses them; the list is the services seen in malspam, not every one.
const SHORTENERS: &[&str] = &[
    "bit.ly",
    "bitly.com",
    "bitly.ws",
    "tinyurl.com",
    "t.co",
    "goo.gl",
    "ow.ly",
    "is.gd",
    "v.gd",
    "buff.ly",
    "rebrand.ly",
    "cutt.ly",
    "shorturl.at",
    "rb.gy",
    "t.ly",
    "tiny.cc",
    "bl.ink",
    "s.id",
    "lnkd.in",
    "qrco.de",
    "shorte.st",
    "adf.ly",
    "bit.do",
    "soo.gd",
    "clck.ru",
    "u.to",
    "urlz.fr",
    "tny.im",
    "x.co",
    "1url.com",
    "shorturl.asia",
    "surl.li",
    "shrtco.de",
    "short.gy",
    "tinu.be",
    "gg.gg",
    "did.li",
    "qr.io",
    "trib.al",
    "snip.ly",
    "t2m.io",
    "dub.sh",
    "kutt.it",
    "han.gl",
    "me2.do",
    "cli.re",
    "linktr.ee",
];

/// True when `host` (lower-case ASCII) is a known shortener (with or without `www.`).
pub(crate) fn is_shortener(host: &str) -> bool {
    let host = host.strip_prefix("www.").unwrap_or(host);
    SHORTENERS.contains(&host)
}

/// Hosts whose known wrapper formats carry the destination in a path rather than a query
/// parameter (Proofpoint URL Defense v3). Query-parameter wrappers need no list: any parameter
/// whose decoded value is a URL is unwrapped.
pub(crate) fn is_urldefense(host: &str) -> bool {
    host == "urldefense.com" || host == "urldefense.proofpoint.com"
}
