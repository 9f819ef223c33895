//! `GET /api/v1/domains`: per configured trap domain, its lifecycle and what arrived over a
//! window of days (volume, verdict mix, campaigns, sensors, first spam after activation). The
//! summary is the store's ([`store::Store::domain_report`]), shared with the console and the
//! `domains` command.

use super::common::{blocking, query, store_err};
use crate::error::{ApiError, JsonError};
use crate::principal::Principal;
use crate::state::Console;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use std::sync::Arc;
use store::DomainReport;

/// Days of statistics when the request names none.
pub const DEFAULT_DAYS: u32 = 30;

/// Most days one request covers: a year (and a leap day).
pub const MAX_DAYS: u32 = store::MAX_REPORT_DAYS;

/// `days` checked against [`MAX_DAYS`].
pub fn days(v: Option<u32>) -> Result<u32, ApiError> {
    let d = v.unwrap_or(DEFAULT_DAYS);
    if (1..=MAX_DAYS).contains(&d) {
        Ok(d)
    } else {
        Err(ApiError::bad_request(format!(
            "days must be between 1 and {MAX_DAYS}, not {d}"
        )))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainsQuery {
    days: Option<u32>,
}

/// Trap domains with their lifecycle and statistics.
pub async fn list(
    State(console): State<Arc<Console>>,
    _who: Principal,
    q: Result<Query<DomainsQuery>, QueryRejection>,
) -> Result<Json<DomainReport>, JsonError> {
    let q = query(q)?;
    let days = days(q.days)?;
    let configured = console.settings.trap_domains.clone();
    let page = blocking(&console, move |s| {
        s.domain_report(&configured, days, model::now())
            .map_err(store_err("domain statistics"))
    })
    .await?;
    Ok(Json(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_bounded() {
        assert_eq!(days(None).expect("default"), DEFAULT_DAYS);
        assert_eq!(days(Some(MAX_DAYS)).expect("max"), MAX_DAYS);
        assert!(days(Some(0)).is_err());
        assert!(days(Some(MAX_DAYS + 1)).is_err());
    }
}
