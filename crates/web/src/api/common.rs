//! Shared by the API handlers: limits, query-string parsing with JSON errors, store calls on
//! the blocking pool.

use crate::error::{ApiError, JsonError};
use crate::state::Console;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use std::sync::Arc;
use store::{Store, StoreError};

/// Rows per page when the request names no `limit`.
pub const DEFAULT_LIMIT: usize = 50;

/// Largest `limit` accepted: a page is read, decoded and serialised in one request, and 500
/// rows are a few hundred KiB of JSON; more pages are a cursor away.
pub const MAX_LIMIT: usize = 500;

/// Members listed in a campaign's detail (newest campaigns have thousands; the message list
/// with `campaign:N` pages through all of them).
pub const MAX_CAMPAIGN_MEMBERS: usize = 200;

/// Indicators listed in a campaign's detail; `/indicators` pages through the rest.
pub const MAX_CAMPAIGN_INDICATORS: usize = 500;

/// Longest cursor accepted; ours are short numbers.
pub const MAX_CURSOR_BYTES: usize = 64;

/// A query string, or a 400 saying what is wrong with it (unknown parameter, bad number).
pub fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, JsonError> {
    match q {
        Ok(Query(v)) => Ok(v),
        Err(e) => Err(ApiError::bad_request(format!("bad query string: {}", e.body_text())).into()),
    }
}

/// `limit` checked against [`MAX_LIMIT`] (0 is refused too: a page of nothing is a mistake).
pub fn limit(limit: Option<usize>) -> Result<usize, JsonError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit must be between 1 and {MAX_LIMIT}, not {n}"
        ))
        .into()),
    }
}

/// `cursor` checked for length; its content is the store's to judge.
pub fn cursor(c: Option<String>) -> Result<Option<String>, JsonError> {
    match c {
        Some(c) if c.len() > MAX_CURSOR_BYTES || c.is_empty() => {
            Err(ApiError::bad_request("the cursor is not one this server gave out").into())
        }
        c => Ok(c),
    }
}

/// Runs a store read on the blocking pool (SQLite calls block), mapping store errors:
/// `Invalid` (a bad cursor, an oversized term) is the client's 400, anything else a logged 500.
pub async fn blocking<T: Send + 'static>(
    console: &Arc<Console>,
    f: impl FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, JsonError> {
    let store = console.store.clone();
    Ok(tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| ApiError::internal("api task", &e))??)
}

/// A store error as an API error (see [`blocking`]).
pub fn store_err(context: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::Invalid { detail } => ApiError::bad_request(detail),
        e => ApiError::internal(context, &e),
    }
}

/// An RFC 3339 time from a query parameter.
pub fn time_param(name: &str, v: Option<&str>) -> Result<Option<model::Timestamp>, JsonError> {
    v.map(|v| {
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).map_err(
            |_| {
                JsonError::from(ApiError::bad_request(format!(
                    "{name} must be an RFC 3339 time like 2026-12-01T00:00:00Z"
                )))
            },
        )
    })
    .transpose()
}
