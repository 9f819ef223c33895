//! `/feeds/`: the files the feed scheduler published, per audience.
//!
//! Paths are never built from request text: the audience must be a configured name, the
//! file a known [`Format::file_name`] (or, under `misp/`, `manifest.json`, `hashes.csv` or
//! `<lower-case hyphenated uuid>.json`), so `..`, encoded dots, slashes and absolute paths
//! simply match nothing (404). Files are streamed; `ETag` (size and modification time) and
//! `If-None-Match` spare unchanged downloads.

use crate::FeedService;
use crate::auth::{Access, authenticate};
use crate::error::{ApiError, PlainError};
use crate::file_body::FileBody;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use feeds::intel::Format;
use serde_json::json;
use std::sync::Arc;
use time::macros::format_description;

type Svc = State<Arc<FeedService>>;

/// Longest `If-None-Match` value looked at; longer ones are ignored (full response).
pub const MAX_IF_NONE_MATCH_BYTES: usize = 1024;

pub(crate) async fn index(State(svc): Svc, headers: HeaderMap) -> Result<Response, PlainError> {
    let access = authenticate(&headers, &svc.audiences)?;
    access.require_any()?;
    let list: Vec<serde_json::Value> = access
        .readable()
        .map(|i| {
            let a = &svc.audiences[i];
            let formats: Vec<serde_json::Value> = a
                .formats
                .iter()
                .map(|f| {
                    let url = if f.is_directory() {
                        format!("/feeds/{}/{}/manifest.json", a.name, f.file_name())
                    } else {
                        format!("/feeds/{}/{}", a.name, f.file_name())
                    };
                    json!({ "format": f.as_str(), "url": url, "media_type": f.media_type() })
                })
                .collect();
            json!({ "name": a.name, "tlp": a.tlp.as_str(), "formats": formats })
        })
        .collect();
    Ok(Json(json!({ "audiences": list })).into_response())
}

/// The audience named `name` if the caller may read it.
fn audience<'a>(
    svc: &'a FeedService,
    access: &Access,
    name: &str,
) -> Result<&'a feeds::intel::Audience, ApiError> {
    svc.audiences
        .iter()
        .enumerate()
        .find(|(i, a)| a.name == name && access.can_read(*i))
        .map(|(_, a)| a)
        .ok_or_else(|| access.hidden())
}

pub(crate) async fn file(
    State(svc): Svc,
    Path((name, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PlainError> {
    let access = authenticate(&headers, &svc.audiences)?;
    let a = audience(&svc, &access, &name)?;
    let format = Format::ALL
        .into_iter()
        .find(|f| !f.is_directory() && f.file_name() == file)
        .filter(|f| a.formats.contains(f))
        .ok_or_else(ApiError::not_found)?;
    send(
        &svc,
        &a.name,
        format.file_name(),
        format.media_type(),
        &headers,
    )
    .await
}

pub(crate) async fn misp_file(
    State(svc): Svc,
    Path((name, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, PlainError> {
    let access = authenticate(&headers, &svc.audiences)?;
    let a = audience(&svc, &access, &name)?;
    if !a.formats.contains(&Format::Misp) || !valid_misp_name(&file) {
        return Err(ApiError::not_found().into());
    }
    let media = if file.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else {
        Format::Misp.media_type()
    };
    let rel = format!("{}/{file}", Format::Misp.file_name());
    send(&svc, &a.name, &rel, media, &headers).await
}

/// `manifest.json`, `hashes.csv` or `<uuid>.json` with the UUID lower-case and hyphenated.
fn valid_misp_name(file: &str) -> bool {
    if file == "manifest.json" || file == "hashes.csv" {
        return true;
    }
    file.strip_suffix(".json")
        .and_then(|stem| uuid::Uuid::try_parse(stem).ok().map(|u| (stem, u)))
        .is_some_and(|(stem, u)| u.hyphenated().to_string() == stem)
}

/// Streams `<published>/<audience>/<rel>` with caching headers; 503 while not published.
async fn send(
    svc: &FeedService,
    audience: &str,
    rel: &str,
    media_type: &'static str,
    headers: &HeaderMap,
) -> Result<Response, PlainError> {
    let unpublished = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "this feed has not been published yet; try again after the next export run",
        )
    };
    let dir = svc.published.as_ref().ok_or_else(unpublished)?;
    let path = dir.join(audience).join(rel);
    let f = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(unpublished().into()),
        Err(e) => return Err(ApiError::internal("open published feed", &e).into()),
    };
    let meta = f
        .metadata()
        .await
        .map_err(|e| ApiError::internal("stat published feed", &e))?;
    if !meta.is_file() {
        return Err(unpublished().into());
    }
    let mtime = meta
        .modified()
        .ok()
        .map(time::OffsetDateTime::from)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let etag = format!("\"{:x}-{:x}\"", meta.len(), mtime.unix_timestamp_nanos());
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&http_date(mtime)) {
        h.insert(header::LAST_MODIFIED, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if not_modified(headers, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, h).into_response());
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(media_type));
    Ok((h, Body::new(FileBody::new(f, meta.len()))).into_response())
}

/// `If-None-Match` names our tag (weak comparison, as RFC 9110 asks for this header) or `*`.
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(header::IF_NONE_MATCH).iter().any(|v| {
        v.len() <= MAX_IF_NONE_MATCH_BYTES
            && v.to_str().is_ok_and(|s| {
                s.split(',')
                    .map(str::trim)
                    .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
            })
    })
}

/// An HTTP date (`Tue, 16 Feb 2016 12:00:00 GMT`).
fn http_date(t: time::OffsetDateTime) -> String {
    let fmt = format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.to_offset(time::UtcOffset::UTC)
        .format(&fmt)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misp_names_are_strict() {
        assert!(valid_misp_name("manifest.json"));
        assert!(valid_misp_name("hashes.csv"));
        assert!(valid_misp_name("5f6e4d3c-2b1a-4098-8765-43210fedcba9.json"));
        for bad in [
            "5F6E4D3C-2B1A-4098-8765-43210FEDCBA9.json",
            "5f6e4d3c2b1a4098876543210fedcba9.json",
            "../manifest.json",
            "manifest.json/",
            "x.json",
            "",
        ] {
            assert!(!valid_misp_name(bad), "{bad}");
        }
    }

    #[test]
    fn http_dates_are_imf_fixdate() {
        let t = time::macros::datetime!(2016-02-16 12:00:07 UTC);
        assert_eq!(http_date(t), "Tue, 16 Feb 2016 12:00:07 GMT");
    }
}
