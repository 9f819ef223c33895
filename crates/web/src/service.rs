//! The state every handler shares, and the seam between paging and STIX rendering.

use feeds::intel::stix::{self, StixObject};
use feeds::intel::{Audience, FeedMeta, IntelCampaign, Ioc, Producer, SharingPolicy};
use std::path::PathBuf;
use std::sync::Arc;

/// Turns what the policy lets out into STIX objects. Production uses [`StixRender`]
/// (`feeds::intel::stix`); tests of paging and authentication plug in a small fake so they
/// do not depend on the STIX writer's output.
pub trait Render: Send + Sync + std::fmt::Debug {
    fn preamble(&self, meta: &FeedMeta) -> Vec<StixObject>;
    fn campaign(&self, campaign: &IntelCampaign, meta: &FeedMeta) -> Vec<StixObject>;
    fn ioc(&self, ioc: &Ioc, meta: &FeedMeta) -> Vec<StixObject>;
}

/// The real renderer: `feeds::intel::stix`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StixRender;

impl Render for StixRender {
    fn preamble(&self, meta: &FeedMeta) -> Vec<StixObject> {
        stix::preamble(meta)
    }
    fn campaign(&self, campaign: &IntelCampaign, meta: &FeedMeta) -> Vec<StixObject> {
        stix::campaign_objects(campaign, meta)
    }
    fn ioc(&self, ioc: &Ioc, meta: &FeedMeta) -> Vec<StixObject> {
        stix::ioc_objects(ioc, meta)
    }
}

/// Everything the HTTP handlers need. Built once at start-up by the binary.
#[derive(Debug)]
pub struct FeedService {
    pub(crate) store: Arc<store::Store>,
    pub(crate) policy: SharingPolicy,
    pub(crate) producer: Producer,
    pub(crate) audiences: Vec<Audience>,
    /// The feed scheduler's output: `<published>/<audience>/<Format::file_name()>`. `None`:
    /// nothing is published, `/feeds/` files answer 503.
    pub(crate) published: Option<PathBuf>,
    pub(crate) render: Arc<dyn Render>,
    /// TAXII collection id per audience (same order as `audiences`).
    pub(crate) collection_ids: Vec<uuid::Uuid>,
}

impl FeedService {
    /// The service with the real STIX renderer. Collection ids are derived from the
    /// producer's installation secret, so they are stable across restarts.
    pub fn new(
        store: Arc<store::Store>,
        policy: SharingPolicy,
        producer: Producer,
        audiences: Vec<Audience>,
        published: Option<PathBuf>,
    ) -> FeedService {
        FeedService::with_render(
            store,
            policy,
            producer,
            audiences,
            published,
            Arc::new(StixRender),
        )
    }

    /// The service with another renderer (tests).
    pub fn with_render(
        store: Arc<store::Store>,
        policy: SharingPolicy,
        producer: Producer,
        audiences: Vec<Audience>,
        published: Option<PathBuf>,
        render: Arc<dyn Render>,
    ) -> FeedService {
        let collection_ids = audiences
            .iter()
            .map(|a| collection_id(&producer.secret, &a.name))
            .collect();
        FeedService {
            store,
            policy,
            producer,
            audiences,
            published,
            render,
            collection_ids,
        }
    }

    pub fn audiences(&self) -> &[Audience] {
        &self.audiences
    }

    /// The TAXII collection id of audience number `i`.
    pub fn collection_id_of(&self, i: usize) -> Option<uuid::Uuid> {
        self.collection_ids.get(i).copied()
    }

    /// The feed metadata of one audience at `now` (STIX rendering context).
    pub(crate) fn meta(&self, audience: usize, now: model::Timestamp) -> Option<FeedMeta> {
        Some(FeedMeta {
            producer: self.producer.clone(),
            audience: self.audiences.get(audience)?.clone(),
            generated_at: now,
            since: None,
            serial: 0,
            rpz_origin: feeds::intel::writers::DEFAULT_RPZ_ORIGIN.to_string(),
        })
    }
}

/// The collection id of an audience: `stable_v4(secret, "collection:<name>")`.
pub fn collection_id(secret: &[u8; 32], audience: &str) -> uuid::Uuid {
    feeds::intel::ids::stable_v4(secret, &format!("collection:{audience}"))
}
