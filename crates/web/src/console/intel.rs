//! `/campaigns`, `/campaigns/{id}`, `/indicators`, `/indicators/{kind}/{value}`, `/alerts` and
//! `/feeds`: what the trap learned, read from the store.

use super::chart::{self, Chart, Column};
use super::{Nav, blocking, defang, store_error, when};
use crate::error::{ApiError, PlainError};
use crate::login::PageUser;
use crate::state::Console;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use model::report::IndicatorKind;
use model::{Campaign, CampaignId};
use serde::Deserialize;
use std::sync::Arc;
use store::{CampaignQuery, IndicatorQuery};

/// Rows on the campaign, indicator and alert lists.
pub const LIST_ROWS: usize = 100;

/// Members listed on a campaign page (the API pages through all of them).
pub const MEMBERS_SHOWN: usize = 100;

/// Values shown per facet on a campaign page.
pub const FACET_VALUES: usize = 20;

/// Messages listed on an indicator page.
pub const INDICATOR_SIGHTINGS: usize = 100;

/// Hours of timeline drawn for a campaign (most recent activity, hourly buckets).
pub const TIMELINE_HOURS: usize = 24 * 14;

/// Bytes of an indicator value accepted in a URL (the longest URL the analysis keeps is
/// shorter).
pub const MAX_INDICATOR_BYTES: usize = 4096;

/// Percent-encodes everything but unreserved characters: safe in a path segment, a query
/// value and (after askama's escaping) an attribute.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The console page of an indicator (never the indicator itself).
pub fn indicator_link(kind: IndicatorKind, value: &str) -> String {
    format!("/indicators/{}/{}", kind.as_str(), percent_encode(value))
}

#[derive(Debug, Clone)]
pub struct CampaignRow {
    pub id: CampaignId,
    pub label: String,
    pub verdict: String,
    pub messages: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub status: String,
}

impl CampaignRow {
    pub fn of(c: &Campaign) -> CampaignRow {
        CampaignRow {
            id: c.id,
            label: c.label.clone(),
            verdict: c.verdict.as_str().to_owned(),
            messages: c.messages,
            first_seen: when(c.first_seen),
            last_seen: when(c.last_seen),
            status: c.status.as_str().to_owned(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console/campaigns.html")]
struct CampaignsPage {
    nav: Nav,
    rows: Vec<CampaignRow>,
}

pub(super) async fn campaigns(
    State(console): State<Arc<Console>>,
    user: PageUser,
) -> Result<Response, PlainError> {
    let list = blocking(&console, |s| {
        s.campaigns(&CampaignQuery {
            limit: LIST_ROWS,
            facet_values: 0,
            ..CampaignQuery::default()
        })
        .map_err(store_error)
    })
    .await?;
    Ok(CampaignsPage {
        nav: Nav::of(&user, "Campaigns"),
        rows: list.iter().map(CampaignRow::of).collect(),
    }
    .into_response())
}

#[derive(Debug, Clone)]
pub struct MemberRow {
    pub id: String,
    pub received: String,
    pub verdict: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/campaign.html")]
struct CampaignPage {
    nav: Nav,
    c: CampaignRow,
    uuid: String,
    notes: String,
    chart: Chart,
    facets: Vec<(String, Vec<(String, u64)>)>,
    members: Vec<MemberRow>,
}

pub(super) async fn campaign(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Path(id): Path<String>,
) -> Result<Response, PlainError> {
    let id: CampaignId = id
        .parse()
        .map_err(|_| ApiError::bad_request("a campaign is named by its number"))?;
    let (c, members) = blocking(&console, move |s| {
        let c = s
            .campaign(id)
            .map_err(store_error)?
            .ok_or_else(ApiError::not_found)?;
        let members = s.campaign_members(id, MEMBERS_SHOWN).map_err(store_error)?;
        Ok((c, members))
    })
    .await?;
    let skip = c.rate.len().saturating_sub(TIMELINE_HOURS);
    let columns: Vec<Column> = c.rate[skip..]
        .iter()
        .map(|p| Column {
            label: when(p.hour)[5..13].to_owned(),
            segments: vec![("messages", p.messages)],
        })
        .collect();
    let facets = c
        .facets
        .iter()
        .map(|(name, values)| {
            let kind = match name.as_str() {
                "url" | "urls" => Some(IndicatorKind::Url),
                "domain" | "domains" | "url-domain" => Some(IndicatorKind::Domain),
                "ip" | "source-ip" => Some(IndicatorKind::Ip),
                "sender" | "email" => Some(IndicatorKind::Email),
                _ => None,
            };
            let shown = values
                .iter()
                .take(FACET_VALUES)
                .map(|v| {
                    let text = match kind {
                        Some(k) => defang::defang(k, &v.value),
                        None => v.value.clone(),
                    };
                    (text, v.count)
                })
                .collect();
            (name.clone(), shown)
        })
        .collect();
    Ok(CampaignPage {
        nav: Nav::of(&user, "Campaigns"),
        chart: chart::stacked("Messages per hour", &columns, false),
        uuid: c.uuid.hyphenated().to_string(),
        notes: c.notes.clone(),
        c: CampaignRow::of(&c),
        facets,
        members: members
            .iter()
            .map(|m| MemberRow {
                id: m.sighting.hyphenated().to_string(),
                received: when(m.received_at),
                verdict: m.class.clone(),
            })
            .collect(),
    }
    .into_response())
}

/// The campaign page's label form (admins only).
#[derive(Debug, Deserialize)]
pub(super) struct LabelForm {
    csrf: String,
    label: String,
    notes: String,
}

/// `POST /campaigns/{id}/label`: an admin names and annotates a campaign from its page.
/// Same checks as `PATCH /api/v1/campaigns/{id}`; empty fields clear the label or notes.
pub(super) async fn campaign_label(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Path(id): Path<String>,
    axum::Form(f): axum::Form<LabelForm>,
) -> Result<Response, PlainError> {
    use crate::api::admin::{MAX_LABEL_CHARS, MAX_NOTES_CHARS, clean};
    if !user.is_admin() {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "Forbidden",
            "labelling campaigns needs the admin role",
        )
        .into());
    }
    user.principal().check_csrf(Some(&f.csrf))?;
    let id: CampaignId = id
        .parse()
        .map_err(|_| ApiError::bad_request("a campaign is named by its number"))?;
    let label = clean("label", Some(f.label.trim().to_owned()), MAX_LABEL_CHARS)?;
    let notes = clean("notes", Some(f.notes), MAX_NOTES_CHARS)?;
    blocking(&console, move |s| {
        if s.annotate_campaign(id, label.as_deref(), notes.as_deref())
            .map_err(store_error)?
        {
            Ok(())
        } else {
            Err(ApiError::not_found())
        }
    })
    .await?;
    tracing::info!(admin = %user.name(), campaign = id, "campaign annotated");
    Ok(axum::response::Redirect::to(&format!("/campaigns/{id}")).into_response())
}

#[derive(Debug, Clone)]
pub struct IndicatorRow {
    pub kind: String,
    pub value: String,
    pub link: String,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
}

impl IndicatorRow {
    fn of(r: &store::IndicatorRecord) -> IndicatorRow {
        let kind = IndicatorKind::parse(&r.kind);
        IndicatorRow {
            kind: r.kind.clone(),
            value: crate::mail_view::visible(&match kind {
                Some(k) => defang::defang(k, &r.value),
                None => r.value.clone(),
            }),
            link: kind
                .map(|k| indicator_link(k, &r.value))
                .unwrap_or_else(|| "/indicators".into()),
            count: r.count,
            first_seen: when(r.first_seen),
            last_seen: when(r.last_seen),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct KindQuery {
    #[serde(default)]
    kind: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/indicators.html")]
struct IndicatorsPage {
    nav: Nav,
    kinds: Vec<&'static str>,
    kind: String,
    error: Option<String>,
    rows: Vec<IndicatorRow>,
}

pub(super) async fn indicators(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Query(q): Query<KindQuery>,
) -> Result<Response, PlainError> {
    let mut page = IndicatorsPage {
        nav: Nav::of(&user, "Indicators"),
        kinds: IndicatorKind::ALL.iter().map(|k| k.as_str()).collect(),
        kind: String::new(),
        error: None,
        rows: Vec::new(),
    };
    let kind = if q.kind.is_empty() {
        None
    } else {
        match IndicatorKind::parse(&q.kind) {
            Some(k) => Some(k),
            None => {
                page.error = Some(format!(
                    "unknown indicator kind; use one of: {}",
                    page.kinds.join(", ")
                ));
                return Ok(page.into_response());
            }
        }
    };
    page.kind = kind.map(|k| k.as_str().to_owned()).unwrap_or_default();
    let list = blocking(&console, move |s| {
        s.indicators(&IndicatorQuery {
            kind,
            since: None,
            limit: LIST_ROWS,
            sightings_per_indicator: 0,
        })
        .map_err(store_error)
    })
    .await?;
    page.rows = list.iter().map(IndicatorRow::of).collect();
    Ok(page.into_response())
}

#[derive(Template, WebTemplate)]
#[template(path = "console/indicator.html")]
struct IndicatorPage {
    nav: Nav,
    i: IndicatorRow,
    sightings: Vec<String>,
}

pub(super) async fn indicator(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Path((kind, value)): Path<(String, String)>,
) -> Result<Response, PlainError> {
    let kind = IndicatorKind::parse(&kind)
        .ok_or_else(|| ApiError::bad_request("unknown indicator kind"))?;
    if value.len() > MAX_INDICATOR_BYTES {
        return Err(ApiError::bad_request("the indicator value is too long").into());
    }
    let r = blocking(&console, move |s| {
        s.indicator(kind, &value, INDICATOR_SIGHTINGS)
            .map_err(store_error)?
            .ok_or_else(ApiError::not_found)
    })
    .await?;
    Ok(IndicatorPage {
        nav: Nav::of(&user, "Indicators"),
        i: IndicatorRow::of(&r),
        sightings: r
            .sightings
            .iter()
            .map(|s| s.hyphenated().to_string())
            .collect(),
    }
    .into_response())
}

#[derive(Debug, Clone)]
pub struct AlertRow {
    pub created: String,
    pub severity: String,
    pub rule: String,
    pub title: String,
    pub campaign: Option<CampaignId>,
    pub deliveries: String,
}

impl AlertRow {
    pub fn of(a: &store::AlertRecord) -> AlertRow {
        AlertRow {
            created: when(a.alert.created_at),
            severity: a.alert.severity.as_str().to_owned(),
            rule: a.alert.rule.clone(),
            title: a.alert.title.clone(),
            campaign: a.alert.campaign,
            deliveries: a
                .deliveries
                .iter()
                .map(|d| format!("{}: {}", d.receiver, d.state))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "console/alerts.html")]
struct AlertsPage {
    nav: Nav,
    rows: Vec<AlertRow>,
}

pub(super) async fn alerts(
    State(console): State<Arc<Console>>,
    user: PageUser,
) -> Result<Response, PlainError> {
    let list = blocking(&console, |s| s.alerts(None, LIST_ROWS).map_err(store_error)).await?;
    Ok(AlertsPage {
        nav: Nav::of(&user, "Alerts"),
        rows: list.iter().map(AlertRow::of).collect(),
    }
    .into_response())
}

#[derive(Debug, Clone)]
pub struct AudienceRow {
    pub name: String,
    pub tlp: String,
    pub access: String,
    /// Paths under `/feeds/<name>/` that are published now.
    pub files: Vec<String>,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/feeds.html")]
struct FeedsPage {
    nav: Nav,
    configured: bool,
    audiences: Vec<AudienceRow>,
}

pub(super) async fn feeds(
    State(console): State<Arc<Console>>,
    user: PageUser,
) -> Result<Response, PlainError> {
    let service = console.feeds.clone();
    let audiences = match &service {
        None => Vec::new(),
        Some(svc) => {
            let svc = Arc::clone(svc);
            tokio::task::spawn_blocking(move || audience_rows(&svc))
                .await
                .map_err(|e| ApiError::internal("feeds page task", &e))?
        }
    };
    Ok(FeedsPage {
        nav: Nav::of(&user, "Feeds"),
        configured: service.is_some(),
        audiences,
    }
    .into_response())
}

fn audience_rows(svc: &crate::FeedService) -> Vec<AudienceRow> {
    svc.audiences
        .iter()
        .map(|a| {
            let mut access = Vec::new();
            if a.anonymous {
                access.push("anyone".to_owned());
            }
            if !a.users.is_empty() {
                access.push(format!("{} users", a.users.len()));
            }
            if !a.tokens.is_empty() {
                access.push(format!("{} tokens", a.tokens.len()));
            }
            let files = a
                .formats
                .iter()
                .map(|f| {
                    if f.is_directory() {
                        format!("{}/manifest.json", f.file_name())
                    } else {
                        f.file_name().to_owned()
                    }
                })
                .filter(|f| {
                    svc.published
                        .as_ref()
                        .is_some_and(|dir| dir.join(&a.name).join(f).exists())
                })
                .collect();
            AudienceRow {
                name: a.name.clone(),
                tlp: a.tlp.as_str().to_owned(),
                access: access.join(", "),
                files,
            }
        })
        .collect()
}
