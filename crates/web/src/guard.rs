//! Request limits applied before any handler: target length, header size, handler time.

use crate::error::{ApiError, PlainError, TaxiiError};
use crate::{MAX_HEADER_BYTES, MAX_HEADERS, MAX_URI_BYTES, REQUEST_TIMEOUT};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub(crate) async fn limits(req: Request, next: Next) -> Response {
    let taxii = req.uri().path().starts_with("/taxii2/");
    let refuse = |e: ApiError| {
        if taxii {
            TaxiiError(e).into_response()
        } else {
            PlainError(e).into_response()
        }
    };
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return refuse(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "URI Too Long",
            format!("request targets are limited to {MAX_URI_BYTES} bytes"),
        ));
    }
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if req.headers().len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return refuse(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "Request Header Fields Too Large",
            format!("at most {MAX_HEADERS} header fields and {MAX_HEADER_BYTES} bytes"),
        ));
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => refuse(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "the request took too long; retry later",
        )),
    }
}
