//! `/`: the dashboard. Everything comes from the store's hourly rollups
//! (`store.dashboard`), never from a scan of messages, so it stays fast with millions stored.

use super::chart::{self, Chart, Column, VERDICT_COLOURS};
use super::intel::{AlertRow, CampaignRow};
use super::messages::Row;
use super::{Nav, blocking, store_error};
use crate::error::PlainError;
use crate::login::PageUser;
use crate::state::Console;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use store::MessageFilter;

/// Hours shown when the page does not ask (`?hours=`): one day, hour by hour.
pub const DEFAULT_HOURS: u32 = 24;

/// Alerts and latest messages listed.
pub const LATEST: usize = 10;

#[derive(Debug, Deserialize)]
pub(super) struct DashQuery {
    hours: Option<u32>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    nav: Nav,
    hours: u32,
    notes: Vec<String>,
    totals: Vec<(String, u64)>,
    chart: Chart,
    campaigns: Vec<CampaignRow>,
    malware: Vec<Row>,
    networks: Vec<(String, u64)>,
    trap_domains: Vec<(String, u64)>,
    alerts: Vec<AlertRow>,
    latest: Vec<Row>,
    /// Sensors feeding this collector (empty on a single node).
    sensors: Vec<SensorRow>,
}

/// One sensor's line: what it sent and when it was last heard of.
struct SensorRow {
    id: String,
    sector: String,
    location: String,
    sightings: u64,
    last_seen: String,
}

pub(super) async fn page(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Query(q): Query<DashQuery>,
) -> Result<Response, PlainError> {
    let hours = q
        .hours
        .unwrap_or(DEFAULT_HOURS)
        .clamp(1, store::MAX_DASHBOARD_HOURS);
    let (dash, alerts, latest, sensors) = blocking(&console, move |s| {
        let dash = s.dashboard(model::now(), hours).map_err(store_error)?;
        let alerts = s.alerts(None, LATEST).map_err(store_error)?;
        let (latest, _) = s
            .search_messages(&MessageFilter::default(), LATEST, None)
            .map_err(store_error)?;
        let mut sensors = s.sensors().map_err(store_error)?;
        sensors.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
        Ok((dash, alerts, latest, sensors))
    })
    .await?;
    let columns: Vec<Column> = dash
        .volume
        .iter()
        .map(|h| Column {
            label: super::when(h.hour)[11..16].to_owned(),
            segments: h
                .by_verdict
                .iter()
                .map(|c| (series(&c.key), c.count))
                .collect(),
        })
        .collect();
    let mut notes = Vec::new();
    if dash.pending_analysis > 0 {
        notes.push(format!(
            "{} messages wait for analysis and are not counted yet",
            dash.pending_analysis
        ));
    }
    let counts = |v: &[store::Count]| -> Vec<(String, u64)> {
        v.iter().map(|c| (c.key.clone(), c.count)).collect()
    };
    Ok(DashboardPage {
        nav: Nav::of(&user, "Dashboard"),
        hours: dash.hours,
        notes,
        totals: counts(&dash.by_verdict),
        chart: chart::stacked("Messages per hour by verdict", &columns, true),
        campaigns: dash.top_campaigns.iter().map(CampaignRow::of).collect(),
        malware: dash.latest_threats.iter().map(Row::of).collect(),
        networks: counts(&dash.top_networks),
        trap_domains: counts(&dash.by_trap_domain),
        alerts: alerts.iter().map(AlertRow::of).collect(),
        latest: latest.iter().map(Row::of).collect(),
        sensors: sensors
            .into_iter()
            .map(|r| SensorRow {
                last_seen: super::when(r.last_seen),
                id: r.id,
                sector: r.sector,
                location: r.location,
                sightings: r.sightings,
            })
            .collect(),
    }
    .into_response())
}

/// The chart series of a verdict name from the store (an unknown name is grey "unknown").
fn series(name: &str) -> &'static str {
    VERDICT_COLOURS
        .iter()
        .map(|(n, _)| *n)
        .find(|n| *n == name)
        .unwrap_or("unknown")
}
