//! STIX 2.1 patterns for our indicator kinds.
//!
//! A comparison value is a single-quoted string literal in which only `\` and `'` need (and
//! may take) escapes: `\\` and `\'`. Everything else, newlines and non-ASCII included, stays
//! literal (STIX patterning grammar, `StringLiteral`). Hash property names with a `-` must be
//! quoted (`file:hashes.'SHA-256'`), and hash literals are format-checked by the validator,
//! so a malformed SHA-256 gets no pattern at all.

use model::report::IndicatorKind;

/// `value` as a pattern string literal, quotes included.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The SCO type of an IP address: `ipv6-addr` when it holds a `:`, else `ipv4-addr`.
pub fn ip_type(value: &str) -> &'static str {
    if value.contains(':') {
        "ipv6-addr"
    } else {
        "ipv4-addr"
    }
}

/// A SHA-256 as STIX wants it (64 hex digits, lower case), or `None`.
pub fn sha256_hex(value: &str) -> Option<String> {
    let v = value.trim();
    (v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit())).then(|| v.to_ascii_lowercase())
}

/// The pattern of an indicator, or `None` for a kind feeds do not publish or a hash that is
/// not one.
pub fn pattern(kind: IndicatorKind, value: &str) -> Option<String> {
    let p = match kind {
        IndicatorKind::Url => format!("[url:value = {}]", literal(value)),
        IndicatorKind::Domain => format!("[domain-name:value = {}]", literal(value)),
        IndicatorKind::Ip => format!("[{}:value = {}]", ip_type(value), literal(value)),
        IndicatorKind::Email => format!("[email-message:from_ref.value = {}]", literal(value)),
        IndicatorKind::Sha256 => {
            format!("[file:hashes.'SHA-256' = '{}']", sha256_hex(value)?)
        }
        _ => return None,
    };
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_are_escaped_nothing_else() {
        assert_eq!(literal(r"a'b\c"), r"'a\'b\\c'");
        assert_eq!(literal("é\n\u{2028}"), "'é\n\u{2028}'");
        assert_eq!(literal(""), "''");
    }

    #[test]
    fn patterns_per_kind() {
        assert_eq!(
            pattern(IndicatorKind::Ip, "2001:db8::7").as_deref(),
            Some("[ipv6-addr:value = '2001:db8::7']")
        );
        assert_eq!(
            pattern(IndicatorKind::Ip, "203.0.113.7").as_deref(),
            Some("[ipv4-addr:value = '203.0.113.7']")
        );
        assert_eq!(
            pattern(IndicatorKind::Email, "a'b@x.example").as_deref(),
            Some(r"[email-message:from_ref.value = 'a\'b@x.example']")
        );
        let h = "D472D9C138BFF172C7EB7A26E08FB89250A56362F2052CA26B9AF93DE40E6DB6";
        assert_eq!(
            pattern(IndicatorKind::Sha256, h).as_deref(),
            Some(
                "[file:hashes.'SHA-256' = 'd472d9c138bff172c7eb7a26e08fb89250a56362f2052ca26b9af93de40e6db6']"
            )
        );
        assert_eq!(pattern(IndicatorKind::Sha256, "abc"), None);
        assert_eq!(pattern(IndicatorKind::Sha256, &"g".repeat(64)), None);
    }
}
