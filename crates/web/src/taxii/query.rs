//! The query of `objects/` and `manifest/`: `added_after`, `limit`, `next` and the
//! `match[...]` filters, parsed strictly (malformed ⇒ 400) with named limits.

use super::media::{micros, parse_timestamp};
use crate::error::ApiError;
use model::Timestamp;
use sha2::{Digest, Sha256};

/// Objects per page when the client names no `limit`.
pub const DEFAULT_PAGE_LIMIT: usize = 1000;
/// Most objects per page; larger `limit`s are lowered to it (the spec lets a server return
/// fewer than asked; taxii2-client adapts its page size).
pub const MAX_PAGE_LIMIT: usize = 10_000;
/// Most values in one `match[...]` filter (comma-separated or repeated).
pub const MAX_MATCH_VALUES: usize = 100;
/// Longest single filter value (a STIX id is about 80 characters).
pub const MAX_MATCH_VALUE_BYTES: usize = 256;
/// Most query parameters looked at.
pub const MAX_QUERY_PARAMS: usize = 32;

/// `match[version]`: we keep only the latest version of every object, so `last`, `first` and
/// `all` all select it; explicit timestamps select it when equal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionFilter {
    /// `last`, `first` or `all` was named (or nothing: the default is `last`).
    pub current: bool,
    pub exact: Vec<Timestamp>,
}

impl VersionFilter {
    pub fn admits(&self, version: Timestamp) -> bool {
        self.current || self.exact.contains(&version)
    }
}

/// The filters of a request: everything but `limit` and `next`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// `added_after`, in unix microseconds (TAXII precision).
    pub added_after: Option<i64>,
    pub types: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
    pub version: VersionFilter,
    /// `match[spec_version]`: whether `2.1` (the only version we serve) was asked for.
    pub spec_21: bool,
}

impl Filters {
    /// Does an object of `kind`, `id`, `version` pass the `match[...]` filters?
    pub fn admits(&self, kind: &str, id: &str, version: Timestamp) -> bool {
        self.spec_21
            && self.version.admits(version)
            && self
                .types
                .as_ref()
                .is_none_or(|t| t.iter().any(|x| x == kind))
            && self.ids.as_ref().is_none_or(|i| i.iter().any(|x| x == id))
    }

    /// A short digest of the filters and the collection they apply to: a `next` token carries
    /// it, so a token cannot be replayed with other filters or against another collection.
    pub fn digest(&self, collection: &uuid::Uuid) -> [u8; 8] {
        let mut h = Sha256::new();
        h.update(collection.as_bytes());
        h.update(format!("{:?}", self.added_after));
        for list in [&self.types, &self.ids] {
            match list {
                Some(v) => {
                    let mut v = v.clone();
                    v.sort();
                    h.update(format!("{}:{v:?}", v.len()));
                }
                None => h.update("-"),
            }
        }
        let mut exact: Vec<i128> = self
            .version
            .exact
            .iter()
            .map(|t| t.unix_timestamp_nanos())
            .collect();
        exact.sort_unstable();
        h.update(format!("{}{exact:?}{}", self.version.current, self.spec_21));
        let d = h.finalize();
        let mut out = [0u8; 8];
        out.copy_from_slice(&d[..8]);
        out
    }
}

/// A parsed page request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    pub filters: Filters,
    pub limit: usize,
    pub next: Option<String>,
}

/// Parses the query pairs of `objects/`, `manifest/`, `objects/{id}/` and `versions/`.
/// Unknown `match[...]` fields are ignored, as the spec allows; unknown plain parameters too.
pub fn parse(pairs: &[(String, String)]) -> Result<PageQuery, ApiError> {
    if pairs.len() > MAX_QUERY_PARAMS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_QUERY_PARAMS} query parameters"
        )));
    }
    let mut added_after = None;
    let mut limit = None;
    let mut next = None;
    let mut types: Option<Vec<String>> = None;
    let mut ids: Option<Vec<String>> = None;
    let mut versions: Option<Vec<String>> = None;
    let mut specs: Option<Vec<String>> = None;
    for (k, v) in pairs {
        match k.as_str() {
            "added_after" => {
                let t = parse_timestamp(v).ok_or_else(|| {
                    ApiError::bad_request("added_after: not an RFC 3339 timestamp")
                })?;
                once(&mut added_after, micros(t), "added_after")?;
            }
            "limit" => {
                let n: usize = v
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ApiError::bad_request("limit: a positive integer"))?;
                once(&mut limit, n.min(MAX_PAGE_LIMIT), "limit")?;
            }
            "next" => once(&mut next, v.clone(), "next")?,
            "match[type]" => extend(&mut types, v, k, valid_type)?,
            "match[id]" => extend(&mut ids, v, k, valid_id)?,
            "match[version]" => extend(&mut versions, v, k, |_| true)?,
            "match[spec_version]" => extend(&mut specs, v, k, |_| true)?,
            _ => {}
        }
    }
    let version = match versions {
        None => VersionFilter {
            current: true,
            exact: Vec::new(),
        },
        Some(list) => {
            let mut f = VersionFilter::default();
            for v in list {
                match v.as_str() {
                    "last" | "first" | "all" => f.current = true,
                    _ => f.exact.push(parse_timestamp(&v).ok_or_else(|| {
                        ApiError::bad_request("match[version]: last, first, all or timestamps")
                    })?),
                }
            }
            f
        }
    };
    let spec_21 = match specs {
        None => true,
        Some(list) => {
            if let Some(bad) = list.iter().find(|s| !valid_spec_version(s)) {
                return Err(ApiError::bad_request(format!(
                    "match[spec_version]: {bad:?} is not a version like 2.1"
                )));
            }
            list.iter().any(|s| s == "2.1")
        }
    };
    Ok(PageQuery {
        filters: Filters {
            added_after,
            types,
            ids,
            version,
            spec_21,
        },
        limit: limit.unwrap_or(DEFAULT_PAGE_LIMIT),
        next,
    })
}

fn once<T>(slot: &mut Option<T>, v: T, name: &str) -> Result<(), ApiError> {
    if slot.replace(v).is_some() {
        return Err(ApiError::bad_request(format!("{name} given twice")));
    }
    Ok(())
}

fn extend(
    list: &mut Option<Vec<String>>,
    value: &str,
    name: &str,
    valid: fn(&str) -> bool,
) -> Result<(), ApiError> {
    let list = list.get_or_insert_with(Vec::new);
    for v in value.split(',').map(str::trim) {
        if v.is_empty() || v.len() > MAX_MATCH_VALUE_BYTES || !valid(v) {
            return Err(ApiError::bad_request(format!("{name}: malformed value")));
        }
        if list.len() == MAX_MATCH_VALUES {
            return Err(ApiError::bad_request(format!(
                "{name}: at most {MAX_MATCH_VALUES} values"
            )));
        }
        list.push(v.to_string());
    }
    Ok(())
}

/// A STIX type name: lower-case ASCII letters, digits and hyphens.
fn valid_type(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A STIX id: `<type>--<uuid>`.
fn valid_id(s: &str) -> bool {
    match s.split_once("--") {
        Some((t, u)) => !t.is_empty() && valid_type(t) && uuid::Uuid::try_parse(u).is_ok(),
        None => false,
    }
}

fn valid_spec_version(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 3 && b[0].is_ascii_digit() && b[1] == b'.' && b[2].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Result<PageQuery, ApiError> {
        let owned: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse(&owned)
    }

    #[test]
    fn defaults_and_clamps() {
        let p = q(&[]).expect("empty query");
        assert_eq!(p.limit, DEFAULT_PAGE_LIMIT);
        assert!(p.filters.version.current && p.filters.spec_21);
        let p = q(&[("limit", "99999999999")]).expect("huge limit");
        assert_eq!(p.limit, MAX_PAGE_LIMIT);
    }

    #[test]
    fn hostile_values_are_refused() {
        for bad in [
            ("limit", "0"),
            ("limit", "-1"),
            ("limit", "1e3"),
            ("limit", "999999999999999999999999999"),
            ("added_after", "2016-02-30T00:00:00Z"),
            ("added_after", "now"),
            ("match[type]", "Indicator"),
            ("match[type]", "a,,b"),
            ("match[id]", "indicator--nope"),
            ("match[version]", "latest"),
            ("match[spec_version]", "two"),
        ] {
            assert!(q(&[bad]).is_err(), "{bad:?} accepted");
        }
        assert!(q(&[("limit", "5"), ("limit", "6")]).is_err());
        let many = vec![("match[type]", "indicator"); MAX_MATCH_VALUES + 1];
        assert!(q(&many).is_err());
    }

    #[test]
    fn filters_combine_or_within_and_across() {
        let p = q(&[
            ("match[type]", "indicator,malware"),
            ("match[type]", "campaign"),
        ])
        .expect("types");
        let f = &p.filters;
        let t = Timestamp::UNIX_EPOCH;
        assert!(f.admits("campaign", "campaign--x", t));
        assert!(!f.admits("url", "url--x", t));
        let p = q(&[("match[spec_version]", "2.0")]).expect("2.0");
        assert!(!p.filters.admits("campaign", "campaign--x", t));
    }

    #[test]
    fn digest_depends_on_filters_and_collection_not_on_order() {
        let c = uuid::Uuid::from_u128(1);
        let a = q(&[("match[type]", "indicator,malware")])
            .expect("a")
            .filters;
        let b = q(&[("match[type]", "malware,indicator")])
            .expect("b")
            .filters;
        let d = q(&[("match[type]", "malware")]).expect("d").filters;
        assert_eq!(a.digest(&c), b.digest(&c));
        assert_ne!(a.digest(&c), d.digest(&c));
        assert_ne!(a.digest(&c), a.digest(&uuid::Uuid::from_u128(2)));
    }
}
