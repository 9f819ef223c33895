//! `GET /login`, `POST /login`, `POST /logout`.

use super::page::{safe_next, see_other};
use super::session::{clear_cookie, new_secret, set_cookie};
use super::throttle::{Key, Throttle};
use super::{CSRF_HEADER, password};
use crate::error::{ApiError, PlainError};
use crate::principal::{self, SESSION_COOKIE, Via};
use crate::state::Console;
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// The message for a wrong password and for an unknown user alike.
pub const WRONG_CREDENTIALS: &str = "wrong user name or password";

/// Password checks running at once. Each argon2 check holds 19 MiB and a core for tens of
/// milliseconds; without a cap, a flood of logins from many addresses (each under its
/// throttle) would take the blocking pool's 512 threads and gigabytes. Others queue here,
/// bounded by the request timeout.
pub const MAX_CONCURRENT_CHECKS: usize = 4;

static CHECKS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_CONCURRENT_CHECKS);

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    next: &'a str,
    user: &'a str,
    error: Option<&'a str>,
    no_users: bool,
}

#[derive(Debug, Deserialize)]
pub(super) struct NextQuery {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct CsrfForm {
    csrf: Option<String>,
}

fn page(
    status: StatusCode,
    next: &str,
    user: &str,
    error: Option<&str>,
    no_users: bool,
) -> Response {
    let html = LoginPage {
        next: safe_next(next),
        user,
        error,
        no_users,
    }
    .render();
    match html {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => PlainError(ApiError::internal("login page", &e)).into_response(),
    }
}

async fn no_users(console: &Arc<Console>) -> bool {
    let store = Arc::clone(&console.store);
    matches!(
        tokio::task::spawn_blocking(move || store.users()).await,
        Ok(Ok(users)) if users.is_empty()
    )
}

pub(super) async fn form(
    State(console): State<Arc<Console>>,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = q.next.as_deref().unwrap_or("/");
    page(StatusCode::OK, next, "", None, no_users(&console).await)
}

/// A login form posted from another site, or `Origin`/`Referer` naming another host. The
/// `SameSite=Strict` cookie already keeps cross-site requests from riding a session; this
/// also stops a hostile page from logging the analyst into an account of its choosing.
fn cross_origin(headers: &HeaderMap) -> bool {
    // Browsers that send Fetch Metadata say where the form came from outright. Our pages use
    // `Referrer-Policy: no-referrer`, under which Chromium posts forms with `Origin: null`, so
    // this header is the only reliable signal there. Browsers that do not send it fall back
    // to the Origin/Referer comparison.
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let named = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER));
    match named {
        None => false,
        Some(v) => {
            let authority = v
                .to_str()
                .ok()
                .and_then(|u| u.split_once("://"))
                .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(""));
            match (authority, host) {
                (Some(a), Some(h)) => !a.eq_ignore_ascii_case(h),
                _ => true,
            }
        }
    }
}

pub(super) async fn login(
    State(console): State<Arc<Console>>,
    Extension(throttle): Extension<Arc<Throttle>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if cross_origin(&headers) {
        return PlainError(ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "login forms are accepted from this site's own pages only",
        ))
        .into_response();
    }
    let keys = [
        Key::client(peer.map(|Extension(ConnectInfo(a))| a.ip())),
        Key::user(&f.user),
    ];
    if let Err(wait) = throttle.begin(&keys, Instant::now()) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        let unit = if minutes == 1 { "minute" } else { "minutes" };
        let message = format!("too many failed logins; try again in {minutes} {unit}");
        let mut r = page(
            StatusCode::TOO_MANY_REQUESTS,
            &f.next,
            &f.user,
            Some(&message),
            false,
        );
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        return r;
    }
    let Ok(slot) = CHECKS.acquire().await else {
        return PlainError(ApiError::internal(
            "login",
            &"password check semaphore closed",
        ))
        .into_response();
    };
    let store = Arc::clone(&console.store);
    let (user, password) = (f.user.clone(), f.password);
    let checked = tokio::task::spawn_blocking(move || -> Result<_, store::StoreError> {
        // Held by the check itself: a client that hangs up does not free it early.
        let _slot = slot;
        match store.user_with_hash(&user)? {
            Some((found, phc)) if password::verify(&password, &phc) => Ok(Some(found.name)),
            Some(_) => Ok(None),
            None => {
                password::burn(&password);
                Ok(None)
            }
        }
    })
    .await;
    let name = match checked {
        Ok(Ok(Some(name))) => name,
        Ok(Ok(None)) => {
            let typed: String = f.user.chars().take(store::MAX_ACCOUNT_NAME).collect();
            tracing::info!(user = %typed.escape_debug(), "console login failed");
            return page(
                StatusCode::UNAUTHORIZED,
                &f.next,
                &f.user,
                Some(WRONG_CREDENTIALS),
                false,
            );
        }
        Ok(Err(e)) => {
            return PlainError(ApiError::internal("login", &e)).into_response();
        }
        Err(e) => return PlainError(ApiError::internal("login task", &e)).into_response(),
    };
    throttle.forgive(&keys);
    let replaced = principal::cookie(&headers, SESSION_COOKIE).map(principal::digest);
    match start_session(&console, &name, replaced).await {
        Ok(cookie) => {
            tracing::info!(user = %name, "console login");
            let mut r = see_other(safe_next(&f.next));
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => PlainError(e).into_response(),
    }
}

/// Records a new session (always a fresh id: a session id from the request is never
/// reused, so one planted before login is worthless), ends the one the request came with,
/// and returns the new `Set-Cookie` value.
async fn start_session(
    console: &Arc<Console>,
    user: &str,
    replaced: Option<[u8; 32]>,
) -> Result<String, ApiError> {
    let id = new_secret().map_err(|e| ApiError::internal("random session id", &e))?;
    let csrf = new_secret().map_err(|e| ApiError::internal("random CSRF token", &e))?;
    let ttl = console.settings.session_ttl;
    let expires = model::now() + ttl;
    let (store, user, digest) = (
        Arc::clone(&console.store),
        user.to_string(),
        principal::digest(&id),
    );
    tokio::task::spawn_blocking(move || {
        if let Some(old) = replaced {
            store.delete_web_session(&old)?;
        }
        store.create_web_session(&digest, &user, &csrf, expires)
    })
    .await
    .map_err(|e| ApiError::internal("session task", &e))?
    .map_err(|e| ApiError::internal("session", &e))?;
    Ok(set_cookie(&id, ttl, console.settings.secure_cookies))
}

pub(super) async fn logout(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let secure = console.settings.secure_cookies;
    let done = || {
        let mut r = see_other("/login");
        if let Ok(v) = HeaderValue::from_str(&clear_cookie(secure)) {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
        r
    };
    let Some(id) = principal::cookie(&headers, SESSION_COOKIE).map(str::to_string) else {
        return done();
    };
    let shared = Arc::clone(&console);
    let h = headers.clone();
    let who = match tokio::task::spawn_blocking(move || principal::authenticate(&shared, &h)).await
    {
        Ok(Ok(Some(p))) => p,
        // A stale cookie: nothing to end, just drop it.
        Ok(Ok(None)) => return done(),
        Ok(Err(e)) if e.status == StatusCode::UNAUTHORIZED => return done(),
        Ok(Err(e)) => return PlainError(e).into_response(),
        Err(e) => return PlainError(ApiError::internal("logout task", &e)).into_response(),
    };
    if who.via == Via::Token {
        return done();
    }
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| form.ok().and_then(|Form(f)| f.csrf));
    if let Err(e) = who.check_csrf(presented.as_deref()) {
        return PlainError(e).into_response();
    }
    let store = Arc::clone(&console.store);
    let digest = principal::digest(&id);
    match tokio::task::spawn_blocking(move || store.delete_web_session(&digest)).await {
        Ok(Ok(())) => {
            tracing::info!(user = %who.name, "console logout");
            done()
        }
        Ok(Err(e)) => PlainError(ApiError::internal("logout", &e)).into_response(),
        Err(e) => PlainError(ApiError::internal("logout task", &e)).into_response(),
    }
}
