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
    let (dash, alerts, latest) = blocking(&console, move |s| {
        let dash = s.dashboard(model::now(), hours).map_err(store_error)?;
        let alerts = s.alerts(None, LATEST).map_err(store_error)?;
        let (latest, _) = s
            .search_messages(&MessageFilter::default(), LATEST, None)
            .map_err(store_error)?;
        Ok((dash, alerts, latest))
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
