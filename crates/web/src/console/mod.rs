//! The analyst's console: server-rendered pages (askama templates under
//! `templates/console/`), its static assets and the live-update stream.
//!
//! Every page needs a login ([`PageUser`] sends anonymous visitors to `/login`). Everything
//! shown comes from mail, so it is hostile text: templates rely on askama's escaping and no
//! template uses `|safe`. The one place mail HTML reaches a browser is
//! `/messages/{id}/body`, inside `<iframe sandbox>` and under its own CSP (`messages.rs`),
//! after `inert.rs` took out everything that could load or run. Links and indicators are
//! shown defanged (`defang.rs`) and never point at their target.
//!
//! Layout: `messages.rs` (list, view, body), `intel.rs` (campaigns, indicators, alerts,
//! feeds), `seeds.rs` (seeds, minting), `harvesters.rs` (bait page visitors), `domains.rs`
//! (trap domains), `dashboard.rs`, `events.rs` (Server-Sent Events), `assets.rs` (`/static/`),
//! `chart.rs` (inline SVG), `defang.rs`, `inert.rs`.

mod assets;
mod chart;
mod dashboard;
pub mod defang;
mod domains;
pub mod events;
mod harvesters;
pub mod inert;
mod intel;
mod messages;
mod seeds;

use crate::error::{ApiError, PlainError};
use crate::login::PageUser;
use crate::principal::Via;
use crate::state::Console;
use axum::routing::{get, post};
use axum::{Extension, Router};
use std::sync::Arc;

/// The console's pages, assets and event stream.
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/", get(dashboard::page))
        .route("/messages", get(messages::list))
        .route("/messages/{id}", get(messages::view))
        .route("/messages/{id}/body", get(messages::body))
        .route("/campaigns", get(intel::campaigns))
        .route("/campaigns/{id}", get(intel::campaign))
        .route("/campaigns/{id}/label", post(intel::campaign_label))
        .route("/indicators", get(intel::indicators))
        .route("/indicators/{kind}/{value}", get(intel::indicator))
        .route("/alerts", get(intel::alerts))
        .route("/feeds", get(intel::feeds))
        .route("/seeds", get(seeds::list))
        .route("/seeds/mint", post(seeds::mint))
        .route("/seeds/{id}", get(seeds::view))
        .route("/harvesters", get(harvesters::list))
        .route("/harvesters/{ip}", get(harvesters::view))
        .route("/domains", get(domains::page))
        .route("/events", get(events::stream))
        .route("/static/{file}", get(assets::file))
        .layer(Extension(Arc::new(events::Live::default())))
}

/// The navigation bar and logout form of every page.
#[derive(Debug, Clone)]
pub struct Nav {
    pub user: String,
    pub admin: bool,
    /// The session's CSRF token for the logout form (empty for token callers).
    pub csrf: String,
    /// Label of the current section.
    pub active: &'static str,
}

const LINKS: [(&str, &str); 9] = [
    ("/", "Dashboard"),
    ("/messages", "Messages"),
    ("/campaigns", "Campaigns"),
    ("/indicators", "Indicators"),
    ("/alerts", "Alerts"),
    ("/seeds", "Seeds"),
    ("/harvesters", "Harvesters"),
    ("/domains", "Domains"),
    ("/feeds", "Feeds"),
];

impl Nav {
    fn of(user: &PageUser, active: &'static str) -> Nav {
        let p = user.principal();
        Nav {
            user: p.name.clone(),
            admin: p.is_admin(),
            csrf: match &p.via {
                Via::Session { csrf } => csrf.clone(),
                Via::Token => String::new(),
            },
            active,
        }
    }

    pub fn links(&self) -> &'static [(&'static str, &'static str)] {
        &LINKS
    }
}

/// Runs a store read off the async threads; failures become a plain-text error page.
async fn blocking<T: Send + 'static>(
    console: &Arc<Console>,
    f: impl FnOnce(&store::Store) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, PlainError> {
    let console = Arc::clone(console);
    Ok(
        tokio::task::spawn_blocking(move || f(console.store.as_ref()))
            .await
            .map_err(|e| ApiError::internal("console task", &e))??,
    )
}

fn store_error(e: store::StoreError) -> ApiError {
    ApiError::internal("console store read", &e)
}

/// `2026-12-05 04:51` in UTC: what a list needs, sortable, no locale guessing.
fn when(t: model::Timestamp) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
