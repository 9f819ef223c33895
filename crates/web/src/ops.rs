//! Operations endpoints: `/metrics` (Prometheus text format), `/healthz`, `/readyz`.

use crate::state::Console;
use axum::Router;
use std::sync::Arc;

/// The operations routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
}
