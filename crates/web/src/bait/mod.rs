//! Bait pages: the public HTTP listener that hands every visitor trap addresses of its own.
//!
//! Meant to face the internet on its own listener (`[bait] listen`), apart from the console.
//! Every page view is a [`model::BaitVisit`] (visitor IP, user agent, referer, page, time) and
//! mints one seed per [`model::BaitForm`] (mailto link, plain text, lightly obfuscated, HTML
//! character references), stored together by [`store::Store::record_bait_visit`]. Mail that
//! later reaches one of those addresses is attributed to the visit by the store.
//!
//! Layout: `mod.rs` (settings, state, router), `page.rs` (the pages: believable directory and
//! contact pages that link to more of themselves), `throttle.rs` (per-visitor and daily limits:
//! a harvester hammering the site gets its previous addresses again instead of new rows),
//! `client.rs` (the visitor's address: the peer, or the client a trusted proxy names),
//! `visit.rs` (one page view: throttle, mint, store, answer). Templates are under
//! `templates/bait/`.
//!
//! The site is public and hostile visitors are its purpose: the console's request limits
//! (`guard.rs`) and security headers (`headers.rs`) apply, the pages carry their own stricter
//! CSP and `Cache-Control: no-store`, nothing of the request is written back into a page, and a
//! store failure is a 503 page without addresses (the cause only goes to the log).

mod client;
mod page;
mod throttle;
mod visit;

pub use client::{MAX_FORWARDED_HOPS, visitor_ip};
pub use page::MORE_LINKS;
pub use throttle::VISITOR_WINDOW;
pub use visit::BAIT_CSP;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use std::net::IpAddr;
use std::sync::Arc;

/// What `/robots.txt` says: honest crawlers stay out (and mint nothing); harvesters ignore it,
/// which is the point.
pub const ROBOTS_TXT: &str = "User-agent: *\nDisallow: /\n";

/// Default most new visits (minting seeds) per visitor IP per hour; past it the visitor sees
/// the addresses of its latest visit again.
pub const DEFAULT_VISITS_PER_IP_HOUR: u32 = 30;
/// Default most new visits per UTC day in total; past it a visitor sees its own latest
/// addresses (or, having none, the latest issued to anyone), and nothing is stored.
pub const DEFAULT_VISITS_PER_DAY: u64 = 100_000;
/// Visitor IPs the throttle remembers; the oldest are forgotten first.
pub const MAX_TRACKED_VISITORS: usize = 65_536;

/// How the bait listener behaves.
#[derive(Debug, Clone)]
pub struct BaitSettings {
    /// Domains seed addresses are minted in (the trap domains in state `active` or `aging`;
    /// wildcards contribute their apex). A visit mints in one of them, chosen per visit.
    pub domains: Vec<String>,
    /// Proxies whose `X-Forwarded-For` is believed (the last address not in this list is the
    /// visitor). Empty: the TCP peer is the visitor.
    pub trusted_proxies: Vec<IpAddr>,
    pub visits_per_ip_hour: u32,
    pub visits_per_day: u64,
    /// The organisation the pages pretend to be (`Northwind Logistics`).
    pub site_name: String,
}

impl Default for BaitSettings {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            trusted_proxies: Vec::new(),
            visits_per_ip_hour: DEFAULT_VISITS_PER_IP_HOUR,
            visits_per_day: DEFAULT_VISITS_PER_DAY,
            site_name: "Northwind Logistics".into(),
        }
    }
}

/// Told about every stored visit (the binary writes a `spamhattan.bait.visit` event and counts
/// it in the metrics).
pub trait VisitObserver: Send + Sync + std::fmt::Debug {
    fn visited(&self, visit: &model::BaitVisit, seeds: &[store::SeedRecord]);
}

/// The bait listener's shared state.
#[derive(Debug)]
pub struct Bait {
    pub(crate) store: Arc<store::Store>,
    pub(crate) settings: BaitSettings,
    pub(crate) observer: Option<Arc<dyn VisitObserver>>,
    pub(crate) throttle: throttle::Throttle,
}

impl Bait {
    pub fn new(store: Arc<store::Store>, settings: BaitSettings) -> Self {
        Self {
            throttle: throttle::Throttle::new(settings.visits_per_ip_hour, settings.visits_per_day),
            store,
            settings,
            observer: None,
        }
    }

    pub fn with_observer(mut self, observer: Arc<dyn VisitObserver>) -> Self {
        self.observer = Some(observer);
        self
    }
}

/// The bait site. Serve it with `axum::serve(listener,
/// app.into_make_service_with_connect_info::<SocketAddr>())` so handlers see the peer.
pub fn app(bait: Arc<Bait>) -> Router {
    Router::new()
        .route("/robots.txt", get(robots))
        .route("/favicon.ico", any(|| async { StatusCode::NOT_FOUND }))
        .fallback(visit::any)
        .with_state(bait)
        .layer(axum::middleware::from_fn(crate::guard::limits))
        .layer(axum::middleware::from_fn(crate::headers::security))
}

async fn robots() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        ROBOTS_TXT,
    )
}
