//! `/static/`: the console's own stylesheet and script, embedded in the binary.
//!
//! Served with long cache lifetimes: the names change when the content does (there are only
//! two files and they ship with the binary, so an upgrade restarts the browser's view anyway;
//! `immutable` is not claimed). The right `Content-Type` and `nosniff` keep the browser from
//! guessing.

use crate::error::{ApiError, PlainError};
use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// How long browsers may keep an asset: a day. Short enough that an upgrade shows within a
/// working day, long enough that pages never wait for CSS.
pub const ASSET_MAX_AGE: &str = "public, max-age=86400";

const ASSETS: [(&str, &str, &[u8]); 2] = [
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../../static/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../static/console.js"),
    ),
];

pub(super) async fn file(Path(name): Path<String>) -> Result<Response, PlainError> {
    let (_, kind, bytes) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(ApiError::not_found)?;
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(ASSET_MAX_AGE),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(r)
}
