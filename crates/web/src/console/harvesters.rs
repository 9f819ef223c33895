//! `/harvesters` (bait page visitors, latest first) and `/harvesters/{ip}` (one of them:
//! visits, user agents, pages, the address forms its scraper read, delays to the first spam,
//! the campaigns and networks that used its lists, its seeds).

use super::intel::percent_encode;
use super::seeds::{SeedRow, VisitLine, campaign_numbers, harvester_link, span};
use super::{Nav, blocking, store_error, when};
use crate::api::seeds::ip_param;
use crate::error::{ApiError, PlainError};
use crate::login::PageUser;
use crate::mail_view::visible;
use crate::state::Console;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use store::{Count, HarvesterRow};

/// Harvesters on one page of the list.
pub const PAGE_SIZE: usize = 100;

/// Longest paging cursor accepted (an RFC 3339 time with nanoseconds is 35 bytes).
pub const MAX_CURSOR_BYTES: usize = 64;

#[derive(Debug, Clone)]
pub struct Row {
    pub ip: String,
    pub link: String,
    pub visits: u64,
    pub first_visit: String,
    pub last_visit: String,
    pub user_agent: String,
    pub seeds: u64,
    pub seeds_hit: u64,
    pub messages: u64,
}

impl Row {
    fn of(h: &HarvesterRow) -> Row {
        Row {
            ip: visible(&h.ip),
            link: harvester_link(&h.ip),
            visits: h.visits,
            first_visit: when(h.first_visit),
            last_visit: when(h.last_visit),
            user_agent: visible(&h.last_user_agent),
            seeds: h.seeds,
            seeds_hit: h.seeds_hit,
            messages: h.messages,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    before: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/harvesters.html")]
struct ListPage {
    nav: Nav,
    error: Option<String>,
    rows: Vec<Row>,
    next: Option<String>,
}

pub(super) async fn list(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, PlainError> {
    let mut page = ListPage {
        nav: Nav::of(&user, "Harvesters"),
        error: None,
        rows: Vec::new(),
        next: None,
    };
    let before = match q.before.as_str() {
        "" => None,
        b if b.len() > MAX_CURSOR_BYTES => {
            page.error = Some("the paging cursor is too long; start from the first page".into());
            return Ok(page.into_response());
        }
        b => match crate::api::harvesters::decode_cursor(b) {
            Some(key) => Some(key),
            None => {
                page.error =
                    Some("the paging cursor is not valid; start from the first page".into());
                return Ok(page.into_response());
            }
        },
    };
    let rows = blocking(&console, move |s| {
        s.harvesters(PAGE_SIZE + 1, before).map_err(store_error)
    })
    .await?;
    if rows.len() > PAGE_SIZE {
        let cursor = crate::api::harvesters::encode_cursor(&rows[PAGE_SIZE - 1]);
        page.next = Some(format!("/harvesters?before={}", percent_encode(&cursor)));
    }
    page.rows = rows.iter().take(PAGE_SIZE).map(Row::of).collect();
    Ok(page.into_response())
}

/// A campaign that used the harvester's addresses, with its console number when known.
#[derive(Debug, Clone)]
pub struct CampaignLine {
    pub id: Option<i64>,
    pub label: String,
    pub uuid: String,
    pub messages: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/harvester.html")]
struct DetailPage {
    nav: Nav,
    h: Row,
    user_agents: Vec<Count>,
    pages: Vec<Count>,
    forms_hit: Vec<Count>,
    first_spam_min: String,
    first_spam_median: String,
    campaigns: Vec<CampaignLine>,
    networks: Vec<Count>,
    visits: Vec<VisitLine>,
    seeds: Vec<SeedRow>,
}

fn shown(counts: &[Count]) -> Vec<Count> {
    counts
        .iter()
        .map(|c| Count {
            key: visible(&c.key),
            count: c.count,
        })
        .collect()
}

pub(super) async fn view(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Path(ip): Path<String>,
) -> Result<Response, PlainError> {
    let ip = ip_param("the harvester", &ip)?;
    let (d, numbers) = blocking(&console, move |s| {
        let d = s
            .harvester(&ip)
            .map_err(store_error)?
            .ok_or_else(ApiError::not_found)?;
        let numbers = campaign_numbers(s, d.campaigns.iter().map(|c| c.campaign))?;
        Ok((d, numbers))
    })
    .await?;
    Ok(DetailPage {
        nav: Nav::of(&user, "Harvesters"),
        h: Row::of(&d.harvester),
        user_agents: shown(&d.user_agents),
        pages: shown(&d.pages),
        forms_hit: shown(&d.forms_hit),
        first_spam_min: d.first_spam_min_secs.map(span).unwrap_or_default(),
        first_spam_median: d.first_spam_median_secs.map(span).unwrap_or_default(),
        campaigns: d
            .campaigns
            .iter()
            .map(|c| CampaignLine {
                id: numbers.get(&c.campaign).map(|n| n.0),
                label: visible(c.label.as_deref().unwrap_or_default()),
                uuid: c.campaign.hyphenated().to_string(),
                messages: c.messages,
            })
            .collect(),
        networks: shown(&d.networks),
        visits: d.visits.iter().map(VisitLine::of).collect(),
        seeds: d.seeds.iter().map(SeedRow::of).collect(),
    }
    .into_response())
}
