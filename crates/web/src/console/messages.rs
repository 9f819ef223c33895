//! `/messages` (search and list), `/messages/{id}` (one message) and `/messages/{id}/body`
//! (its HTML, inert, for the sandboxed frame).

use super::{Nav, blocking, defang, inert, store_error, when};
use crate::error::{ApiError, PlainError};
use crate::login::PageUser;
use crate::mail_view::{self, MailView, visible};
use crate::state::Console;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use model::Sighting;
use model::report::{Artifact, Reason};
use serde::Deserialize;
use std::sync::Arc;
use store::{MessageFilter, MessageRow, RawLookup};

/// Messages on one page of the list.
pub const PAGE_SIZE: usize = 50;

/// Longest paging cursor accepted; the store's cursors are a few dozen bytes.
pub const MAX_CURSOR_BYTES: usize = 128;

/// The Content-Security-Policy of a mail's HTML body: a sandbox (no script, no forms, no
/// navigation, an opaque origin), nothing loaded from anywhere, inline styles and `data:`
/// images and fonts only. It holds even when the body URL is opened directly, outside the
/// frame.
pub const BODY_CSP: &str = "sandbox; default-src 'none'; style-src 'unsafe-inline'; \
                            img-src data:; font-src data:";

/// One message in a list.
#[derive(Debug, Clone)]
pub struct Row {
    pub id: String,
    pub received: String,
    pub verdict: String,
    pub from: String,
    pub subject: String,
    pub peer: String,
    pub size: u64,
}

impl Row {
    pub fn of(m: &MessageRow) -> Row {
        Row {
            id: m.sighting.hyphenated().to_string(),
            received: when(m.received_at),
            verdict: m
                .verdict
                .map(|v| v.as_str().to_owned())
                .unwrap_or_else(|| "pending".into()),
            from: visible(m.from.as_deref().unwrap_or(&m.envelope_from)),
            subject: visible(m.subject.as_deref().unwrap_or_default()),
            peer: m.peer.clone(),
            size: m.size,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    after: Option<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/messages.html")]
struct ListPage {
    nav: Nav,
    q: String,
    max_query: usize,
    rows: Vec<Row>,
    next: Option<String>,
    error: Option<String>,
    notes: Vec<String>,
}

pub(super) async fn list(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Query(query): Query<ListQuery>,
) -> Result<Response, PlainError> {
    let nav = Nav::of(&user, "Messages");
    let mut page = ListPage {
        nav,
        q: query.q.clone(),
        max_query: crate::search::MAX_QUERY_BYTES,
        rows: Vec::new(),
        next: None,
        error: None,
        notes: Vec::new(),
    };
    let filter = match parse_query(&query.q) {
        Ok(f) => f,
        Err(e) => {
            page.error = Some(e);
            return Ok(page.into_response());
        }
    };
    if query
        .after
        .as_ref()
        .is_some_and(|a| a.len() > MAX_CURSOR_BYTES)
    {
        page.error = Some("the paging cursor is too long; start from the first page".into());
        return Ok(page.into_response());
    }
    let after = query.after.clone();
    let found = blocking(&console, move |s| {
        Ok(s.search_messages(&filter, PAGE_SIZE, after.as_deref()))
    })
    .await?;
    match found {
        Ok((rows, next)) => {
            page.rows = rows.iter().map(Row::of).collect();
            page.next = next.map(|c| {
                format!(
                    "/messages?q={}&after={}",
                    super::intel::percent_encode(&query.q),
                    super::intel::percent_encode(&c)
                )
            });
        }
        Err(store::StoreError::Invalid { detail }) => page.error = Some(detail),
        Err(e) => return Err(store_error(e).into()),
    }
    Ok(page.into_response())
}

/// The search language (`from:`, `verdict:`, free text...) into a store filter.
fn parse_query(q: &str) -> Result<MessageFilter, String> {
    crate::search::parse(q).map_err(|e| e.to_string())
}

#[derive(Template, WebTemplate)]
#[template(path = "console/message.html")]
struct MessagePage {
    nav: Nav,
    id: String,
    sha256: String,
    subject: String,
    verdict: String,
    score: Option<u32>,
    received: String,
    helo: String,
    tls: String,
    sighting: Sighting,
    anomalies: Vec<String>,
    reasons: Vec<Reason>,
    view: MailView,
    has_html: bool,
    urls: Vec<String>,
    indicators: Vec<(String, String, String)>,
    artifacts: Vec<Artifact>,
    has_session: bool,
    transcript: Vec<String>,
    transcript_dropped: u64,
    /// The seeds among its recipients: who harvested them, how long before.
    attribution: Vec<super::seeds::Attribution>,
}

/// What one message page reads from the store.
struct Loaded {
    sighting: Sighting,
    report: Option<model::Report>,
    session: Option<model::SessionRecord>,
    view: MailView,
    seeds: Vec<store::SeedAttribution>,
}

fn load(s: &store::Store, id: uuid::Uuid) -> Result<Loaded, ApiError> {
    let sighting = s
        .sighting(id)
        .map_err(store_error)?
        .ok_or_else(ApiError::not_found)?;
    let report = s.report(id).map_err(store_error)?;
    let session = s.session(sighting.session_id).map_err(store_error)?;
    let seeds = s.seeds_of_sighting(id).map_err(store_error)?;
    let view = match s.raw(&sighting.message_id).map_err(store_error)? {
        RawLookup::Found(raw) => mail_view::read(&raw),
        RawLookup::Purged => MailView {
            notes: vec!["retention removed this message's raw bytes; the report remains".into()],
            ..MailView::default()
        },
        RawLookup::Unknown => MailView {
            notes: vec!["the raw bytes of this message are not in the store".into()],
            ..MailView::default()
        },
    };
    Ok(Loaded {
        sighting,
        report,
        session,
        view,
        seeds,
    })
}

fn sighting_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id)
        .map_err(|_| ApiError::bad_request("a message is named by its sighting UUID"))
}

pub(super) async fn view(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Path(id): Path<String>,
) -> Result<Response, PlainError> {
    let id = sighting_id(&id)?;
    let loaded = blocking(&console, move |s| load(s, id)).await?;
    Ok(page(Nav::of(&user, "Messages"), loaded).into_response())
}

fn page(nav: Nav, l: Loaded) -> MessagePage {
    let Loaded {
        sighting,
        report,
        session,
        view,
        seeds,
    } = l;
    let (subject, verdict, score, reasons, urls, indicators, artifacts) = match report {
        Some(r) => (
            visible(r.headers.subject.as_deref().unwrap_or_default()),
            r.verdict.class.as_str().to_owned(),
            Some(r.verdict.score),
            r.verdict.reasons,
            r.urls
                .iter()
                .map(|u| visible(&defang::defang_url(&u.url)))
                .collect(),
            r.indicators
                .iter()
                .map(|i| {
                    (
                        i.kind.as_str().to_owned(),
                        visible(&defang::defang(i.kind, &i.value)),
                        super::intel::indicator_link(i.kind, &i.value),
                    )
                })
                .collect(),
            r.artifacts
                .into_iter()
                .map(|mut a| {
                    a.path = visible(&a.path);
                    a.name = a.name.map(|n| visible(&n));
                    a
                })
                .collect(),
        ),
        None => (
            view.headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("subject"))
                .map(|h| h.value.clone())
                .unwrap_or_default(),
            "pending".to_owned(),
            None,
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        ),
    };
    let (transcript, dropped) = match &session {
        Some(s) => (
            s.transcript
                .lines
                .iter()
                .map(|l| {
                    let dir = match l.dir {
                        model::Direction::Client => "C:",
                        model::Direction::Server => "S:",
                    };
                    format!("{:>7} ms {dir} {}", l.ms, l.line)
                })
                .collect(),
            s.transcript.dropped,
        ),
        None => (Vec::new(), 0),
    };
    MessagePage {
        nav,
        id: sighting.id.hyphenated().to_string(),
        sha256: sighting.message_id.to_hex(),
        subject: if subject.is_empty() {
            "(no subject)".into()
        } else {
            subject
        },
        verdict,
        score,
        received: when(sighting.received_at),
        helo: sighting.helo.clone().unwrap_or_default(),
        tls: sighting
            .tls
            .as_ref()
            .map(|t| format!("{} {}", t.version, t.cipher))
            .unwrap_or_else(|| "none".into()),
        anomalies: sighting
            .anomalies
            .iter()
            .map(|a| format!("{:?}: {}", a.kind, a.detail))
            .collect(),
        reasons,
        has_html: view.html.is_some(),
        view,
        urls,
        indicators,
        artifacts,
        has_session: session.is_some(),
        transcript,
        transcript_dropped: dropped,
        attribution: seeds.iter().map(super::seeds::Attribution::of).collect(),
        sighting,
    }
}

/// The mail's HTML body, inert, under [`BODY_CSP`]. Only ever shown in the sandboxed frame.
pub(super) async fn body(
    State(console): State<Arc<Console>>,
    _user: PageUser,
    Path(id): Path<String>,
) -> Result<Response, PlainError> {
    let id = sighting_id(&id)?;
    let html = blocking(&console, move |s| {
        let sighting = s
            .sighting(id)
            .map_err(store_error)?
            .ok_or_else(ApiError::not_found)?;
        match s.raw(&sighting.message_id).map_err(store_error)? {
            RawLookup::Found(raw) => Ok(mail_view::read(&raw).html),
            _ => Ok(None),
        }
    })
    .await?
    .ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "Not Found",
            "this message has no HTML body",
        )
    })?;
    let inert = tokio::task::spawn_blocking(move || inert::make_inert(&html))
        .await
        .map_err(|e| ApiError::internal("html rewrite task", &e))?;
    let mut r = inert.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(BODY_CSP),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    Ok(r)
}
