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
//! `client.rs` (the visitor's address: the peer, or the client a trusted proxy names).

use axum::Router;
use std::net::IpAddr;
use std::sync::Arc;

/// Default most new visits (minting seeds) per visitor IP per hour; past it the visitor sees
/// the addresses of its latest visit again.
pub const DEFAULT_VISITS_PER_IP_HOUR: u32 = 30;
/// Default most new visits per UTC day in total; past it pages show the latest addresses
/// issued to anyone, and nothing is stored.
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
}

impl Bait {
    pub fn new(store: Arc<store::Store>, settings: BaitSettings) -> Self {
        Self {
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
    let _ = bait;
    todo!("bait: router")
}
