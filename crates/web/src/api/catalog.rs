//! Campaigns, indicators, alerts, sensors and the dashboard statistics.

use super::common::{
    MAX_CAMPAIGN_INDICATORS, MAX_CAMPAIGN_MEMBERS, blocking, cursor, limit, query, store_err,
    time_param,
};
use crate::error::{ApiError, JsonError};
use crate::principal::Principal;
use crate::state::Console;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use model::report::IndicatorKind;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use store::{AlertRecord, IndicatorRecord, Member};

/// Default hours of `/stats`: the last day.
pub const DEFAULT_STATS_HOURS: u32 = 24;

/// Sightings listed in one indicator's detail.
pub const INDICATOR_SIGHTINGS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CampaignPage {
    campaigns: Vec<model::Campaign>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Live campaigns, newest first (by id), keyset paged.
pub async fn campaigns(
    State(console): State<Arc<Console>>,
    _who: Principal,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<CampaignPage>, JsonError> {
    let q = query(q)?;
    let limit = limit(q.limit)?;
    let before = match cursor(q.cursor)? {
        None => None,
        Some(c) => Some(
            c.strip_prefix('c')
                .and_then(|n| n.parse::<i64>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    ApiError::bad_request("the cursor is not one this server gave out")
                })?,
        ),
    };
    let page = blocking(&console, move |s| {
        s.campaigns_by_id(before, limit + 1, false)
            .map_err(store_err("campaign list"))
    })
    .await?;
    Ok(Json(paged(
        page,
        limit,
        |c| format!("c{}", c.id),
        |campaigns, next_cursor| CampaignPage {
            campaigns,
            next_cursor,
        },
    )))
}

/// `limit + 1` rows read: the extra one says there is a next page, whose cursor is the last
/// row shown.
fn paged<T, P>(
    mut rows: Vec<T>,
    limit: usize,
    cursor_of: impl Fn(&T) -> String,
    page: impl FnOnce(Vec<T>, Option<String>) -> P,
) -> P {
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(cursor_of)
    } else {
        None
    };
    page(rows, next)
}

#[derive(Debug, Serialize)]
pub struct CampaignDetail {
    #[serde(flatten)]
    campaign: model::Campaign,
    merges: Vec<model::campaign::CampaignMerge>,
    /// The oldest members, at most `MAX_CAMPAIGN_MEMBERS`; search `campaign:N` for all.
    members: Vec<Member>,
    /// Its indicators in change order, at most `MAX_CAMPAIGN_INDICATORS`.
    indicators: Vec<model::intel::IndicatorRow>,
    /// More indicators than listed.
    indicators_truncated: bool,
}

/// A campaign id from the path: a positive number.
pub(super) fn campaign_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::bad_request("the campaign id must be a positive number"))
}

/// One campaign (merged ones too) with members, merges and indicators.
pub async fn campaign(
    State(console): State<Arc<Console>>,
    _who: Principal,
    Path(id): Path<String>,
) -> Result<Json<CampaignDetail>, JsonError> {
    let id = campaign_id(&id)?;
    let detail = blocking(&console, move |s| {
        let err = store_err("campaign read");
        let campaign = s
            .campaign(id)
            .map_err(&err)?
            .ok_or_else(ApiError::not_found)?;
        let members = s.campaign_members(id, MAX_CAMPAIGN_MEMBERS).map_err(&err)?;
        let merges = s.campaign_merges(id).map_err(&err)?;
        let mut indicators = Vec::new();
        let mut truncated = false;
        s.for_each_campaign_indicator(Some(id), None, &IndicatorKind::ALL, &mut |row| {
            if indicators.len() < MAX_CAMPAIGN_INDICATORS {
                indicators.push(row);
            } else {
                truncated = true;
            }
            Ok(())
        })
        .map_err(&err)?;
        Ok(CampaignDetail {
            campaign,
            merges,
            members,
            indicators,
            indicators_truncated: truncated,
        })
    })
    .await?;
    Ok(Json(detail))
}

fn kind_of(k: &str) -> Result<IndicatorKind, ApiError> {
    IndicatorKind::parse(k).ok_or_else(|| {
        let names: Vec<_> = IndicatorKind::ALL.iter().map(|k| k.as_str()).collect();
        ApiError::bad_request(format!(
            "unknown indicator kind `{k}`; one of: {}",
            names.join(", ")
        ))
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorListQuery {
    kind: Option<String>,
    q: Option<String>,
    limit: Option<usize>,
    cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct IndicatorPage {
    indicators: Vec<IndicatorRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

/// Indicators, most recently seen first, optionally of one kind and containing `q`.
pub async fn indicators(
    State(console): State<Arc<Console>>,
    _who: Principal,
    q: Result<Query<IndicatorListQuery>, QueryRejection>,
) -> Result<Json<IndicatorPage>, JsonError> {
    let q = query(q)?;
    let limit = limit(q.limit)?;
    let cursor = cursor(q.cursor)?;
    let kind = q.kind.as_deref().map(kind_of).transpose()?;
    let text = q.q.filter(|t| !t.is_empty());
    let (indicators, next_cursor) = blocking(&console, move |s| {
        s.indicator_page(kind, text.as_deref(), limit, cursor.as_deref())
            .map_err(store_err("indicator list"))
    })
    .await?;
    Ok(Json(IndicatorPage {
        indicators,
        next_cursor,
    }))
}

/// One indicator by kind and value (percent-encode `/` in URLs) with its newest sightings.
pub async fn indicator(
    State(console): State<Arc<Console>>,
    _who: Principal,
    Path((kind, value)): Path<(String, String)>,
) -> Result<Json<IndicatorRecord>, JsonError> {
    let kind = kind_of(&kind)?;
    if value.len() > 4 * store::MAX_TERM_BYTES {
        return Err(ApiError::bad_request("the indicator value is too long").into());
    }
    let found = blocking(&console, move |s| {
        s.indicator(kind, &value, INDICATOR_SIGHTINGS)
            .map_err(store_err("indicator read"))?
            .ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(Json(found))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertQuery {
    limit: Option<usize>,
    /// Only alerts raised at or after this RFC 3339 time.
    since: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AlertPage {
    alerts: Vec<AlertRecord>,
}

/// Alerts newest first with their delivery states.
pub async fn alerts(
    State(console): State<Arc<Console>>,
    _who: Principal,
    q: Result<Query<AlertQuery>, QueryRejection>,
) -> Result<Json<AlertPage>, JsonError> {
    let q = query(q)?;
    let limit = limit(q.limit)?;
    let since = time_param("since", q.since.as_deref())?;
    let alerts = blocking(&console, move |s| {
        s.alerts(since, limit).map_err(store_err("alert list"))
    })
    .await?;
    Ok(Json(AlertPage { alerts }))
}

/// One source of sightings: a `spamhattan sensor` on the bus, or `local` (what this process
/// captured itself, and imports).
#[derive(Debug, Serialize)]
pub struct Sensor {
    name: String,
    /// `sensor` (over the bus) or `local`.
    kind: &'static str,
    sector: String,
    location: String,
    sightings: u64,
    #[serde(with = "time::serde::rfc3339::option")]
    first_seen: Option<model::Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    last_seen: Option<model::Timestamp>,
}

/// What the store holds in all.
#[derive(Debug, Serialize)]
pub struct SensorTotals {
    messages: u64,
    sightings: u64,
    sessions: u64,
    reports: u64,
    pending_analysis: u64,
}

#[derive(Debug, Serialize)]
pub struct Sensors {
    sensors: Vec<Sensor>,
    totals: SensorTotals,
}

/// The sensors feeding this console, newest first, with `local` for the rest (listed when it
/// has sightings, or when no sensor has any).
pub async fn sensors(
    State(console): State<Arc<Console>>,
    _who: Principal,
) -> Result<Json<Sensors>, JsonError> {
    let (stats, rows) = blocking(&console, |s| {
        let stats = s.stats().map_err(store_err("store stats"))?;
        let rows = s.sensors().map_err(store_err("sensor list"))?;
        Ok((stats, rows))
    })
    .await?;
    let remote: u64 = rows.iter().map(|r| r.sightings).sum();
    let mut sensors: Vec<Sensor> = rows
        .into_iter()
        .map(|r| Sensor {
            name: r.id,
            kind: "sensor",
            sector: r.sector,
            location: r.location,
            sightings: r.sightings,
            first_seen: Some(r.first_seen),
            last_seen: Some(r.last_seen),
        })
        .collect();
    sensors.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
    let local = stats.sightings.saturating_sub(remote);
    if local > 0 || sensors.is_empty() {
        sensors.push(Sensor {
            name: "local".into(),
            kind: "local",
            sector: String::new(),
            location: String::new(),
            sightings: local,
            first_seen: None,
            // The newest sighting is this process's own when no sensor feeds it.
            last_seen: (remote == 0).then_some(stats.newest_sighting).flatten(),
        });
    }
    Ok(Json(Sensors {
        sensors,
        totals: SensorTotals {
            messages: stats.messages,
            sightings: stats.sightings,
            sessions: stats.sessions,
            reports: stats.reports,
            pending_analysis: stats.pending_jobs,
        },
    }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    hours: Option<u32>,
}

/// The dashboard: volume per hour, verdicts, trap domains, networks, campaigns, threats.
pub async fn stats(
    State(console): State<Arc<Console>>,
    _who: Principal,
    q: Result<Query<StatsQuery>, QueryRejection>,
) -> Result<Json<store::Dashboard>, JsonError> {
    let q = query(q)?;
    let hours = q.hours.unwrap_or(DEFAULT_STATS_HOURS);
    if !(1..=store::MAX_DASHBOARD_HOURS).contains(&hours) {
        return Err(ApiError::bad_request(format!(
            "hours must be between 1 and {}, not {hours}",
            store::MAX_DASHBOARD_HOURS
        ))
        .into());
    }
    let d = blocking(&console, move |s| {
        s.dashboard(model::now(), hours)
            .map_err(store_err("dashboard"))
    })
    .await?;
    Ok(Json(d))
}
