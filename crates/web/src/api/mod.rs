//! The REST API under `/api/v1`: JSON for everything the console shows.
//!
//! Every endpoint needs a [`crate::principal::Principal`] (API token or login session) except
//! the OpenAPI document; errors are [`crate::error::JsonError`]. Lists page with an opaque
//! `cursor` (keyset, never OFFSET) and a bounded `limit`; the seed and harvester lists name
//! their keyset plainly instead (`next` of a page is the `before` of the next one: a seed
//! number, a visit time).
//!
//! The routes live in one table, [`ROUTES`] (plus [`download::routes`]), which the router is
//! built from and which a test compares with `openapi.json` both ways.
//!
//! Layout: `messages.rs` (list, search, detail), `catalog.rs` (campaigns, indicators, alerts,
//! sensors, stats), `admin.rs` (campaign labels and notes, alert redelivery; admin role),
//! `seeds.rs` (seeds, minting manual seeds), `harvesters.rs` (bait page visitors),
//! `domains.rs` (trap domains: lifecycle and statistics),
//! `common.rs` (query parsing, store calls off the async threads),
//! `download.rs` (raw mail and attachments as password-protected zips).

pub(crate) mod admin;
mod catalog;
mod common;
pub(crate) mod domains;
pub mod download;
pub(crate) mod harvesters;
mod messages;
pub(crate) mod seeds;

use crate::state::Console;
use axum::Router;
use axum::routing::{MethodRouter, get, post};
use std::sync::Arc;

pub use common::{DEFAULT_LIMIT, MAX_CAMPAIGN_INDICATORS, MAX_CAMPAIGN_MEMBERS, MAX_LIMIT};

/// The OpenAPI 3.1 document of every `/api/v1` route (served at `/api/v1/openapi.json`).
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Builds one route's handlers (a plain function so the table can be a `const`).
pub type RouteFn = fn() -> MethodRouter<Arc<Console>>;

/// Every `/api/v1` route served from this module, with its handlers: GET for reading, and the
/// admin actions (`admin.rs`): PATCH of a campaign, POST of an alert redelivery; and POST of
/// new manual seeds (`seeds.rs`).
pub const ROUTES: &[(&str, RouteFn)] = &[
    ("/api/v1/openapi.json", || get(openapi)),
    ("/api/v1/messages", || get(messages::list)),
    ("/api/v1/messages/{id}", || get(messages::detail)),
    ("/api/v1/campaigns", || get(catalog::campaigns)),
    ("/api/v1/campaigns/{id}", || {
        get(catalog::campaign).patch(admin::annotate_campaign)
    }),
    ("/api/v1/indicators", || get(catalog::indicators)),
    ("/api/v1/indicators/{kind}/{value}", || {
        get(catalog::indicator)
    }),
    ("/api/v1/alerts", || get(catalog::alerts)),
    ("/api/v1/alerts/redeliver", || post(admin::redeliver_alerts)),
    ("/api/v1/sensors", || get(catalog::sensors)),
    ("/api/v1/stats", || get(catalog::stats)),
    ("/api/v1/seeds", || get(seeds::list).post(seeds::mint)),
    ("/api/v1/seeds/{id}", || get(seeds::detail)),
    ("/api/v1/harvesters", || get(harvesters::list)),
    ("/api/v1/harvesters/{ip}", || get(harvesters::detail)),
    ("/api/v1/domains", || get(domains::list)),
];

/// The routes `download::routes` serves (GET), listed here for the OpenAPI check.
pub const DOWNLOAD_ROUTES: &[&str] = &[
    "/api/v1/messages/{id}/raw",
    "/api/v1/messages/{id}/attachments/{part}",
];

/// The `/api/v1` routes.
pub fn routes() -> Router<Arc<Console>> {
    ROUTES
        .iter()
        .fold(Router::new(), |r, (path, handler)| r.route(path, handler()))
        .merge(download::routes())
}

/// The OpenAPI document; public, so tools can discover the API before holding a token.
async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}
