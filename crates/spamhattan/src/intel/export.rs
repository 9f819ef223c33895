//! One export: store → sharing policy → audience filter → format writer.
//!
//! Campaign by campaign, each followed by its indicators, then (when the policy shares them)
//! the indicators in no campaign. Campaign briefs are read a page at a time and indicators
//! are streamed from the store, so memory stays bounded by one page of briefs plus what the
//! writer keeps for one campaign, whatever the size of the store. A delta (`since`) names a
//! campaign when it changed or when one of its indicators did.

use super::Feeds;
use anyhow::{Context, Result};
use feeds::intel::{Audience, FeedMeta, FeedWriter, Format, IntelCampaign, SharingPolicy, Target};
use model::Timestamp;
use model::intel::IndicatorRow;
use model::report::IndicatorKind;
use std::sync::Arc;

/// Campaign briefs read per store query.
const CAMPAIGN_PAGE: usize = 500;

/// What an export wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportStats {
    pub campaigns: u64,
    pub indicators: u64,
    /// Rows read from the store (before policy and audience filters).
    pub rows: u64,
}

/// Writes `format` for `meta.audience` to `target`: every campaign, or only `only` (a
/// per-campaign bundle or event).
pub fn export(
    store: &store::Store,
    feeds: &Feeds,
    meta: &FeedMeta,
    format: Format,
    target: Target,
    only: Option<model::CampaignId>,
) -> Result<ExportStats> {
    let kinds: Vec<IndicatorKind> = format
        .kinds()
        .iter()
        .copied()
        .filter(|k| meta.audience.kinds.contains(k))
        .collect();
    let writer = feeds::intel::writers::writer(format, meta, target)
        .with_context(|| format!("cannot start the {format} export"))?;
    let mut out = Emitter {
        writer,
        policy: &feeds.policy,
        audience: &meta.audience,
        now: meta.generated_at,
        stats: ExportStats::default(),
        failure: None,
    };
    let since = meta.since;
    let emit = |out: &mut Emitter<'_>, brief: model::intel::CampaignBrief| -> Result<()> {
        let Some(c) = out.policy.campaign(brief) else {
            return Ok(());
        };
        if !out.audience.admits_campaign(&c) {
            return Ok(());
        }
        let c: Arc<IntelCampaign> = Arc::new(c);
        let mut announced = false;
        if since.is_none_or(|s| c.brief.changed_at > s) {
            out.announce(&c, &mut announced)?;
        }
        if kinds.is_empty() {
            return Ok(());
        }
        let scanned = store.for_each_campaign_indicator(Some(c.id()), since, &kinds, &mut |row| {
            out.offer(row, Some(&c), &mut announced)
        });
        out.check(scanned)
    };
    if let Some(id) = only {
        let brief = store
            .intel_campaign(id)
            .context("cannot read the campaign")?
            .ok_or_else(|| anyhow::anyhow!("no campaign {id}"))?;
        if let Some(c) = store.campaign(id).context("cannot read the campaign")?
            && let Some(into) = c.merged_into
        {
            anyhow::bail!("campaign {id} was merged into {into}: export {into}");
        }
        emit(&mut out, brief)?;
        let stats = out.stats;
        out.writer.finish().context("cannot finish the export")?;
        return Ok(stats);
    }
    let mut after = None;
    loop {
        let page = store
            .intel_campaigns(after, CAMPAIGN_PAGE)
            .context("cannot read campaigns")?;
        let Some(last) = page.last() else { break };
        after = Some(store::IntelCursor {
            at: i64::try_from(last.changed_at.unix_timestamp_nanos()).unwrap_or(i64::MAX),
            id: last.id,
        });
        for brief in page {
            emit(&mut out, brief)?;
        }
    }
    if out.policy.include_unclustered && !kinds.is_empty() {
        let mut announced = true;
        let scanned = store.for_each_campaign_indicator(None, since, &kinds, &mut |row| {
            out.offer(row, None, &mut announced)
        });
        out.check(scanned)?;
    }
    let stats = out.stats;
    out.writer.finish().context("cannot finish the export")?;
    Ok(stats)
}

/// The writer with the filters in front of it, counting what passes.
struct Emitter<'a> {
    writer: Box<dyn FeedWriter>,
    policy: &'a SharingPolicy,
    audience: &'a Audience,
    now: Timestamp,
    stats: ExportStats,
    /// The writer's error, kept while the store scan is stopped with a placeholder.
    failure: Option<std::io::Error>,
}

impl Emitter<'_> {
    fn announce(&mut self, c: &IntelCampaign, announced: &mut bool) -> Result<()> {
        self.writer.campaign(c).context("cannot write a campaign")?;
        *announced = true;
        self.stats.campaigns += 1;
        Ok(())
    }

    /// One store row: through policy and audience, then (announcing its campaign first when
    /// it has not been) to the writer. A writer error stops the scan; [`Emitter::check`]
    /// reports it.
    fn offer(
        &mut self,
        row: IndicatorRow,
        campaign: Option<&Arc<IntelCampaign>>,
        announced: &mut bool,
    ) -> std::result::Result<(), store::StoreError> {
        self.stats.rows += 1;
        let Some(ioc) = self.policy.ioc(row, campaign.cloned(), self.now) else {
            return Ok(());
        };
        if !self.audience.admits(&ioc) {
            return Ok(());
        }
        let written = match campaign {
            Some(c) if !*announced => self.writer.campaign(c).map(|()| {
                *announced = true;
                self.stats.campaigns += 1;
            }),
            _ => Ok(()),
        }
        .and_then(|()| self.writer.ioc(&ioc));
        match written {
            Ok(()) => {
                self.stats.indicators += 1;
                Ok(())
            }
            Err(e) => {
                self.failure = Some(e);
                Err(store::StoreError::Closed)
            }
        }
    }

    /// The outcome of a store scan: the writer's error if it stopped the scan, else the
    /// store's.
    fn check(&mut self, scanned: std::result::Result<u64, store::StoreError>) -> Result<()> {
        match (scanned, self.failure.take()) {
            (_, Some(io)) => Err(anyhow::Error::new(io).context("cannot write the export")),
            (Err(e), None) => Err(anyhow::Error::new(e).context("cannot read indicators")),
            (Ok(_), None) => Ok(()),
        }
    }
}
