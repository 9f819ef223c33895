//! `/seeds` (list, filters, the admins' mint form), `POST /seeds/mint` and `/seeds/{id}`;
//! the visit and delay lines shared with the harvester and message pages.
//!
//! Visitor user agents, referers and paths, and seed labels, are whatever a harvester or an
//! operator typed: shown through [`visible`] and askama's escaping, referers defanged, and
//! never used as a link target.

use super::intel::percent_encode;
use super::{Nav, blocking, defang, store_error, when};
use crate::api::seeds::{MAX_LABEL_CHARS, MAX_MINT_COUNT, load_seed, mintable, plan_mint};
use crate::error::{ApiError, PlainError};
use crate::login::PageUser;
use crate::mail_view::visible;
use crate::state::Console;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use model::BaitVisit;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::Arc;
use store::{SeedFilter, SeedRecord};

/// Seeds on one page of the list.
pub const PAGE_SIZE: usize = 100;

/// `3 d 4 h`, `2 h 5 min`, `40 s`: a delay an analyst reads at a glance (two units at most).
pub fn span(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    let text = if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {} s", s % 60)
    } else {
        format!("{s} s")
    };
    format!("{sign}{text}")
}

/// The console page of a harvester.
pub fn harvester_link(ip: &str) -> String {
    format!("/harvesters/{}", percent_encode(ip))
}

/// One bait visit, ready to show.
#[derive(Debug, Clone)]
pub struct VisitLine {
    pub ip: String,
    pub link: String,
    pub user_agent: String,
    /// Defanged: a referer is a URL the harvester chose.
    pub referer: String,
    pub path: String,
    pub at: String,
}

impl VisitLine {
    pub fn of(v: &BaitVisit) -> VisitLine {
        VisitLine {
            ip: visible(&v.ip),
            link: harvester_link(&v.ip),
            user_agent: visible(&v.user_agent),
            referer: visible(&defang::defang_url(&v.referer)),
            path: visible(&v.path),
            at: when(v.at),
        }
    }
}

/// Where a message's recipient address came from, for the message page.
#[derive(Debug, Clone)]
pub struct Attribution {
    pub seed: SeedRow,
    /// The bait visit that handed the address out (visit seeds).
    pub visit: Option<VisitLine>,
    /// From issue to this message.
    pub delay: String,
}

impl Attribution {
    pub fn of(a: &store::SeedAttribution) -> Attribution {
        Attribution {
            seed: SeedRow::of(&a.seed),
            visit: a.visit.as_ref().map(VisitLine::of),
            delay: span(a.after_secs),
        }
    }
}

/// One seed in a list.
#[derive(Debug, Clone)]
pub struct SeedRow {
    pub id: i64,
    pub address: String,
    pub origin: &'static str,
    pub form: &'static str,
    pub label: String,
    pub issued: String,
    pub hits: u64,
    pub first_hit: String,
}

impl SeedRow {
    pub fn of(r: &SeedRecord) -> SeedRow {
        SeedRow {
            id: r.id,
            address: visible(&r.address),
            origin: r.origin.as_str(),
            form: r.form.map(|f| f.as_str()).unwrap_or(""),
            label: visible(&r.label),
            issued: when(r.issued_at),
            hits: r.hits,
            first_hit: r.first_hit.map(when).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct SeedsQuery {
    #[serde(default)]
    label: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    hit: String,
    #[serde(default)]
    before: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/seeds.html")]
struct SeedsPage {
    nav: Nav,
    label: String,
    origin: String,
    hit: bool,
    error: Option<String>,
    rows: Vec<SeedRow>,
    next: Option<String>,
    /// Domains the mint form offers (active or aging today).
    domains: Vec<String>,
    max_label: usize,
    max_count: u64,
    mint_error: Option<String>,
    minted: Vec<SeedRow>,
}

impl SeedsPage {
    fn new(nav: Nav, console: &Console, q: &SeedsQuery) -> SeedsPage {
        SeedsPage {
            nav,
            label: q.label.clone(),
            origin: q.origin.clone(),
            hit: !q.hit.is_empty(),
            error: None,
            rows: Vec::new(),
            next: None,
            domains: mintable(&console.settings.trap_domains, model::now().date()),
            max_label: MAX_LABEL_CHARS,
            max_count: MAX_MINT_COUNT,
            mint_error: None,
            minted: Vec::new(),
        }
    }

    /// Reads the list the filters name; a bad filter is explained on the page.
    async fn fill(&mut self, console: &Arc<Console>, q: &SeedsQuery) -> Result<(), PlainError> {
        let filter =
            crate::api::seeds::seed_filter(Some(&q.label), Some(&q.origin), self.hit, None);
        let before = match q.before.as_str() {
            "" => Ok(None),
            b => b
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::bad_request("the paging cursor is not a seed number")),
        };
        let mut filter: SeedFilter = match (filter, before) {
            (Ok(f), Ok(b)) => SeedFilter { before_id: b, ..f },
            (Err(e), _) | (_, Err(e)) => {
                self.error = Some(e.description);
                return Ok(());
            }
        };
        filter.limit = PAGE_SIZE + 1;
        let rows = blocking(console, move |s| s.seeds(&filter).map_err(store_error)).await?;
        let more = rows.len() > PAGE_SIZE;
        self.rows = rows.iter().take(PAGE_SIZE).map(SeedRow::of).collect();
        self.next = self.rows.last().filter(|_| more).map(|last| {
            format!(
                "/seeds?label={}&origin={}&hit={}&before={}",
                percent_encode(&q.label),
                percent_encode(&q.origin),
                if self.hit { "1" } else { "" },
                last.id
            )
        });
        Ok(())
    }
}

pub(super) async fn list(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Query(q): Query<SeedsQuery>,
) -> Result<Response, PlainError> {
    let mut page = SeedsPage::new(Nav::of(&user, "Seeds"), &console, &q);
    page.fill(&console, &q).await?;
    Ok(page.into_response())
}

/// The mint form (admins, with the session's CSRF token).
#[derive(Debug, Deserialize)]
pub(super) struct MintForm {
    csrf: String,
    label: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    count: String,
}

/// `POST /seeds/mint`: mints manual seeds and shows their addresses above the list. Same
/// checks as `POST /api/v1/seeds`; a refusal is shown on the page with status 422.
pub(super) async fn mint(
    State(console): State<Arc<Console>>,
    user: PageUser,
    axum::Form(f): axum::Form<MintForm>,
) -> Result<Response, PlainError> {
    if !user.is_admin() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "minting seeds needs the admin role",
        )
        .into());
    }
    user.principal().check_csrf(Some(&f.csrf))?;
    let q = SeedsQuery::default();
    let mut page = SeedsPage::new(Nav::of(&user, "Seeds"), &console, &q);
    let count = match f.count.trim() {
        "" => Ok(1),
        c => c.parse::<u64>().map_err(|_| {
            crate::api::seeds::unprocessable(format!(
                "count must be between 1 and {MAX_MINT_COUNT}"
            ))
        }),
    };
    let domain = Some(f.domain.trim()).filter(|d| !d.is_empty());
    let planned = count.and_then(|n| {
        plan_mint(
            &console.settings.trap_domains,
            model::now().date(),
            f.label.trim(),
            domain,
            n,
        )
    });
    let status = match planned {
        Err(e) => {
            page.mint_error = Some(e.description);
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Ok(seeds) => {
            let made =
                blocking(&console, move |s| s.mint_seeds(&seeds).map_err(store_error)).await?;
            tracing::info!(admin = %user.name(), count = made.len(), "manual seeds minted");
            page.minted = made.iter().map(SeedRow::of).collect();
            StatusCode::OK
        }
    };
    page.fill(&console, &q).await?;
    Ok((status, page).into_response())
}

/// A message that reached a seed, ready to show.
#[derive(Debug, Clone)]
pub struct HitRow {
    pub sighting: String,
    pub received: String,
    pub peer: String,
    pub network: String,
    pub sender: String,
    pub subject: String,
    pub class: String,
    /// `(number, label)` of its campaign, when clustered.
    pub campaign: Option<(i64, String)>,
}

/// Campaign numbers and labels for the UUIDs the seed tables carry (one indexed read each;
/// the lists are bounded by `store::MAX_DETAIL_ROWS`).
pub fn campaign_numbers(
    s: &store::Store,
    uuids: impl IntoIterator<Item = uuid::Uuid>,
) -> Result<HashMap<uuid::Uuid, (i64, String)>, ApiError> {
    let mut out = HashMap::new();
    for u in uuids {
        if out.contains_key(&u) {
            continue;
        }
        if let Some(b) = s.intel_campaign_by_uuid(u).map_err(store_error)? {
            out.insert(u, (b.id, visible(&b.label)));
        }
    }
    Ok(out)
}

#[derive(Template, WebTemplate)]
#[template(path = "console/seed.html")]
struct SeedPage {
    nav: Nav,
    seed: SeedRow,
    domain: String,
    visit: Option<VisitLine>,
    first_spam_after: String,
    hits: Vec<HitRow>,
}

pub(super) async fn view(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Path(id): Path<String>,
) -> Result<Response, PlainError> {
    let key = crate::api::seeds::seed_key(&id)?;
    let (d, campaigns) = blocking(&console, move |s| {
        let d = load_seed(s, &key)
            .map_err(store_error)?
            .ok_or_else(ApiError::not_found)?;
        let campaigns = campaign_numbers(s, d.hits.iter().filter_map(|h| h.campaign))?;
        Ok((d, campaigns))
    })
    .await?;
    Ok(SeedPage {
        nav: Nav::of(&user, "Seeds"),
        seed: SeedRow::of(&d.seed),
        domain: visible(&d.seed.domain),
        visit: d.visit.as_ref().map(VisitLine::of),
        first_spam_after: d.first_spam_after_secs.map(span).unwrap_or_default(),
        hits: d
            .hits
            .iter()
            .map(|h| HitRow {
                sighting: h.sighting.hyphenated().to_string(),
                received: when(h.received_at),
                peer: visible(&h.peer),
                network: visible(&h.network),
                sender: visible(&h.sender),
                subject: visible(h.subject.as_deref().unwrap_or_default()),
                class: h.class.clone(),
                campaign: h.campaign.and_then(|c| campaigns.get(&c).cloned()),
            })
            .collect(),
    }
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_at_a_glance() {
        assert_eq!(span(40), "40 s");
        assert_eq!(span(125), "2 min 5 s");
        assert_eq!(span(7500), "2 h 5 min");
        assert_eq!(span(3 * 86_400 + 4 * 3600 + 59), "3 d 4 h");
        assert_eq!(span(-60), "-1 min 0 s");
    }
}
