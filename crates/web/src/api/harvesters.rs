//! `GET /api/v1/harvesters` (visiting IPs of the bait pages, latest visit first) and
//! `GET /api/v1/harvesters/{ip}` (one of them: visits, user agents, pages, forms its scraper
//! read, delays to the first spam, campaigns and networks that used its lists, its seeds).

use super::common::{blocking, cursor, limit, query, store_err};
use super::seeds::{ip_param, page_of, read_ahead};
use crate::error::{ApiError, JsonError};
use crate::principal::Principal;
use crate::state::Console;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use model::Timestamp;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::{HarvesterDetail, HarvesterRow};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarvesterQuery {
    limit: Option<usize>,
    /// The previous page's `next_cursor`.
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HarvesterPage {
    harvesters: Vec<HarvesterRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// The paging cursor after `row`: its latest visit (unix nanoseconds) and its IP, so two
/// harvesters with the same latest visit still page apart.
pub(crate) fn encode_cursor(row: &HarvesterRow) -> String {
    format!("{}_{}", row.last_visit.unix_timestamp_nanos(), row.ip)
}

/// The key a cursor from [`encode_cursor`] stands for; `None` for anything else.
pub(crate) fn decode_cursor(c: &str) -> Option<(Timestamp, String)> {
    let (nanos, ip) = c.split_once('_')?;
    let at = Timestamp::from_unix_timestamp_nanos(nanos.parse::<i128>().ok()?).ok()?;
    let ip: std::net::IpAddr = ip.parse().ok()?;
    Some((at, ip.to_string()))
}

/// Harvesters, latest visit first, keyset paged on the latest visit.
pub async fn list(
    State(console): State<Arc<Console>>,
    _who: Principal,
    q: Result<Query<HarvesterQuery>, QueryRejection>,
) -> Result<Json<HarvesterPage>, JsonError> {
    let q = query(q)?;
    let limit = limit(q.limit)?;
    let before =
        match cursor(q.cursor)? {
            None => None,
            Some(c) => Some(decode_cursor(&c).ok_or_else(|| {
                ApiError::bad_request("the cursor is not one this server gave out")
            })?),
        };
    let rows = blocking(&console, move |s| {
        s.harvesters(read_ahead(limit), before)
            .map_err(store_err("harvester list"))
    })
    .await?;
    let (harvesters, next_cursor) = page_of(rows, limit, encode_cursor);
    Ok(Json(HarvesterPage {
        harvesters,
        next_cursor,
    }))
}

/// One harvester by IP address (404 when it never visited).
pub async fn detail(
    State(console): State<Arc<Console>>,
    _who: Principal,
    Path(ip): Path<String>,
) -> Result<Json<HarvesterDetail>, JsonError> {
    let ip = ip_param("the harvester", &ip)?;
    let found = blocking(&console, move |s| {
        s.harvester(&ip)
            .map_err(store_err("harvester read"))?
            .ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(Json(found))
}
