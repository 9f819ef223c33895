//! A collection's content, page by page: the preamble, then campaigns and indicators merged
//! in change order, each through the sharing policy and the audience, rendered to STIX.
//!
//! Work per request is bounded: the store is read in pages of [`STORE_PAGE_ROWS`], at most
//! [`MAX_SOURCES_SCANNED`] rows are looked at, and a page holds at most
//! [`MAX_PAGE_BYTES`] of JSON. When a bound stops the scan early the page says `more` and
//! its token resumes right there, so an audience that rejects most rows still pages through
//! the whole store, a slice per request.

use super::cursor::{self, Position, SourceKey, SourceKind};
use super::media::{micros, nanos};
use super::query::{Filters, PageQuery};
use crate::error::ApiError;
use crate::service::FeedService;
use feeds::intel::stix::StixObject;
use feeds::intel::stix::ids::{campaign_uuid_from_stix, unslot};
use feeds::intel::{FeedMeta, IntelCampaign};
use model::intel::{CampaignBrief, IndicatorRow};
use model::{CampaignId, Timestamp};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use store::IntelCursor;

/// Rows asked of the store at once.
pub const STORE_PAGE_ROWS: usize = 1000;
/// Most sources (store rows) one request looks at before answering `more`.
pub const MAX_SOURCES_SCANNED: usize = 20_000;
/// Most bytes of object JSON in one page; the page ends early (with `more`) past it.
pub const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;
/// Campaign briefs kept while rendering one page's indicators (cleared when full).
pub const CAMPAIGN_CACHE: usize = 512;
/// TAXII `date_added` of the preamble when the collection holds nothing else: the epoch.
pub const EMPTY_PREAMBLE_DATE: i64 = 0;

/// One returned object and its TAXII `date_added` (unix microseconds).
#[derive(Debug, Clone)]
pub struct Entry {
    pub object: StixObject,
    pub date_added: i64,
}

/// One page of a collection.
#[derive(Debug, Default)]
pub struct Page {
    pub entries: Vec<Entry>,
    pub more: bool,
    pub next: Option<String>,
}

/// A source's objects, all sharing its `date_added`.
struct Source {
    key: SourceKey,
    date_added: i64,
    objects: Vec<StixObject>,
}

/// Renders the sources of one audience's collection.
struct Renderer<'a> {
    svc: &'a FeedService,
    meta: FeedMeta,
    now: Timestamp,
    campaigns: HashMap<CampaignId, Option<Arc<IntelCampaign>>>,
}

impl<'a> Renderer<'a> {
    fn new(svc: &'a FeedService, audience: usize, now: Timestamp) -> Result<Self, ApiError> {
        let meta = svc.meta(audience, now).ok_or_else(ApiError::not_found)?;
        Ok(Renderer {
            svc,
            meta,
            now,
            campaigns: HashMap::new(),
        })
    }

    fn audience(&self) -> &feeds::intel::Audience {
        &self.meta.audience
    }

    /// The campaign as this audience may see it, or `None`.
    fn admitted(&self, brief: CampaignBrief) -> Option<IntelCampaign> {
        let c = self.svc.policy.campaign(brief)?;
        self.audience().admits_campaign(&c).then_some(c)
    }

    /// The preamble, dated with the earliest change in the store (or the epoch).
    fn preamble(&self) -> Result<Source, ApiError> {
        let store = &self.svc.store;
        let first_c = store
            .intel_campaigns(None, 1)
            .map_err(|e| ApiError::internal("intel_campaigns", &e))?;
        let first_i = store
            .intel_indicators(None, &self.audience().kinds, 1)
            .map_err(|e| ApiError::internal("intel_indicators", &e))?;
        let earliest = first_c
            .first()
            .map(|c| micros(c.changed_at))
            .into_iter()
            .chain(first_i.first().map(|i| micros(i.changed_at)))
            .min()
            .unwrap_or(EMPTY_PREAMBLE_DATE);
        Ok(Source {
            key: SourceKey::PREAMBLE,
            date_added: earliest,
            objects: self.svc.render.preamble(&self.meta),
        })
    }

    fn campaign(&mut self, brief: CampaignBrief) -> Source {
        let key = SourceKey::campaign(nanos(brief.changed_at), brief.id);
        let date_added = micros(brief.changed_at);
        let id = brief.id;
        let admitted = self.admitted(brief).map(Arc::new);
        let objects = match &admitted {
            Some(c) => self.svc.render.campaign(c, &self.meta),
            None => Vec::new(),
        };
        self.remember(id, admitted);
        Source {
            key,
            date_added,
            objects,
        }
    }

    fn remember(&mut self, id: CampaignId, c: Option<Arc<IntelCampaign>>) {
        if self.campaigns.len() >= CAMPAIGN_CACHE {
            self.campaigns.clear();
        }
        self.campaigns.insert(id, c);
    }

    /// The indicator's campaign, as the audience may see it. An indicator whose campaign the
    /// audience may not see is withheld too (the policy drops indicators whose campaign is
    /// `None`): its objects would point at, and describe, that campaign.
    fn campaign_of(&mut self, id: CampaignId) -> Result<Option<Arc<IntelCampaign>>, ApiError> {
        if let Some(c) = self.campaigns.get(&id) {
            return Ok(c.clone());
        }
        let brief = self
            .svc
            .store
            .intel_campaign(id)
            .map_err(|e| ApiError::internal("intel_campaign", &e))?;
        let c = brief.and_then(|b| self.admitted(b)).map(Arc::new);
        self.remember(id, c.clone());
        Ok(c)
    }

    fn indicator(&mut self, row: IndicatorRow) -> Result<Source, ApiError> {
        let key = SourceKey::indicator(nanos(row.changed_at), row.id);
        let date_added = micros(row.changed_at);
        let campaign = match row.campaign {
            Some(id) => self.campaign_of(id)?,
            None => None,
        };
        let objects = match self.svc.policy.ioc(row, campaign, self.now) {
            Some(ioc) if self.audience().admits(&ioc) => self.svc.render.ioc(&ioc, &self.meta),
            _ => Vec::new(),
        };
        Ok(Source {
            key,
            date_added,
            objects,
        })
    }
}

/// Sources in collection order, from somewhere.
trait Sources {
    fn next_source(&mut self, r: &mut Renderer<'_>) -> Result<Option<Source>, ApiError>;
}

/// The whole collection from the store: the preamble, then both change streams merged.
struct Scan {
    preamble: bool,
    kinds: Vec<model::report::IndicatorKind>,
    campaigns: Stream<CampaignBrief>,
    indicators: Stream<IndicatorRow>,
}

struct Stream<T> {
    after: Option<IntelCursor>,
    buf: VecDeque<T>,
    done: bool,
}

impl<T> Stream<T> {
    fn new(after: Option<IntelCursor>) -> Self {
        Stream {
            after,
            buf: VecDeque::new(),
            done: false,
        }
    }

    /// Reads the next store page when the buffer ran dry.
    fn fill(
        &mut self,
        read: impl FnOnce(Option<IntelCursor>) -> Result<Vec<T>, ApiError>,
        cursor_of: impl Fn(&T) -> IntelCursor,
    ) -> Result<(), ApiError> {
        if self.buf.is_empty() && !self.done {
            let rows = read(self.after)?;
            self.done = rows.len() < STORE_PAGE_ROWS;
            if let Some(last) = rows.last() {
                self.after = Some(cursor_of(last));
            }
            self.buf.extend(rows);
        }
        Ok(())
    }
}

fn later(a: Option<IntelCursor>, b: Option<IntelCursor>) -> Option<IntelCursor> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

impl Scan {
    /// Starts at `start` (or the beginning), skipping what changed at or before `added_after`.
    fn new(
        start: Option<Position>,
        added_after: Option<i64>,
        kinds: Vec<model::report::IndicatorKind>,
    ) -> Scan {
        // Strictly after `added_after` at microsecond precision: after its last nanosecond.
        let base = added_after.map(|m| IntelCursor {
            at: m.saturating_mul(1000).saturating_add(999),
            id: i64::MAX,
        });
        let (c, i) = match start.map(|p| p.key) {
            Some(k) if k.kind == SourceKind::Campaign => (
                Some(IntelCursor {
                    at: k.at,
                    id: k.id.saturating_sub(1),
                }),
                Some(IntelCursor {
                    at: k.at.saturating_sub(1),
                    id: i64::MAX,
                }),
            ),
            Some(k) if k.kind == SourceKind::Indicator => (
                Some(IntelCursor {
                    at: k.at,
                    id: i64::MAX,
                }),
                Some(IntelCursor {
                    at: k.at,
                    id: k.id.saturating_sub(1),
                }),
            ),
            _ => (None, None),
        };
        Scan {
            preamble: start.is_none_or(|p| p.key.kind == SourceKind::Preamble),
            kinds,
            campaigns: Stream::new(later(base, c)),
            indicators: Stream::new(later(base, i)),
        }
    }
}

impl Sources for Scan {
    fn next_source(&mut self, r: &mut Renderer<'_>) -> Result<Option<Source>, ApiError> {
        if std::mem::take(&mut self.preamble) {
            return r.preamble().map(Some);
        }
        let store = &r.svc.store;
        self.campaigns.fill(
            |after| {
                store
                    .intel_campaigns(after, STORE_PAGE_ROWS)
                    .map_err(|e| ApiError::internal("intel_campaigns", &e))
            },
            |c| IntelCursor {
                at: nanos(c.changed_at),
                id: c.id,
            },
        )?;
        let kinds = &self.kinds;
        self.indicators.fill(
            |after| {
                store
                    .intel_indicators(after, kinds, STORE_PAGE_ROWS)
                    .map_err(|e| ApiError::internal("intel_indicators", &e))
            },
            |i| IntelCursor {
                at: nanos(i.changed_at),
                id: i.id,
            },
        )?;
        let ck = self
            .campaigns
            .buf
            .front()
            .map(|c| SourceKey::campaign(nanos(c.changed_at), c.id));
        let ik = self
            .indicators
            .buf
            .front()
            .map(|i| SourceKey::indicator(nanos(i.changed_at), i.id));
        let take_campaign = match (ck, ik) {
            (Some(c), Some(i)) => c < i,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if take_campaign {
            Ok(self.campaigns.buf.pop_front().map(|b| r.campaign(b)))
        } else {
            match self.indicators.buf.pop_front() {
                Some(row) => r.indicator(row).map(Some),
                None => Ok(None),
            }
        }
    }
}

/// A few sources found directly (by `match[id]`), already in order.
struct Listed(VecDeque<Source>);

impl Sources for Listed {
    fn next_source(&mut self, _: &mut Renderer<'_>) -> Result<Option<Source>, ApiError> {
        Ok(self.0.pop_front())
    }
}

/// What `match[id]` resolves to without scanning.
enum Resolved {
    /// Every id maps to its source (or is certainly absent).
    Sources(Vec<Source>),
    /// Some id can only be found by scanning (observables, malware, `uses` relationships).
    NeedsScan,
}

/// Finds the sources of `ids` directly: the preamble's own ids; campaign ids through the
/// campaign UUID; indicator, observed-data, sighting and their relationships through the
/// row UUID their slot bits point to.
fn resolve(r: &mut Renderer<'_>, ids: &[String]) -> Result<Resolved, ApiError> {
    let mut out: Vec<Source> = Vec::new();
    let mut preamble: Option<Source> = None;
    for id in ids {
        let Some((kind, bare)) = id.split_once("--") else {
            continue;
        };
        match kind {
            "identity" | "marking-definition" => {
                if preamble.is_none() {
                    preamble = Some(r.preamble()?);
                }
            }
            "campaign" => {
                let Some(u) = campaign_uuid_from_stix(id) else {
                    continue;
                };
                let brief = r
                    .svc
                    .store
                    .intel_campaign_by_uuid(u)
                    .map_err(|e| ApiError::internal("intel_campaign_by_uuid", &e))?;
                if let Some(b) = brief {
                    out.push(r.campaign(b));
                }
            }
            "indicator" | "observed-data" | "sighting" | "relationship" => {
                let Ok(u) = uuid::Uuid::try_parse(bare) else {
                    continue;
                };
                let row = r
                    .svc
                    .store
                    .intel_indicator_by_uuid(unslot(u).0)
                    .map_err(|e| ApiError::internal("intel_indicator_by_uuid", &e))?;
                match row {
                    Some(row) => out.push(r.indicator(row)?),
                    // A relationship not derived from an indicator: `campaign uses malware`.
                    None if kind == "relationship" => return Ok(Resolved::NeedsScan),
                    None => {}
                }
            }
            _ => return Ok(Resolved::NeedsScan),
        }
    }
    out.extend(preamble);
    out.sort_by_key(|s| s.key);
    out.dedup_by_key(|s| s.key);
    Ok(Resolved::Sources(out))
}

/// How `page` looks for objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// `match[id]` resolved directly when possible, else a scan.
    Any,
    /// Direct resolution only (`objects/{id}/`): `None` when the id needs a scan.
    DirectOnly,
}

/// One page of audience `audience`'s collection for `query`. Blocking (store reads): run it
/// in `spawn_blocking`. `Ok(None)` only for [`Lookup::DirectOnly`] ids that need a scan.
pub fn page(
    svc: &FeedService,
    audience: usize,
    query: &PageQuery,
    lookup: Lookup,
    now: Timestamp,
) -> Result<Option<Page>, ApiError> {
    let collection = svc
        .collection_id_of(audience)
        .ok_or_else(ApiError::not_found)?;
    let digest = query.filters.digest(&collection);
    let start = query
        .next
        .as_deref()
        .map(|t| cursor::decode(t, digest))
        .transpose()?;
    let mut r = Renderer::new(svc, audience, now)?;
    let direct = match &query.filters.ids {
        Some(ids) => resolve(&mut r, ids)?,
        None => Resolved::NeedsScan,
    };
    let mut sources: Box<dyn Sources> = match direct {
        Resolved::Sources(list) => Box::new(Listed(list.into())),
        Resolved::NeedsScan if lookup == Lookup::DirectOnly => return Ok(None),
        Resolved::NeedsScan => Box::new(Scan::new(
            start,
            query.filters.added_after,
            r.audience().kinds.clone(),
        )),
    };
    fill(
        sources.as_mut(),
        &mut r,
        start,
        &query.filters,
        query.limit,
        digest,
    )
    .map(Some)
}

/// Collects up to `limit` objects from `sources`, de-duplicated within the page.
fn fill(
    sources: &mut dyn Sources,
    r: &mut Renderer<'_>,
    start: Option<Position>,
    filters: &Filters,
    limit: usize,
    digest: [u8; 8],
) -> Result<Page, ApiError> {
    let mut page = Page::default();
    let mut seen: HashSet<(String, Timestamp)> = HashSet::new();
    let mut bytes = 0usize;
    let mut scanned = 0usize;
    while let Some(source) = sources.next_source(r)? {
        scanned += 1;
        let skip = match start {
            Some(p) if source.key < p.key => continue,
            Some(p) if source.key == p.key => p.index as usize,
            _ => 0,
        };
        if filters.added_after.is_none_or(|a| source.date_added > a) {
            for (i, o) in source.objects.into_iter().enumerate().skip(skip) {
                if !filters.admits(o.kind, &o.id, o.version)
                    || seen.contains(&(o.id.clone(), o.version))
                {
                    continue;
                }
                if page.entries.len() >= limit || bytes >= MAX_PAGE_BYTES {
                    let at = Position {
                        key: source.key,
                        index: u32::try_from(i).unwrap_or(u32::MAX),
                    };
                    page.more = true;
                    page.next = Some(cursor::encode(at, digest));
                    return Ok(page);
                }
                bytes += o.json.len();
                seen.insert((o.id.clone(), o.version));
                page.entries.push(Entry {
                    object: o,
                    date_added: source.date_added,
                });
            }
        }
        if scanned >= MAX_SOURCES_SCANNED {
            let after = Position {
                key: source.key,
                index: u32::MAX,
            };
            page.more = true;
            page.next = Some(cursor::encode(after, digest));
            return Ok(page);
        }
    }
    Ok(page)
}
