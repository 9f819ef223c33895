//! The REST API under `/api/v1`: JSON for everything the console shows.
//!
//! Every endpoint needs a [`crate::principal::Principal`]; errors are [`crate::error::JsonError`].

use crate::state::Console;
use axum::Router;
use std::sync::Arc;

/// The `/api/v1` routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
}
