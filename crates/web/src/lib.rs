//! The HTTP face of spamhattan: the analyst's console, the REST API under `/api/v1`,
//! operations endpoints (`/metrics`, `/healthz`, `/readyz`), a read-only TAXII 2.1 server and
//! the published feed files under `/feeds/`.
//!
//! [`app`] puts them together on one listener. The console, the API and the operations
//! endpoints share [`Console`] (`state.rs`); who is asking is a [`principal::Principal`]
//! (API token or login session, `principal.rs`).
//!
//! Main types: [`FeedService`] (the state every handler shares: the store, the sharing
//! policy, the producer, the audiences and the directory the feed scheduler publishes to),
//! [`router`] (the routes) and [`serve`] (the accept loop with graceful shutdown).
//!
//! Every audience of the feed configuration is one TAXII collection and one directory of
//! published files. [`auth`] turns a request's credentials into the set of audiences it may
//! read; whatever lies outside that set is invisible (404), and a request without credentials
//! that reaches something protected gets 401 with a `WWW-Authenticate` challenge.
//!
//! Layout:
//! - console and API: `state.rs` (shared state), `principal.rs` (tokens and sessions),
//!   `login/` (passwords, login and logout, throttle, `PageUser` for pages),
//!   `api/` (REST API and its OpenAPI document), `console/` (server-rendered pages),
//!   `ops.rs` (metrics and health);
//! - intel: `service.rs` (state, the STIX renderer seam), `auth.rs` (feed audiences),
//!   `feeds_http.rs` and `file_body.rs` (`/feeds/`), `taxii/` (media types, query parsing,
//!   paging tokens, collection content, handlers);
//! - shared: `conn.rs` (connection caps and the idle timeout on every listener), `guard.rs`
//!   (request size and time limits), `headers.rs` (security headers), `error.rs` (error
//!   responses), `tls.rs` (TLS on the listener).

pub mod api;
pub mod auth;
pub mod bait;
pub mod conn;
pub mod console;
pub mod error;
mod feeds_http;
mod file_body;
mod guard;
pub mod headers;
pub mod login;
pub mod mail_view;
pub mod ops;
pub mod principal;
pub mod search;
pub mod service;
pub mod state;
pub mod taxii;
pub mod tls;

pub use service::{FeedService, Render, StixRender};
pub use state::{Console, ConsoleSettings, Operations};

use axum::Router;
use axum::routing::get;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Longest request target (path and query) accepted; longer ones get 414. Our URLs are
/// short: a collection id, an object id and a handful of filters. 8 KiB is what common
/// proxies allow, so nothing legitimate is cut.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Most bytes of request header names and values together; more gets 431. hyper already
/// bounds its read buffer (about 400 KiB); this keeps what handlers see far smaller.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Most header fields in one request; more gets 431.
pub const MAX_HEADERS: usize = 64;

/// Time a handler may take to produce the response head (a TAXII page, opening a file).
/// The store reads are bounded by the page and scan limits, so this only trips when the
/// machine is overloaded; the client then gets 503 and may retry.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything on one listener: the console, `/api/v1`, the operations endpoints and, when
/// feeds are configured, TAXII and `/feeds/`.
pub fn app(console: Arc<Console>) -> Router {
    let feeds = console.feeds.clone();
    let own = Router::new()
        .merge(api::routes())
        .merge(console::routes())
        .merge(login::routes())
        .merge(ops::routes())
        .with_state(console);
    let routes = match feeds {
        Some(service) => own.merge(intel_routes().with_state(service)),
        None => own,
    };
    routes
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(guard::limits))
        .layer(axum::middleware::from_fn(headers::security))
}

/// The intel routes alone: TAXII under `/taxii2/`, published files under `/feeds/`.
pub fn router(service: Arc<FeedService>) -> Router {
    intel_routes()
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(guard::limits))
        .with_state(service)
}

fn intel_routes() -> Router<Arc<FeedService>> {
    Router::new()
        .route("/taxii2/", get(taxii::discovery))
        .route("/taxii2/{root}/", get(taxii::api_root))
        .route("/taxii2/{root}/collections/", get(taxii::collections))
        .route("/taxii2/{root}/collections/{id}/", get(taxii::collection))
        .route(
            "/taxii2/{root}/collections/{id}/objects/",
            get(taxii::objects).post(taxii::read_only),
        )
        .route(
            "/taxii2/{root}/collections/{id}/objects/{object}/",
            get(taxii::object).delete(taxii::read_only),
        )
        .route(
            "/taxii2/{root}/collections/{id}/objects/{object}/versions/",
            get(taxii::versions),
        )
        .route(
            "/taxii2/{root}/collections/{id}/manifest/",
            get(taxii::manifest),
        )
        .route("/feeds/", get(feeds_http::index))
        .route("/feeds/{audience}/{file}", get(feeds_http::file))
        .route("/feeds/{audience}/misp/{file}", get(feeds_http::misp_file))
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish. Handlers see the peer address as `ConnectInfo<SocketAddr>` (the login throttle).
/// Connections are capped and time out when idle ([`conn::ConnLimits::default`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_limited(listener, router, conn::ConnLimits::default(), shutdown).await
}

/// [`serve`] with the given connection limits (the bait listener exempts its trusted proxies
/// from the per-client cap).
pub async fn serve_limited(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: conn::ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // `tap_io` only to reuse axum's `ConnectInfo<SocketAddr>` for listeners other than TCP.
    let listener = conn::GuardedListener::new(listener, limits).tap_io(|_| {});
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// [`serve`] over TLS: handshakes with `tls` (see [`tls::server_config`]) before HTTP.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // `tap_io` only to reuse axum's `ConnectInfo<SocketAddr>` for listeners other than TCP.
    let tls = tls::TlsListener::new(listener, tls)?;
    let listener = conn::GuardedListener::new(tls, conn::ConnLimits::default()).tap_io(|_| {});
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
