//! Defanged forms of indicators: shown to analysts as text they can copy, never as
//! something a click (or a careless paste into a browser) would open.

use model::report::IndicatorKind;

/// `hxxps://evil[.]example/x` for URLs, `evil[.]example` for domains and IPs,
/// `user[@]evil[.]example` for addresses; other kinds (hashes, file names) unchanged.
pub fn defang(kind: IndicatorKind, value: &str) -> String {
    match kind {
        IndicatorKind::Url => defang_url(value),
        IndicatorKind::Domain | IndicatorKind::Ip => dots(value),
        IndicatorKind::Email => dots(&value.replace('@', "[@]")),
        _ => value.to_owned(),
    }
}

/// A URL with its scheme made unusable (`http` → `hxxp`, any other → `scheme[:]`) and the
/// dots of its host bracketed.
pub fn defang_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (s, r),
        None => match url.split_once(':') {
            // `javascript:`, `data:`, `mailto:`: no `//`, the colon is what makes them work.
            Some((s, r)) if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric()) => {
                return format!("{s}[:]{}", dots(r));
            }
            _ => return dots(url),
        },
    };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => "hxxp".to_owned(),
        "https" => "hxxps".to_owned(),
        "ftp" => "fxp".to_owned(),
        other => format!("{other}[:]"),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    format!("{scheme}://{}{}", dots(&rest[..end]), &rest[end..])
}

fn dots(s: &str) -> String {
    s.replace('.', "[.]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_domains_and_addresses_are_defanged() {
        assert_eq!(
            defang(IndicatorKind::Url, "https://evil.example/a.b?c=d.e"),
            "hxxps://evil[.]example/a.b?c=d.e"
        );
        assert_eq!(defang(IndicatorKind::Url, "HTTP://x.y"), "hxxp://x[.]y");
        assert_eq!(
            defang(IndicatorKind::Url, "javascript:alert(document.cookie)"),
            "javascript[:]alert(document[.]cookie)"
        );
        assert_eq!(defang(IndicatorKind::Domain, "a.b.c"), "a[.]b[.]c");
        assert_eq!(defang(IndicatorKind::Email, "u@a.b"), "u[@]a[.]b");
        assert_eq!(defang(IndicatorKind::Sha256, "ab.cd"), "ab.cd");
    }
}
