//! Console logins: password check, sessions, logout, the failed-login throttle, and
//! [`PageUser`] for console pages.
//!
//! A login checks the user's argon2id hash (`password.rs`) in a blocking task, after the
//! throttle (`throttle.rs`) has counted the attempt; an unknown name costs the same hash.
//! Success stores a new session by its SHA-256 with a random CSRF token and sets the
//! `spamhattan_session` cookie (`session.rs`). Every state-changing request made with that
//! cookie must echo the token as form field [`CSRF_FIELD`] or header [`CSRF_HEADER`]
//! ([`crate::principal::Principal::check_csrf`]). Pages take [`PageUser`] (`page.rs`),
//! which sends anonymous visitors to `/login?next=...`, never to another site.

mod handlers;
mod page;
pub mod password;
mod session;
mod throttle;

pub use handlers::{MAX_CONCURRENT_CHECKS, WRONG_CREDENTIALS};
pub use page::{MAX_NEXT_BYTES, PageUser, login_redirect, safe_next};
pub use session::{API_TOKEN_PREFIX, SECRET_BYTES, new_api_token, new_secret};
pub use throttle::{FAILURE_WINDOW, MAX_FAILURES, MAX_TRACKED_KEYS};

use crate::state::Console;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Extension, Router};
use std::sync::Arc;

/// Name of the form field that carries the session's CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// Header that carries the session's CSRF token on script requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Largest login or logout form accepted (413 beyond). A name, a password of at most
/// [`password::MAX_PASSWORD_BYTES`], a `next` path of at most [`MAX_NEXT_BYTES`] and a token
/// fit with room to spare, percent-encoded.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// `/login` and `/logout`, with one throttle for the life of the router.
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/login", get(handlers::form).post(handlers::login))
        .route("/logout", post(handlers::logout))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(Extension(Arc::new(throttle::Throttle::default())))
}
