//! What only admins may do: name and annotate a campaign, queue failed alert deliveries again.
//!
//! Both take the [`Admin`] extractor (readers get 403) and, for a login session, the CSRF
//! token in the `X-CSRF-Token` header (API tokens are exempt: a browser never attaches them
//! by itself). Bodies are JSON, bounded by [`MAX_ADMIN_BODY`] and the field limits below.

use super::common::{blocking, store_err};
use crate::error::{ApiError, JsonError};
use crate::login::CSRF_HEADER;
use crate::principal::Admin;
use crate::state::Console;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Largest admin request body; a label and notes fit many times over.
pub const MAX_ADMIN_BODY: usize = 16 * 1024;

/// Characters of a campaign label: a name such as "DHL parcel lure, NL", shown in lists.
pub const MAX_LABEL_CHARS: usize = 120;

/// Characters of campaign notes: an analyst's paragraph, not a document.
pub const MAX_NOTES_CHARS: usize = 4000;

/// Characters of an alert receiver name (`[[alerts.receiver]] name`).
pub const MAX_RECEIVER_CHARS: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Annotation {
    /// New label; absent or null keeps the current one.
    label: Option<String>,
    /// New notes; absent or null keeps the current ones.
    notes: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Redeliver {
    /// Only this receiver's failed deliveries; absent: every receiver's.
    receiver: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Redelivered {
    /// Deliveries queued again.
    queued: u64,
}

fn csrf(who: &Admin, headers: &HeaderMap) -> Result<(), ApiError> {
    who.0
        .check_csrf(headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))
}

/// Parses a bounded JSON body; an empty body is `T::default()` where the caller allows it.
fn json_body<T: for<'de> Deserialize<'de>>(body: &Bytes) -> Result<T, ApiError> {
    if body.len() > MAX_ADMIN_BODY {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "Payload Too Large",
            format!("request bodies are limited to {MAX_ADMIN_BODY} bytes"),
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not the expected JSON: {e}")))
}

/// Text an analyst typed: bounded, and without control characters (they would garble the
/// console and the feeds that carry the label).
pub(crate) fn clean(
    field: &str,
    v: Option<String>,
    max: usize,
) -> Result<Option<String>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    if v.chars().count() > max {
        return Err(ApiError::bad_request(format!(
            "{field} is limited to {max} characters"
        )));
    }
    if v.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(ApiError::bad_request(format!(
            "{field} may not contain control characters"
        )));
    }
    Ok(Some(v))
}

/// `PATCH /api/v1/campaigns/{id}`: sets the label and/or notes; answers the campaign.
pub async fn annotate_campaign(
    State(console): State<Arc<Console>>,
    who: Admin,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<model::Campaign>, JsonError> {
    csrf(&who, &headers)?;
    let id = super::catalog::campaign_id(&id)?;
    let a: Annotation = json_body(&body)?;
    let label = clean("label", a.label, MAX_LABEL_CHARS)?;
    let notes = clean("notes", a.notes, MAX_NOTES_CHARS)?;
    if label.is_none() && notes.is_none() {
        return Err(ApiError::bad_request("give a label, notes or both").into());
    }
    let campaign = blocking(&console, move |s| {
        let err = store_err("campaign annotation");
        if !s
            .annotate_campaign(id, label.as_deref(), notes.as_deref())
            .map_err(&err)?
        {
            return Err(ApiError::not_found());
        }
        s.campaign(id)
            .map_err(&err)?
            .ok_or_else(ApiError::not_found)
    })
    .await?;
    tracing::info!(admin = %who.0.name, campaign = id, "campaign annotated");
    Ok(Json(campaign))
}

/// `POST /api/v1/alerts/redeliver`: failed deliveries (one receiver or all) are queued again.
pub async fn redeliver_alerts(
    State(console): State<Arc<Console>>,
    who: Admin,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Redelivered>, JsonError> {
    csrf(&who, &headers)?;
    let r: Redeliver = if body.is_empty() {
        Redeliver::default()
    } else {
        json_body(&body)?
    };
    let receiver = clean("receiver", r.receiver, MAX_RECEIVER_CHARS)?;
    let queued = blocking(&console, move |s| {
        s.redeliver_failed(receiver.as_deref())
            .map_err(store_err("alert redelivery"))
    })
    .await?;
    tracing::info!(admin = %who.0.name, queued, "failed alert deliveries queued again");
    Ok(Json(Redelivered { queued }))
}
