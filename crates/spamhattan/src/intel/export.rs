//! One export: store → sharing policy → audience filter → format writer.
//!
//! Campaign by campaign, each followed by its indicators, then (when the policy shares them)
//! the indicators in no campaign. Campaign briefs are read a page at a time and indicators
//! are streamed from the store, so memory stays bounded by one page of briefs plus what the
//! writer keeps for one campaign, whatever the size of the store. A delta (`since`) names a
//! campaign when it changed or when one of its indicators did.

use super::Feeds;
use anyhow::{Context, Result};
use feeds::intel::{FeedMeta, Format, IntelCampaign, Target};
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

/// Writes `format` for `meta.audience` to `target`.
pub fn export(
    store: &store::Store,
    feeds: &Feeds,
    meta: &FeedMeta,
    format: Format,
    target: Target,
) -> Result<ExportStats> {
    let audience = &meta.audience;
    let kinds: Vec<IndicatorKind> = format
        .kinds()
        .iter()
        .copied()
        .filter(|k| audience.kinds.contains(k))
        .collect();
    let mut writer = feeds::intel::writers::writer(format, meta, target)
        .with_context(|| format!("cannot start the {format} export"))?;
    let policy = &feeds.policy;
    let now = meta.generated_at;
    let since = meta.since;
    let mut stats = ExportStats::default();
    let mut failure: Option<std::io::Error> = None;
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
            let Some(c) = policy.campaign(brief) else {
                continue;
            };
            if !audience.admits_campaign(&c) {
                continue;
            }
            let c: Arc<IntelCampaign> = Arc::new(c);
            let mut announced = false;
            if since.is_none_or(|s| c.brief.changed_at > s) {
                writer.campaign(&c).context("cannot write a campaign")?;
                announced = true;
                stats.campaigns += 1;
            }
            if kinds.is_empty() {
                continue;
            }
            store
                .for_each_campaign_indicator(Some(c.id()), since, &kinds, &mut |row| {
                    stats.rows += 1;
                    let Some(ioc) = policy.ioc(row, Some(c.clone()), now) else {
                        return Ok(());
                    };
                    if !audience.admits(&ioc) {
                        return Ok(());
                    }
                    let written = (|| {
                        if !announced {
                            writer.campaign(&c)?;
                            announced = true;
                            stats.campaigns += 1;
                        }
                        writer.ioc(&ioc)
                    })();
                    match written {
                        Ok(()) => {
                            stats.indicators += 1;
                            Ok(())
                        }
                        Err(e) => {
                            failure = Some(e);
                            Err(store::StoreError::Closed)
                        }
                    }
                })
                .map_err(|e| match failure.take() {
                    Some(io) => anyhow::Error::new(io).context("cannot write the export"),
                    None => anyhow::Error::new(e).context("cannot read indicators"),
                })?;
        }
    }
    if policy.include_unclustered && !kinds.is_empty() {
        store
            .for_each_campaign_indicator(None, since, &kinds, &mut |row| {
                stats.rows += 1;
                let Some(ioc) = policy.ioc(row, None, now) else {
                    return Ok(());
                };
                if !audience.admits(&ioc) {
                    return Ok(());
                }
                match writer.ioc(&ioc) {
                    Ok(()) => {
                        stats.indicators += 1;
                        Ok(())
                    }
                    Err(e) => {
                        failure = Some(e);
                        Err(store::StoreError::Closed)
                    }
                }
            })
            .map_err(|e| match failure.take() {
                Some(io) => anyhow::Error::new(io).context("cannot write the export"),
                None => anyhow::Error::new(e).context("cannot read indicators"),
            })?;
    }
    writer.finish().context("cannot finish the export")?;
    Ok(stats)
}
