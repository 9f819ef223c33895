//! `/domains`: every trap domain with its state today, lifecycle dates, volume, verdict mix
//! (a small inline SVG bar and the numbers), campaigns, sensors and the first spam after
//! activation, over a window of days (`?days=`).

use super::chart::VERDICT_COLOURS;
use super::seeds::span;
use super::{Nav, blocking, store_error, when};
use crate::api::domains::{DEFAULT_DAYS, MAX_DAYS, days};
use crate::error::PlainError;
use crate::login::PageUser;
use crate::mail_view::visible;
use crate::state::Console;
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use store::{Count, DomainSummary};

/// Width of the verdict-mix bar in SVG units.
const MIX_WIDTH: u64 = 160;

/// One segment of the verdict-mix bar.
#[derive(Debug, Clone)]
pub struct Segment {
    pub x: u64,
    pub w: u64,
    pub fill: &'static str,
    pub title: String,
}

/// Segments proportional to `classes` (at least one unit wide each, so rare classes show).
pub fn mix(classes: &[Count]) -> Vec<Segment> {
    let total: u64 = classes.iter().map(|c| c.count).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut x = 0;
    classes
        .iter()
        .filter(|c| c.count > 0)
        .map(|c| {
            let start = x.min(MIX_WIDTH - 1);
            let share = u128::from(c.count) * u128::from(MIX_WIDTH) / u128::from(total);
            let w = u64::try_from(share)
                .unwrap_or(MIX_WIDTH)
                .clamp(1, MIX_WIDTH - start);
            let fill = VERDICT_COLOURS
                .iter()
                .find(|(name, _)| *name == c.key)
                .map_or("#9aa0a6", |(_, colour)| colour);
            let s = Segment {
                x: start,
                w,
                fill,
                title: format!("{} {}", visible(&c.key), c.count),
            };
            x = start + w;
            s
        })
        .collect()
}

/// The badge class of a state (the console's verdict colours: green is working, yellow
/// waiting, orange bouncing, grey gone or unknown).
fn badge(state: Option<model::DomainState>) -> &'static str {
    match state {
        Some(model::DomainState::Active) => "v-benign",
        Some(model::DomainState::Aging) => "v-spam",
        Some(model::DomainState::New) => "v-phishing",
        Some(model::DomainState::Retired) | None => "",
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub pattern: String,
    pub state: &'static str,
    pub badge: &'static str,
    pub sector: String,
    pub dates: Vec<(&'static str, String)>,
    pub exact: String,
    pub messages: u64,
    pub mix: Vec<Segment>,
    pub classes: String,
    pub campaigns: u64,
    pub sensors: String,
    pub first_seen: String,
    pub last_seen: String,
    pub first_after_activation: String,
}

impl Row {
    fn of(e: &DomainSummary) -> Row {
        let dates = [
            ("added", &e.added),
            ("aging", &e.aging_from),
            ("active", &e.active_from),
            ("retired", &e.retired_from),
        ]
        .into_iter()
        .filter_map(|(name, d)| d.clone().map(|d| (name, d)))
        .collect();
        let counts = |c: &[Count]| {
            c.iter()
                .map(|c| format!("{} {}", visible(&c.key), c.count))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Row {
            pattern: visible(&e.pattern),
            state: e.state.map_or("not configured", |s| s.as_str()),
            badge: badge(e.state),
            sector: visible(&e.sector),
            dates,
            exact: visible(&e.exact_domains.join(", ")),
            messages: e.messages,
            mix: mix(&e.by_class),
            classes: counts(&e.by_class),
            campaigns: e.campaigns,
            sensors: counts(&e.by_sensor),
            first_seen: e.first_seen.map(when).unwrap_or_default(),
            last_seen: e.last_seen.map(when).unwrap_or_default(),
            first_after_activation: match (e.first_after_activation, e.first_after_activation_secs)
            {
                (Some(t), Some(s)) => format!("{} ({} after)", when(t), span(s)),
                _ => String::new(),
            },
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct DaysQuery {
    #[serde(default)]
    days: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/domains.html")]
struct DomainsPage {
    nav: Nav,
    days: u32,
    max_days: u32,
    error: Option<String>,
    width: u64,
    rows: Vec<Row>,
}

pub(super) async fn page(
    State(console): State<Arc<Console>>,
    user: PageUser,
    Query(q): Query<DaysQuery>,
) -> Result<Response, PlainError> {
    let mut page = DomainsPage {
        nav: Nav::of(&user, "Domains"),
        days: DEFAULT_DAYS,
        max_days: MAX_DAYS,
        error: None,
        width: MIX_WIDTH,
        rows: Vec::new(),
    };
    let asked = match q.days.trim() {
        "" => Ok(DEFAULT_DAYS),
        d => d
            .parse::<u32>()
            .map_err(|_| format!("days must be a number from 1 to {MAX_DAYS}"))
            .and_then(|n| days(Some(n)).map_err(|e| e.description)),
    };
    match asked {
        Ok(d) => page.days = d,
        Err(e) => {
            page.error = Some(e);
            return Ok(page.into_response());
        }
    }
    let configured = console.settings.trap_domains.clone();
    let days = page.days;
    let found = blocking(&console, move |s| {
        s.domain_report(&configured, days, model::now())
            .map_err(store_error)
    })
    .await?;
    page.rows = found.domains.iter().map(Row::of).collect();
    Ok(page.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(key: &str, count: u64) -> Count {
        Count {
            key: key.into(),
            count,
        }
    }

    #[test]
    fn the_mix_bar_is_proportional_and_never_wider_than_its_box() {
        let m = mix(&[count("spam", 3), count("malware", 1)]);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].x, m[0].w), (0, 120));
        assert_eq!((m[1].x, m[1].w), (120, 40));
        assert_eq!(m[1].fill, "#c5221f");
        let rare = mix(&[
            count("spam", 1_000_000),
            count("<script>", 1),
            count("scam", 1),
        ]);
        assert!(rare.iter().all(|s| s.w >= 1));
        assert!(rare.iter().map(|s| s.x + s.w).max().unwrap_or(0) <= MIX_WIDTH);
        assert_eq!(rare[1].fill, "#9aa0a6");
        assert!(mix(&[]).is_empty());
    }
}
