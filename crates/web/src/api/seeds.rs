//! `GET /api/v1/seeds` (list), `GET /api/v1/seeds/{id}` (one seed with its visit and hits)
//! and `POST /api/v1/seeds` (mint manual seeds; admin, CSRF for sessions).
//!
//! The checks of a mint request ([`plan_mint`]) are shared with the console's mint form, so
//! both refuse the same things with the same words.

use super::common::{MAX_LIMIT, blocking, cursor, limit, query, store_err};
use crate::error::{ApiError, JsonError};
use crate::login::CSRF_HEADER;
use crate::principal::{Admin, Principal};
use crate::state::Console;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use model::{DomainState, NewSeed, SeedOrigin, TrapDomain};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;
use store::{SeedDetail, SeedFilter, SeedRecord};

/// Most seeds one mint request creates: enough for a batch of forum posts or canary lists;
/// thousands at once are a script's job (`spamhattan seeds mint`).
pub const MAX_MINT_COUNT: u64 = 100;

/// Characters of a seed label given through the API or the console. The store keeps
/// [`model::seed::MAX_SEED_LABEL`] bytes; a quarter of that in characters always fits, whatever
/// the script, so a label is either refused or kept whole, never cut.
pub const MAX_LABEL_CHARS: usize = model::seed::MAX_SEED_LABEL / 4;

/// Longest domain name (RFC 1035: 253 characters in text form).
pub const MAX_DOMAIN_CHARS: usize = 253;

/// Longest `{id}` accepted in `/seeds/{id}`: an address (RFC 5321 caps a path at 256 octets)
/// with room to spare.
pub const MAX_SEED_KEY_BYTES: usize = 320;

/// Largest mint request body; a label and a domain fit many times over.
pub const MAX_MINT_BODY: usize = 4 * 1024;

// A page of `MAX_LIMIT` rows is one store read.
const _: () = assert!(MAX_LIMIT <= store::MAX_SEED_PAGE);

/// A 422: well-formed, but not something this trap can do.
pub(crate) fn unprocessable(description: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "Unprocessable Entity",
        description,
    )
}

/// An IP address from a parameter, in its canonical text form (the form the store keys
/// harvesters by).
pub(crate) fn ip_param(name: &str, v: &str) -> Result<String, ApiError> {
    v.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .map_err(|_| ApiError::bad_request(format!("{name} must be an IPv4 or IPv6 address")))
}

/// A seed list filter from request values; empty strings mean "no filter".
pub(crate) fn seed_filter(
    label: Option<&str>,
    origin: Option<&str>,
    hit_only: bool,
    visitor: Option<&str>,
) -> Result<SeedFilter, ApiError> {
    let label = label.filter(|l| !l.is_empty());
    if label.is_some_and(|l| l.chars().count() > model::seed::MAX_SEED_LABEL) {
        return Err(ApiError::bad_request(format!(
            "label is limited to {} characters",
            model::seed::MAX_SEED_LABEL
        )));
    }
    let origin = match origin.filter(|o| !o.is_empty()) {
        None => None,
        Some(o) => Some(
            SeedOrigin::parse(o)
                .ok_or_else(|| ApiError::bad_request("origin must be `visit` or `manual`"))?,
        ),
    };
    let visitor = visitor
        .filter(|v| !v.is_empty())
        .map(|v| ip_param("visitor", v))
        .transpose()?;
    Ok(SeedFilter {
        label: label.map(str::to_owned),
        origin,
        hit_only,
        visitor,
        ..SeedFilter::default()
    })
}

/// Reads `limit` rows plus one (to know whether a next page exists), within the store's cap.
pub(crate) fn read_ahead(limit: usize) -> usize {
    (limit + 1).min(store::MAX_SEED_PAGE)
}

/// The rows of a page and the key of the next one: there is more when the read-ahead row
/// came back, or when a full page at the store's cap came back (that next page may be empty).
pub(crate) fn page_of<T, K>(
    mut rows: Vec<T>,
    limit: usize,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, Option<K>) {
    let more = rows.len() > limit || (rows.len() == limit && limit >= store::MAX_SEED_PAGE);
    rows.truncate(limit);
    let next = if more { rows.last().map(key) } else { None };
    (rows, next)
}

/// How `/seeds/{id}` names a seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SeedKey {
    Id(i64),
    /// An address or a bare token.
    Address(String),
}

/// A seed's number, or its address or token.
pub(crate) fn seed_key(v: &str) -> Result<SeedKey, ApiError> {
    if v.len() > MAX_SEED_KEY_BYTES {
        return Err(ApiError::bad_request(format!(
            "a seed is named by its number, address or token (at most {MAX_SEED_KEY_BYTES} bytes)"
        )));
    }
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse::<i64>()
            .map(SeedKey::Id)
            .map_err(|_| ApiError::bad_request("the seed number is out of range"));
    }
    Ok(SeedKey::Address(v.to_owned()))
}

/// One seed by key, from the store.
pub(crate) fn load_seed(
    s: &store::Store,
    key: &SeedKey,
) -> Result<Option<SeedDetail>, store::StoreError> {
    match key {
        SeedKey::Id(id) => s.seed(*id),
        SeedKey::Address(a) => s.seed_by_address(a),
    }
}

/// Trap domains seeds may be minted at on `today`: active or aging ones (a new domain is in
/// its quiet period and bounces; a retired one refuses mail).
pub(crate) fn mintable(domains: &[TrapDomain], today: time::Date) -> Vec<String> {
    domains
        .iter()
        .filter(|d| matches!(d.state_on(today), DomainState::Active | DomainState::Aging))
        .map(|d| d.name.clone())
        .collect()
}

/// True for a host name made of LDH labels (lower-case already), 1 to 63 characters each.
fn is_host_name(d: &str) -> bool {
    !d.is_empty()
        && d.split('.').all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// The seeds a mint request asks for, or why not (422): a label of 1 to
/// [`MAX_LABEL_CHARS`] characters without control characters, a domain that is a configured
/// trap domain (or a subdomain of a wildcard one) active or aging `today` (default: the
/// first such), a count from 1 to [`MAX_MINT_COUNT`].
pub(crate) fn plan_mint(
    domains: &[TrapDomain],
    today: time::Date,
    label: &str,
    domain: Option<&str>,
    count: u64,
) -> Result<Vec<NewSeed>, ApiError> {
    let chars = label.chars().count();
    if chars == 0 || chars > MAX_LABEL_CHARS {
        return Err(unprocessable(format!(
            "label must have 1 to {MAX_LABEL_CHARS} characters"
        )));
    }
    if label.chars().any(char::is_control) {
        return Err(unprocessable("label may not contain control characters"));
    }
    if !(1..=MAX_MINT_COUNT).contains(&count) {
        return Err(unprocessable(format!(
            "count must be between 1 and {MAX_MINT_COUNT}"
        )));
    }
    let domain = match domain {
        Some(d) => {
            if d.chars().count() > MAX_DOMAIN_CHARS {
                return Err(unprocessable("the domain name is too long"));
            }
            let d = d.to_ascii_lowercase();
            let d = d.strip_suffix('.').unwrap_or(&d).to_owned();
            if !is_host_name(&d) {
                return Err(unprocessable(
                    "domain must be a host name (letters, digits, hyphens; IDNs as xn--)",
                ));
            }
            let Some(trap) = model::domain::find_domain(domains, &d) else {
                return Err(unprocessable(format!(
                    "{d} is not a configured trap domain"
                )));
            };
            let state = trap.state_on(today);
            if !matches!(state, DomainState::Active | DomainState::Aging) {
                return Err(unprocessable(format!(
                    "{d} is {} today; seeds go to active or aging trap domains",
                    state.as_str()
                )));
            }
            d
        }
        None => mintable(domains, today).into_iter().next().ok_or_else(|| {
            unprocessable("no configured trap domain is active or aging; seeds need one")
        })?,
    };
    Ok((0..count)
        .map(|_| NewSeed::mint(&domain, SeedOrigin::Manual, None, label))
        .collect())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedQuery {
    label: Option<String>,
    origin: Option<String>,
    hit: Option<bool>,
    visitor: Option<String>,
    limit: Option<usize>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SeedPage {
    seeds: Vec<SeedRecord>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Seeds, newest first, keyset paged on the id.
pub async fn list(
    State(console): State<Arc<Console>>,
    _who: Principal,
    q: Result<Query<SeedQuery>, QueryRejection>,
) -> Result<Json<SeedPage>, JsonError> {
    let q = query(q)?;
    let limit = limit(q.limit)?;
    let mut filter = seed_filter(
        q.label.as_deref(),
        q.origin.as_deref(),
        q.hit.unwrap_or(false),
        q.visitor.as_deref(),
    )?;
    if let Some(c) = cursor(q.cursor)? {
        match c.parse::<i64>() {
            Ok(id) if id >= 1 => filter.before_id = Some(id),
            _ => {
                return Err(
                    ApiError::bad_request("the cursor is not one this server gave out").into(),
                );
            }
        }
    }
    filter.limit = read_ahead(limit);
    let rows = blocking(&console, move |s| {
        s.seeds(&filter).map_err(store_err("seed list"))
    })
    .await?;
    let (seeds, next_cursor) = page_of(rows, limit, |r| r.id.to_string());
    Ok(Json(SeedPage { seeds, next_cursor }))
}

/// One seed by number, address or token, with its visit and the mail it received.
pub async fn detail(
    State(console): State<Arc<Console>>,
    _who: Principal,
    Path(id): Path<String>,
) -> Result<Json<SeedDetail>, JsonError> {
    let key = seed_key(&id)?;
    let found = blocking(&console, move |s| {
        load_seed(s, &key)
            .map_err(store_err("seed read"))?
            .ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(Json(found))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MintBody {
    label: String,
    /// Absent or null: the first active or aging trap domain.
    #[serde(default)]
    domain: Option<String>,
    /// Absent or null: one.
    #[serde(default)]
    count: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct Minted {
    seeds: Vec<SeedRecord>,
}

/// `POST /api/v1/seeds`: mints manual seeds; answers 201 with them.
pub async fn mint(
    State(console): State<Arc<Console>>,
    who: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Minted>), JsonError> {
    who.0
        .check_csrf(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))?;
    if body.len() > MAX_MINT_BODY {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload Too Large",
            format!("request bodies are limited to {MAX_MINT_BODY} bytes"),
        )
        .into());
    }
    let b: MintBody = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not the expected JSON: {e}")))?;
    let today = model::now().date();
    let seeds = plan_mint(
        &console.settings.trap_domains,
        today,
        &b.label,
        b.domain.as_deref(),
        b.count.unwrap_or(1),
    )?;
    let minted = blocking(&console, move |s| {
        s.mint_seeds(&seeds).map_err(store_err("seed mint"))
    })
    .await?;
    tracing::info!(admin = %who.0.name, count = minted.len(), "manual seeds minted");
    Ok((StatusCode::CREATED, Json(Minted { seeds: minted })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn domains() -> Vec<TrapDomain> {
        vec![
            TrapDomain {
                state: Some(DomainState::New),
                ..TrapDomain::active("quiet.example")
            },
            TrapDomain {
                retired_from: Some(date!(2026 - 01 - 01)),
                ..TrapDomain::active("old.example")
            },
            TrapDomain::active("*.trap.example"),
        ]
    }

    #[test]
    fn mint_defaults_to_the_first_active_domain_and_accepts_wildcard_subdomains() {
        let today = date!(2026 - 12 - 05);
        let seeds = plan_mint(&domains(), today, "forum", None, 3).expect("plan");
        assert_eq!(seeds.len(), 3);
        assert!(seeds.iter().all(|s| s.domain == "trap.example"));
        assert!(seeds.iter().all(|s| s.origin == SeedOrigin::Manual));
        let sub = plan_mint(&domains(), today, "forum", Some("Lists.Trap.Example."), 1)
            .expect("subdomain");
        assert_eq!(sub[0].domain, "lists.trap.example");
    }

    #[test]
    fn mint_refuses_what_it_cannot_do() {
        let today = date!(2026 - 12 - 05);
        let d = domains();
        let refused = |label: &str, domain: Option<&str>, count: u64| {
            let e = plan_mint(&d, today, label, domain, count).expect_err("refused");
            assert_eq!(
                e.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}",
                e.description
            );
            e.description
        };
        assert!(refused("", None, 1).contains("label"));
        assert!(refused(&"é".repeat(MAX_LABEL_CHARS + 1), None, 1).contains("label"));
        assert!(refused("a\u{0}b", None, 1).contains("control"));
        assert!(refused("x", None, 0).contains("count"));
        assert!(refused("x", None, MAX_MINT_COUNT + 1).contains("count"));
        assert!(refused("x", Some("evil.example"), 1).contains("not a configured"));
        assert!(refused("x", Some("quiet.example"), 1).contains("new today"));
        assert!(refused("x", Some("old.example"), 1).contains("retired today"));
        assert!(refused("x", Some("a b.trap.example"), 1).contains("host name"));
        assert!(refused("x", Some("eviltrap.example"), 1).contains("not a configured"));
        let none = plan_mint(&d[..2], today, "x", None, 1).expect_err("no domain");
        assert!(none.description.contains("active or aging"));
        // The longest label is kept whole.
        let long = "é".repeat(MAX_LABEL_CHARS);
        let seeds = plan_mint(&d, today, &long, None, 1).expect("long label");
        assert_eq!(seeds[0].label, long);
    }

    #[test]
    fn seed_keys_are_numbers_or_addresses() {
        assert_eq!(seed_key("42").expect("id"), SeedKey::Id(42));
        assert_eq!(
            seed_key("anna.k3x9q2m7wd1a@trap.example").expect("addr"),
            SeedKey::Address("anna.k3x9q2m7wd1a@trap.example".into())
        );
        assert!(seed_key("99999999999999999999").is_err());
        assert!(seed_key(&"a".repeat(MAX_SEED_KEY_BYTES + 1)).is_err());
    }

    #[test]
    fn pages_know_when_there_is_more() {
        let (rows, next) = page_of(vec![5, 4, 3], 2, |r| *r);
        assert_eq!((rows, next), (vec![5, 4], Some(4)));
        let (rows, next) = page_of(vec![5, 4], 2, |r| *r);
        assert_eq!((rows, next), (vec![5, 4], None));
        let full: Vec<usize> = (0..store::MAX_SEED_PAGE).collect();
        let (_, next) = page_of(full, store::MAX_SEED_PAGE, |r| *r);
        assert_eq!(next, Some(store::MAX_SEED_PAGE - 1));
    }
}
