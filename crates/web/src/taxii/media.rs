//! TAXII media types, `Accept` negotiation and TAXII timestamps (always microseconds).

use crate::error::ApiError;
use axum::http::header::ACCEPT;
use axum::http::{HeaderMap, StatusCode};
use model::Timestamp;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

/// `Content-Type` of every TAXII response, exactly as taxii2-client and medallion expect it.
pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";

/// The media type of the objects a collection holds.
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

/// Longest `Accept` header parsed; longer ones are refused (406).
pub const MAX_ACCEPT_BYTES: usize = 1024;

/// Checks that the client accepts TAXII 2.1 JSON. A missing `Accept` and wildcards are taken
/// as consent (curl, browsers); a range naming only other types, or TAXII of another
/// version, gets 406 so a TAXII 2.0 client learns why at once.
pub fn check_accept(headers: &HeaderMap) -> Result<(), ApiError> {
    let mut values = headers.get_all(ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return Ok(());
    }
    for v in values {
        if v.len() > MAX_ACCEPT_BYTES {
            break;
        }
        let Ok(text) = v.to_str() else { continue };
        if text.split(',').any(acceptable) {
            return Ok(());
        }
    }
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "Not Acceptable",
        format!("this server answers {TAXII_MEDIA_TYPE}"),
    ))
}

fn acceptable(range: &str) -> bool {
    let mut parts = range.split(';').map(str::trim);
    let kind = parts.next().unwrap_or("").to_ascii_lowercase();
    match kind.as_str() {
        "*/*" | "application/*" => true,
        "application/taxii+json" => parts.all(|p| match p.split_once('=') {
            Some((k, v)) if k.trim().eq_ignore_ascii_case("version") => v.trim() == "2.1",
            _ => true,
        }),
        _ => false,
    }
}

/// A TAXII timestamp: RFC 3339, UTC, exactly six fractional digits.
pub fn format_timestamp(t: Timestamp) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000000Z".to_string())
}

/// A STIX timestamp as the objects carry it (`modified`): UTC, milliseconds. Manifest and
/// versions records must show the same string as the object's own `modified`.
pub fn format_stix_version(t: Timestamp) -> String {
    let fmt =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000Z".to_string())
}

/// A timestamp from a query parameter (`added_after`, `match[version]`).
pub fn parse_timestamp(s: &str) -> Option<Timestamp> {
    if s.len() > 64 {
        return None;
    }
    Timestamp::parse(s, &Rfc3339).ok()
}

/// Unix microseconds: the precision TAXII `date_added` carries, so "strictly after" is
/// decided at that precision too (a client passing back `X-TAXII-Date-Added-Last` must not
/// get the last object again because the store knows nanoseconds).
pub fn micros(t: Timestamp) -> i64 {
    let m = t.unix_timestamp_nanos().div_euclid(1000);
    i64::try_from(m).unwrap_or(if m < 0 { i64::MIN } else { i64::MAX })
}

/// Unix nanoseconds, saturated to `i64`.
pub fn nanos(t: Timestamp) -> i64 {
    let n = t.unix_timestamp_nanos();
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

/// The timestamp of `micros` unix microseconds.
pub fn from_micros(m: i64) -> Timestamp {
    Timestamp::from_unix_timestamp_nanos(i128::from(m) * 1000).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use time::macros::datetime;

    fn accept(v: &str) -> Result<(), ApiError> {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT, HeaderValue::from_str(v).expect("header"));
        check_accept(&h)
    }

    #[test]
    fn accept_negotiation() {
        assert!(check_accept(&HeaderMap::new()).is_ok());
        assert!(accept("application/taxii+json;version=2.1").is_ok());
        assert!(accept("application/taxii+json; version=2.1").is_ok());
        assert!(accept("application/taxii+json").is_ok());
        assert!(accept("text/html, */*;q=0.8").is_ok());
        assert!(accept("application/taxii+json;version=2.0").is_err());
        assert!(accept("application/vnd.oasis.taxii+json; version=2.0").is_err());
        assert!(accept("text/html").is_err());
    }

    #[test]
    fn timestamps_have_microseconds_in_utc() {
        assert_eq!(
            format_timestamp(datetime!(2016-02-16 12:00:07.123456789 UTC)),
            "2016-02-16T12:00:07.123456Z"
        );
        assert_eq!(
            format_timestamp(datetime!(2016-02-16 13:00:07 +01:00)),
            "2016-02-16T12:00:07.000000Z"
        );
        let t = parse_timestamp("2016-02-16T12:00:07.123456Z").expect("parses");
        assert_eq!(from_micros(micros(t)), t);
        assert!(parse_timestamp("yesterday").is_none());
        assert!(parse_timestamp("2016-13-01T00:00:00Z").is_none());
    }
}
