//! The state every console, API and operations handler shares.
//!
//! TAXII and `/feeds/` keep their own state ([`crate::FeedService`]); the console only holds
//! a handle to it for its feeds page. The binary builds one [`Console`] at start-up.

use crate::FeedService;
use std::sync::Arc;
use std::time::Duration;

/// How long a login session lives without a new login. A working day: analysts log in in
/// the morning; a stolen cookie is worthless by the next.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);

/// What the process running the console tells the operations endpoints (`/metrics`,
/// `/readyz`). The binary implements it: the web crate sees neither the trap nor the
/// workers (they meet in the store), so their counters arrive through this seam. The store's
/// own gauges (queue depth, spool, disk, pressure) are rendered by `ops.rs` from
/// [`Console::store`]; the process renders everything else, under other names.
pub trait Operations: Send + Sync + std::fmt::Debug {
    /// The Prometheus text exposition (format 0.0.4) of every metric the process keeps. Called
    /// on a blocking thread, once per scrape.
    fn render_metrics(&self) -> String;
    /// `Ok` when the process serves its purpose (listeners bound, store writable), else why not.
    fn ready(&self) -> Result<(), String>;
}

/// Settings of the console that come from the configuration.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// Mark cookies `Secure` (the console is served over TLS, or behind a TLS proxy).
    pub secure_cookies: bool,
    /// Lifetime of a login session.
    pub session_ttl: Duration,
    /// SHA-256 of `[http] metrics_token`: when set, `/metrics` wants `Authorization: Bearer`
    /// with that token. `None`: open, like `/healthz` (the listener is loopback by default).
    pub metrics_token: Option<[u8; 32]>,
    /// The configured trap domains with their lifecycle (domain views, default domain for
    /// minting seeds).
    pub trap_domains: Vec<model::TrapDomain>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        ConsoleSettings {
            secure_cookies: false,
            session_ttl: SESSION_TTL,
            metrics_token: None,
            trap_domains: Vec::new(),
        }
    }
}

/// The console's shared state.
#[derive(Debug)]
pub struct Console {
    pub(crate) store: Arc<store::Store>,
    pub(crate) settings: ConsoleSettings,
    /// Metrics and readiness of the hosting process; `None` in tests that do not need them
    /// (`/metrics` then shows only what the store can tell).
    pub(crate) operations: Option<Arc<dyn Operations>>,
    /// The intel feeds, when configured (the feeds page links to them).
    pub(crate) feeds: Option<Arc<FeedService>>,
}

impl Console {
    pub fn new(store: Arc<store::Store>, settings: ConsoleSettings) -> Console {
        Console {
            store,
            settings,
            operations: None,
            feeds: None,
        }
    }

    pub fn with_operations(mut self, operations: Arc<dyn Operations>) -> Console {
        self.operations = Some(operations);
        self
    }

    pub fn with_feeds(mut self, feeds: Arc<FeedService>) -> Console {
        self.feeds = Some(feeds);
        self
    }

    pub fn store(&self) -> &Arc<store::Store> {
        &self.store
    }

    pub fn settings(&self) -> &ConsoleSettings {
        &self.settings
    }
}
