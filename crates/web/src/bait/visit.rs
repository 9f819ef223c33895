//! One bait page view: who is asking, whether the throttle lets it mint, the seeds and the
//! visit stored together, the page answered. `HEAD` is answered without minting, other
//! methods get 405.

use super::page::{self, Plan, Shown};
use super::throttle::{Decision, Issued};
use super::{Bait, client};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use model::seed::{MAX_VISIT_FIELD, truncate};
use model::{BaitForm, BaitVisit, NewSeed, SeedOrigin};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

/// The pages' Content-Security-Policy: nothing loads, nothing runs; only the inline style
/// block. Stricter than the console's default, which would refuse the inline style.
pub const BAIT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Visits being stored at once. Each store call is a short SQLite transaction on one shared
/// connection, so more in parallel only park blocking threads on its lock; a flood of visitors
/// from many addresses waits here instead, without holding the blocking pool the console and
/// the store's readers share.
pub const MAX_STORING_VISITS: usize = 8;

static STORING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_STORING_VISITS);

/// Every method on every path that has no route of its own.
pub(super) async fn any(State(bait): State<Arc<Bait>>, req: Request) -> Response {
    match *req.method() {
        Method::GET => view(&bait, req.into_parts().0).await,
        Method::HEAD => html(StatusCode::OK, String::new()),
        _ => {
            let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
    }
}

async fn view(bait: &Arc<Bait>, req: Parts) -> Response {
    let peer = req
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let ip = client::visitor_ip(peer, &req.headers, &bait.settings.trusted_proxies);
    let target = req.uri.path_and_query().map_or("/", |p| p.as_str());
    let plan = Plan::of(target);
    let now = model::now();
    // Two rounds at most: the first may only learn the day's count from the store.
    for _ in 0..2 {
        match bait.throttle.decide(ip, Instant::now(), now.date()) {
            Decision::Mint => return mint(bait, &plan, ip, &req.headers, target, now).await,
            Decision::Replay(Some(issued)) => return page(bait, &plan, Shown::Addresses(&issued)),
            Decision::Replay(None) => return page(bait, &plan, Shown::Nobody),
            Decision::CountDay(day) => {
                let store = bait.store.clone();
                let midnight = now.replace_time(time::Time::MIDNIGHT);
                match tokio::task::spawn_blocking(move || store.bait_visits_since(midnight)).await {
                    Ok(Ok(stored)) => bait.throttle.start_day(day, stored),
                    Ok(Err(e)) => return unavailable(bait, &plan, &e),
                    Err(e) => return unavailable(bait, &plan, &e),
                }
            }
        }
    }
    page(bait, &plan, Shown::Nobody)
}

/// Mints one seed per form, stores them with the visit, and shows them.
async fn mint(
    bait: &Arc<Bait>,
    plan: &Plan,
    ip: IpAddr,
    headers: &HeaderMap,
    target: &str,
    now: model::Timestamp,
) -> Response {
    let id = uuid::Uuid::now_v7();
    let domains = &bait.settings.domains;
    // The random tail of the UUIDv7 spreads visits over the domains.
    let Some(domain) =
        (!domains.is_empty()).then(|| &domains[(id.as_u128() % domains.len() as u128) as usize])
    else {
        bait.throttle.release(ip);
        return page(bait, plan, Shown::Nobody);
    };
    let label = plan.label();
    let seeds: Vec<NewSeed> = BaitForm::ALL
        .iter()
        .map(|f| NewSeed::mint(domain, SeedOrigin::Visit, Some(*f), &label))
        .collect();
    let visit = BaitVisit {
        id,
        at: now,
        ip: ip.to_string(),
        user_agent: field(headers, header::USER_AGENT),
        referer: field(headers, header::REFERER),
        path: truncate(target, MAX_VISIT_FIELD),
    };
    let store = bait.store.clone();
    let (v, s) = (visit.clone(), seeds.clone());
    let Ok(_permit) = STORING.acquire().await else {
        bait.throttle.release(ip);
        return unavailable(bait, plan, &"the store queue is closed");
    };
    match tokio::task::spawn_blocking(move || store.record_bait_visit(&v, &s)).await {
        Ok(Ok(records)) => {
            let issued: Issued = Arc::new(BaitForm::ALL.map(|f| {
                seeds
                    .iter()
                    .find(|s| s.form == Some(f))
                    .map(|s| s.address.clone())
                    .unwrap_or_default()
            }));
            bait.throttle.issued(ip, issued.clone());
            if let Some(o) = &bait.observer {
                o.visited(&visit, &records);
            }
            page(bait, plan, Shown::Addresses(&issued))
        }
        Ok(Err(e)) => {
            bait.throttle.release(ip);
            unavailable(bait, plan, &e)
        }
        Err(e) => {
            bait.throttle.release(ip);
            unavailable(bait, plan, &e)
        }
    }
}

/// A visitor header as recorded: lossy UTF-8, cut to [`MAX_VISIT_FIELD`] bytes, empty when
/// absent.
fn field(headers: &HeaderMap, name: header::HeaderName) -> String {
    headers.get(name).map_or_else(String::new, |v| {
        truncate(&String::from_utf8_lossy(v.as_bytes()), MAX_VISIT_FIELD)
    })
}

fn page(bait: &Bait, plan: &Plan, shown: Shown<'_>) -> Response {
    let status = match shown {
        Shown::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::OK,
    };
    match page::render(&bait.settings.site_name, plan, shown, model::now().year()) {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "bait page could not be rendered");
            html(StatusCode::SERVICE_UNAVAILABLE, String::new())
        }
    }
}

/// The store failed: logged here with its cause, answered with a page without addresses.
fn unavailable(bait: &Bait, plan: &Plan, cause: &dyn std::fmt::Display) -> Response {
    tracing::warn!(error = %cause, "bait visit could not be stored");
    page(bait, plan, Shown::Unavailable)
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, Body::from(body)).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Every view shows its own addresses: no cache may hand them to someone else.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(BAIT_CSP),
    );
    r
}
