//! TAXII 2.1, read-only: discovery, one API root, one collection per audience the caller may
//! read, and the objects, manifest and versions of each collection.
//!
//! Discovery names the API root by absolute path (`/taxii2/spamhattan/`): clients resolve it
//! against the discovery URL, so the server never has to trust a `Host` header to build URLs.

pub mod content;
pub mod cursor;
pub mod media;
pub mod query;

use crate::FeedService;
use crate::auth::{Access, authenticate};
use crate::error::{ApiError, TaxiiError};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use content::{Entry, Lookup, Page};
use media::{STIX_MEDIA_TYPE, TAXII_MEDIA_TYPE, check_accept, format_timestamp, from_micros};
use serde_json::{Value, json};
use std::sync::Arc;

/// The one API root's name (`/taxii2/spamhattan/`).
pub const API_ROOT: &str = "spamhattan";

/// `max_content_length` of the API root: we accept no request bodies at all.
pub const MAX_CONTENT_LENGTH: u64 = 0;

const DATE_ADDED_FIRST: HeaderName = HeaderName::from_static("x-taxii-date-added-first");
const DATE_ADDED_LAST: HeaderName = HeaderName::from_static("x-taxii-date-added-last");

type Svc = State<Arc<FeedService>>;
type Pairs = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// A TAXII JSON response with the exact TAXII content type.
fn taxii_json(body: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(TAXII_MEDIA_TYPE),
        )],
        body,
    )
        .into_response()
}

/// Accept check and authentication, shared by every endpoint.
fn admit(svc: &FeedService, headers: &HeaderMap) -> Result<Access, ApiError> {
    check_accept(headers)?;
    authenticate(headers, &svc.audiences)
}

fn root_path() -> String {
    format!("/taxii2/{API_ROOT}/")
}

fn check_root(root: &str) -> Result<(), ApiError> {
    if root == API_ROOT {
        Ok(())
    } else {
        Err(ApiError::not_found())
    }
}

/// The audience whose collection id is `id`, if the caller may read it.
fn audience_of(svc: &FeedService, access: &Access, id: &str) -> Result<usize, ApiError> {
    let wanted = uuid::Uuid::try_parse(id).ok();
    access
        .readable()
        .find(|&i| wanted.is_some() && svc.collection_id_of(i) == wanted)
        .ok_or_else(|| access.hidden())
}

fn collection_json(svc: &FeedService, i: usize) -> Value {
    let a = &svc.audiences[i];
    let id = svc.collection_id_of(i).unwrap_or_default();
    json!({
        "id": id.hyphenated().to_string(),
        "title": a.name,
        "alias": a.name,
        "description": format!(
            "spamhattan spamtrap intel for audience {}: campaigns and indicators marked up to {}",
            a.name,
            a.tlp.stix_name()
        ),
        "can_read": true,
        "can_write": false,
        "media_types": [STIX_MEDIA_TYPE],
    })
}

pub(crate) async fn discovery(State(svc): Svc, headers: HeaderMap) -> Result<Response, TaxiiError> {
    admit(&svc, &headers)?.require_any()?;
    let mut body = json!({
        "title": format!("{} TAXII", svc.producer.name),
        "description": "Read-only TAXII 2.1 feed of a spamtrap: malspam campaigns and their indicators",
        "default": root_path(),
        "api_roots": [root_path()],
    });
    if !svc.producer.contact.is_empty() {
        body["contact"] = json!(svc.producer.contact);
    }
    Ok(taxii_json(body.to_string()))
}

pub(crate) async fn api_root(
    State(svc): Svc,
    Path(root): Path<String>,
    headers: HeaderMap,
) -> Result<Response, TaxiiError> {
    admit(&svc, &headers)?.require_any()?;
    check_root(&root)?;
    let body = json!({
        "title": svc.producer.name,
        "description": "One collection per audience you may read",
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": MAX_CONTENT_LENGTH,
    });
    Ok(taxii_json(body.to_string()))
}

pub(crate) async fn collections(
    State(svc): Svc,
    Path(root): Path<String>,
    headers: HeaderMap,
) -> Result<Response, TaxiiError> {
    let access = admit(&svc, &headers)?;
    access.require_any()?;
    check_root(&root)?;
    let list: Vec<Value> = access
        .readable()
        .map(|i| collection_json(&svc, i))
        .collect();
    Ok(taxii_json(json!({ "collections": list }).to_string()))
}

pub(crate) async fn collection(
    State(svc): Svc,
    Path((root, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, TaxiiError> {
    let access = admit(&svc, &headers)?;
    check_root(&root)?;
    let i = audience_of(&svc, &access, &id)?;
    Ok(taxii_json(collection_json(&svc, i).to_string()))
}

/// POST and DELETE: the collections are read-only (`can_write: false`).
pub(crate) async fn read_only() -> TaxiiError {
    TaxiiError(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        "collections of this server are read-only",
    ))
}

/// Computes a page off the async runtime (store reads block).
async fn page_of(
    svc: Arc<FeedService>,
    audience: usize,
    q: query::PageQuery,
    lookup: Lookup,
) -> Result<Option<Page>, ApiError> {
    let now = model::now();
    tokio::task::spawn_blocking(move || content::page(&svc, audience, &q, lookup, now))
        .await
        .map_err(|e| ApiError::internal("page task", &e))?
}

/// Authenticates, finds the collection and parses the query of a paged endpoint.
fn paged_request(
    svc: &FeedService,
    headers: &HeaderMap,
    root: &str,
    id: &str,
    pairs: Pairs,
) -> Result<(usize, query::PageQuery), ApiError> {
    let access = admit(svc, headers)?;
    check_root(root)?;
    let audience = audience_of(svc, &access, id)?;
    let Query(pairs) = pairs.map_err(|_| ApiError::bad_request("malformed query string"))?;
    Ok((audience, query::parse(&pairs)?))
}

/// A 200 response with the `X-TAXII-Date-Added-*` headers of `entries`.
fn dated(body: String, entries: &[Entry]) -> Response {
    let mut r = taxii_json(body);
    let first = entries.iter().map(|e| e.date_added).min();
    let last = entries.iter().map(|e| e.date_added).max();
    for (name, v) in [(DATE_ADDED_FIRST, first), (DATE_ADDED_LAST, last)] {
        if let Some(v) = v
            && let Ok(h) = HeaderValue::from_str(&format_timestamp(from_micros(v)))
        {
            r.headers_mut().insert(name, h);
        }
    }
    r
}

/// `{"more":…,"next":…,"objects":[…]}` with the objects' JSON spliced in as rendered; `{}`
/// when there is nothing and nothing more (every envelope field is optional).
fn envelope(page: &Page, items: impl Iterator<Item = String>, field: &str) -> String {
    let mut body = String::from("{");
    if !page.entries.is_empty() || page.more {
        body.push_str(&format!("\"more\":{}", page.more));
    }
    if let Some(next) = &page.next {
        body.push_str(&format!(",\"next\":{}", json!(next)));
    }
    if !page.entries.is_empty() {
        body.push_str(&format!(",\"{field}\":["));
        for (i, item) in items.enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&item);
        }
        body.push(']');
    }
    body.push('}');
    body
}

pub(crate) async fn objects(
    State(svc): Svc,
    Path((root, id)): Path<(String, String)>,
    headers: HeaderMap,
    pairs: Pairs,
) -> Result<Response, TaxiiError> {
    let (audience, q) = paged_request(&svc, &headers, &root, &id, pairs)?;
    let page = page_of(svc, audience, q, Lookup::Any)
        .await?
        .unwrap_or_default();
    let body = envelope(
        &page,
        page.entries.iter().map(|e| e.object.json.clone()),
        "objects",
    );
    Ok(dated(body, &page.entries))
}

pub(crate) async fn manifest(
    State(svc): Svc,
    Path((root, id)): Path<(String, String)>,
    headers: HeaderMap,
    pairs: Pairs,
) -> Result<Response, TaxiiError> {
    let (audience, q) = paged_request(&svc, &headers, &root, &id, pairs)?;
    let page = page_of(svc, audience, q, Lookup::Any)
        .await?
        .unwrap_or_default();
    let records = page.entries.iter().map(|e| {
        json!({
            "id": e.object.id,
            "date_added": format_timestamp(from_micros(e.date_added)),
            "version": media::format_stix_version(e.object.version),
            "media_type": STIX_MEDIA_TYPE,
        })
        .to_string()
    });
    let body = envelope(&page, records, "objects");
    Ok(dated(body, &page.entries))
}

/// The page of one object (`objects/{id}/`, `versions/`): `match[id]` is the path's id,
/// `match[type]` does not apply; 404 when nothing is found or the id is one that can only
/// be found by scanning the collection.
async fn one_object(
    svc: Arc<FeedService>,
    headers: &HeaderMap,
    root: &str,
    id: &str,
    object: &str,
    pairs: Pairs,
) -> Result<Page, ApiError> {
    let (audience, mut q) = paged_request(&svc, headers, root, id, pairs)?;
    let parsed = query::parse(&[("match[id]".to_string(), object.to_string())])
        .map_err(|_| ApiError::not_found())?;
    q.filters.ids = parsed.filters.ids;
    q.filters.types = None;
    let page = page_of(svc, audience, q.clone(), Lookup::DirectOnly)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if page.entries.is_empty() && !page.more && q.next.is_none() {
        return Err(ApiError::not_found());
    }
    Ok(page)
}

pub(crate) async fn object(
    State(svc): Svc,
    Path((root, id, object)): Path<(String, String, String)>,
    headers: HeaderMap,
    pairs: Pairs,
) -> Result<Response, TaxiiError> {
    let page = one_object(svc, &headers, &root, &id, &object, pairs).await?;
    let body = envelope(
        &page,
        page.entries.iter().map(|e| e.object.json.clone()),
        "objects",
    );
    Ok(dated(body, &page.entries))
}

pub(crate) async fn versions(
    State(svc): Svc,
    Path((root, id, object)): Path<(String, String, String)>,
    headers: HeaderMap,
    pairs: Pairs,
) -> Result<Response, TaxiiError> {
    let page = one_object(svc, &headers, &root, &id, &object, pairs).await?;
    let versions = page
        .entries
        .iter()
        .map(|e| json!(media::format_stix_version(e.object.version)).to_string());
    let body = envelope(&page, versions, "versions");
    Ok(dated(body, &page.entries))
}
