//! The HTTP face of spamhattan's intel: a read-only TAXII 2.1 server and the published feed
//! files under `/feeds/`.
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
//! Layout: `service.rs` (state, the STIX renderer seam), `auth.rs`, `guard.rs` (request size
//! and time limits), `error.rs` (error responses), `feeds_http.rs` and `file_body.rs`
//! (`/feeds/`), `taxii/` (media types, query parsing, paging tokens, collection content,
//! handlers).

pub mod auth;
pub mod error;
mod feeds_http;
mod file_body;
mod guard;
pub mod service;
pub mod taxii;

pub use service::{FeedService, Render, StixRender};

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

/// All routes: TAXII under `/taxii2/`, published files under `/feeds/`.
pub fn router(service: Arc<FeedService>) -> Router {
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
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn(guard::limits))
        .with_state(service)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
