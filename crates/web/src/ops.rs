//! Operations endpoints: `/metrics` (Prometheus text format 0.0.4), `/healthz`, `/readyz`.
//!
//! All three are open by default: Prometheus and orchestrators scrape them without a login,
//! and the listener is loopback unless the operator says otherwise. `[http] metrics_token`
//! puts `/metrics` behind `Authorization: Bearer <token>`; the probes stay open (they tell
//! nothing but "up").
//!
//! `/metrics` has two parts. The store's gauges are read here, from figures that cost no
//! table scan ([`store::Store::usage`], [`store::Store::pressure`]). Everything the process
//! counts (SMTP, analysis, campaigns, alerts, feeds) comes from
//! [`Operations::render_metrics`](crate::Operations), under other names.

use crate::principal::MAX_CREDENTIAL_BYTES;
use crate::state::Console;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use store::Pressure;

/// The media type of the Prometheus text exposition format.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How long `/readyz` waits for the store's trivial read. A store that takes longer to answer
/// `SELECT 1` is stuck (a long write lock, a dying disk): not ready. Well under the usual 5 s
/// probe timeout of orchestrators, so they get our 503 with its reason, not their timeout.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The operations routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is alive and its HTTP side answers.
async fn healthz() -> Response {
    text(StatusCode::OK, "ok\n".to_string())
}

/// 200 when the process is ready (its own check) and the store answers a trivial read and
/// has not just failed a write; else 503 with the reason. Backlog and disk pressure do not
/// make the trap unready: it still answers SMTP, with `452` as designed.
async fn readyz(State(console): State<Arc<Console>>) -> Response {
    match not_ready(&console).await {
        None => text(StatusCode::OK, "ready\n".to_string()),
        Some(why) => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        ),
    }
}

async fn not_ready(console: &Arc<Console>) -> Option<String> {
    if let Some(ops) = &console.operations
        && let Err(why) = ops.ready()
    {
        return Some(why);
    }
    if console.store.pressure() == Pressure::Failed {
        return Some("the store's last write failed".into());
    }
    let store = Arc::clone(&console.store);
    let ping = tokio::task::spawn_blocking(move || store.ping());
    match tokio::time::timeout(READY_TIMEOUT, ping).await {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(e))) => Some(format!("the store does not answer: {e}")),
        Ok(Err(e)) => Some(format!("the store check failed: {e}")),
        Err(_) => Some(format!(
            "the store did not answer within {} s",
            READY_TIMEOUT.as_secs()
        )),
    }
}

async fn metrics(State(console): State<Arc<Console>>, headers: HeaderMap) -> Response {
    if let Some(expected) = &console.settings.metrics_token
        && !bearer_matches(&headers, expected)
    {
        let mut r = text(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: /metrics needs `Authorization: Bearer <metrics_token>`\n".to_string(),
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"spamhattan metrics\""),
        );
        return r;
    }
    let c = Arc::clone(&console);
    let rendered = tokio::task::spawn_blocking(move || {
        let mut body = store_gauges(&c.store);
        if let Some(ops) = &c.operations {
            body.push_str(&ops.render_metrics());
        }
        body
    })
    .await;
    match rendered {
        Ok(body) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(METRICS_CONTENT_TYPE),
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "rendering /metrics failed");
            text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "metrics could not be rendered; see the server log\n".to_string(),
            )
        }
    }
}

/// One `Authorization: Bearer` header whose token hashes to `expected`. Digests are compared
/// with a fold that never exits early, so the time taken says nothing about the token.
fn bearer_matches(headers: &HeaderMap, expected: &[u8; 32]) -> bool {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    if value.len() > MAX_CREDENTIAL_BYTES {
        return false;
    }
    let Ok(value) = value.to_str() else {
        return false;
    };
    let Some((scheme, token)) = value.split_once(' ') else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return false;
    }
    let presented: [u8; 32] = Sha256::digest(token.trim().as_bytes()).into();
    presented
        .iter()
        .zip(expected.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// The store's gauges in the text format. A store that cannot be read leaves them out (and
/// says so in the log): the process's own counters are still worth a scrape.
pub fn store_gauges(store: &store::Store) -> String {
    let mut out = String::with_capacity(2048);
    let cfg = store.config();
    let pressure = store.pressure();
    family(
        &mut out,
        "spamhattan_store_pressure",
        "What the trap would answer MAIL now: 1 for the current state (normal, backlog and disk get 452, failed 451).",
    );
    for (state, p) in [
        ("normal", Pressure::Normal),
        ("backlog", Pressure::Backlog),
        ("disk", Pressure::Disk),
        ("failed", Pressure::Failed),
    ] {
        let _ = writeln!(
            out,
            "spamhattan_store_pressure{{state=\"{state}\"}} {}",
            u8::from(pressure == p)
        );
    }
    gauge(
        &mut out,
        "spamhattan_analysis_queue_limit",
        "Pending analysis jobs beyond which MAIL gets 452 ([store] max_backlog).",
        cfg.max_backlog,
    );
    gauge(
        &mut out,
        "spamhattan_store_disk_free_min_bytes",
        "Free disk below which MAIL gets 452 ([store] min_free_bytes).",
        cfg.min_free_bytes,
    );
    let usage = match store.usage() {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "store figures unavailable for /metrics");
            return out;
        }
    };
    gauge(
        &mut out,
        "spamhattan_analysis_queue_depth",
        &format!(
            "Analysis jobs waiting or being analysed (counted up to {}).",
            store::MAX_COUNTED_JOBS
        ),
        usage.pending_jobs,
    );
    gauge(
        &mut out,
        "spamhattan_store_spool_segments",
        "Segment files in the raw-message spool.",
        usage.segments,
    );
    gauge(
        &mut out,
        "spamhattan_store_spool_bytes",
        "Bytes of the spool's segment files on disk.",
        usage.segment_bytes,
    );
    gauge(
        &mut out,
        "spamhattan_store_sqlite_bytes",
        "Bytes of the SQLite index (database, WAL and shared-memory files).",
        usage.sqlite_bytes,
    );
    if let Some(free) = usage.disk_free_bytes {
        gauge(
            &mut out,
            "spamhattan_store_disk_free_bytes",
            "Free bytes for unprivileged users on the store's file system.",
            free,
        );
    }
    let dropped = "spamhattan_store_session_records_dropped_total";
    let _ = writeln!(
        out,
        "# HELP {dropped} Session records not stored: store queue full, free disk below min_free_bytes, or their write failed."
    );
    let _ = writeln!(out, "# TYPE {dropped} counter");
    let _ = writeln!(out, "{dropped} {}", usage.dropped_session_records);
    out
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

fn gauge(out: &mut String, name: &str, help: &str, value: u64) {
    family(out, name, help);
    let _ = writeln!(out, "{name} {value}");
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            h.append(header::AUTHORIZATION, v);
        }
        h
    }

    #[test]
    fn only_the_configured_bearer_token_matches() {
        let expected: [u8; 32] = Sha256::digest(b"s3cret").into();
        assert!(bearer_matches(&with_auth("Bearer s3cret"), &expected));
        assert!(bearer_matches(&with_auth("bearer  s3cret "), &expected));
        assert!(!bearer_matches(&with_auth("Bearer s3cre"), &expected));
        assert!(!bearer_matches(&with_auth("Basic s3cret"), &expected));
        assert!(!bearer_matches(&with_auth("s3cret"), &expected));
        assert!(!bearer_matches(&HeaderMap::new(), &expected));
        let mut twice = with_auth("Bearer s3cret");
        twice.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        assert!(!bearer_matches(&twice, &expected), "two headers: refused");
    }
}
