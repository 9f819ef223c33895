//! The analyst's console: server-rendered pages (askama templates under `templates/`).

use crate::state::Console;
use axum::Router;
use std::sync::Arc;

/// The console's pages.
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
}
