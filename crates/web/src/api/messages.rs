//! `GET /api/v1/messages` (list and search) and `GET /api/v1/messages/{id}` (detail).

use super::common::{blocking, cursor, limit, query, store_err};
use crate::error::{ApiError, JsonError};
use crate::principal::Principal;
use crate::state::Console;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::MessageRow;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    q: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ListPage {
    messages: Vec<MessageRow>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Messages matching the search language in `q`, newest first.
pub async fn list(
    State(console): State<Arc<Console>>,
    _who: Principal,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<ListPage>, JsonError> {
    let q = query(q)?;
    let limit = limit(q.limit)?;
    let cursor = cursor(q.cursor)?;
    let filter = crate::search::parse(q.q.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::bad_request(format!("bad search: {e}")))?;
    let (messages, next_cursor) = blocking(&console, move |s| {
        s.search_messages(&filter, limit, cursor.as_deref())
            .map_err(store_err("message search"))
    })
    .await?;
    Ok(Json(ListPage {
        messages,
        next_cursor,
    }))
}

#[derive(Debug, Serialize)]
pub struct Detail {
    sighting: model::Sighting,
    /// The SMTP session that delivered it, with its transcript (absent for imports, or when
    /// the session record is not stored).
    session: Option<model::SessionRecord>,
    /// The analysis report; absent while the message waits for analysis.
    report: Option<model::Report>,
    /// The seeds among its recipients, with the bait visit that handed each out (empty when
    /// none, or before its report is saved).
    seeds: Vec<store::SeedAttribution>,
}

/// One sighting: envelope, SMTP session, report.
pub async fn detail(
    State(console): State<Arc<Console>>,
    _who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Detail>, JsonError> {
    let id = uuid::Uuid::parse_str(&id)
        .map_err(|_| ApiError::bad_request("the message id must be a sighting UUID"))?;
    let detail = blocking(&console, move |s| {
        let err = store_err("message read");
        let Some(sighting) = s.sighting(id).map_err(&err)? else {
            return Err(ApiError::not_found());
        };
        let session = if sighting.session_id.is_nil() {
            None
        } else {
            s.session(sighting.session_id).map_err(&err)?
        };
        let report = s.report(id).map_err(&err)?;
        let seeds = s.seeds_of_sighting(id).map_err(&err)?;
        Ok(Detail {
            sighting,
            session,
            report,
            seeds,
        })
    })
    .await?;
    Ok(Json(detail))
}
