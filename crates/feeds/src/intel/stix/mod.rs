//! STIX 2.1: the objects a campaign and an indicator become, and a streaming bundle writer.
//!
//! Contract used by the TAXII server (`web`) and the bundle writer: every function returns
//! [`StixObject`]s, each knowing its id, type and version, so TAXII can page and version them
//! without parsing JSON back.

pub mod ids;
mod indicator;
pub mod json;
pub mod objects;
pub mod observables;
pub mod pattern;
pub mod shape;
mod writer;

pub use writer::{
    MAX_FAMILIES, MAX_OBSERVABLES_REMEMBERED, MAX_REPORT_CAMPAIGNS, MAX_REPORT_REFS, StixWriter,
};

use super::format::FeedMeta;
use super::policy::{IntelCampaign, Ioc};
use model::Timestamp;

/// One STIX object, serialised, with what TAXII needs to know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct StixObject {
    /// `indicator--<uuid>`.
    pub id: String,
    /// The STIX `type` (`indicator`, `url`, ...).
    pub kind: &'static str,
    /// The object's version: `modified` for SDOs/SROs; for SCOs and marking definitions (not
    /// versioned) the time of the change that produced them.
    pub version: Timestamp,
    /// The object as compact JSON.
    pub json: String,
}

/// The objects every bundle and collection starts with: the producer identity and the TLP
/// 2.0 marking definitions.
pub fn preamble(meta: &FeedMeta) -> Vec<StixObject> {
    objects::preamble(meta)
}

/// A campaign's own objects: `campaign`, `malware` per family, `campaign uses malware`.
pub fn campaign_objects(campaign: &IntelCampaign, meta: &FeedMeta) -> Vec<StixObject> {
    objects::campaign_objects(campaign, meta)
}

/// An indicator's objects: `indicator`, its observable(s), `observed-data`, `sighting`, and
/// the relationships (`indicates` the campaign or malware, `based-on` the observed data).
pub fn ioc_objects(ioc: &Ioc, meta: &FeedMeta) -> Vec<StixObject> {
    indicator::ioc_objects(ioc, meta)
}
