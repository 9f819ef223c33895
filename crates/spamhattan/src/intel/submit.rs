//! Submission connectors in the binary: a pass reads the indicators changed since the
//! connector's cursor, takes them through the sharing policy and the connector's audience,
//! builds the service's requests (`feeds::intel::submit`) and sends them; the cursor moves
//! only once a batch was accepted (or refused for good), so delivery is at least once and the
//! services deduplicate. `run_connectors` repeats passes inside `serve`.
//!
//! The cursor is the store's feed state `submit:<name>`: 16 bytes, `changed_at` (unix nanos)
//! and row id, big-endian, the same order `intel_indicators` pages in.

use super::Feeds;
use anyhow::{Context, Result, anyhow, bail};
use feeds::alert::backoff;
use feeds::http_client::{Endpoint, Post};
use feeds::intel::submit::{
    ConnectorConfig, ConnectorKind, Request, Verdict, abusech, judge, misp,
};
use feeds::intel::{Audience, FeedWriter, IntelCampaign, Ioc};
use model::CampaignId;
use model::report::IndicatorKind;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

/// Attempts per request inside `serve` before the pass gives up (the next pass starts over).
pub const SERVE_ATTEMPTS: u32 = 5;
/// Attempts per request for `spamhattan submit` (a person is waiting).
pub const CLI_ATTEMPTS: u32 = 3;
/// Stored sightings tried when looking for a payload's bytes.
const MAX_SIGHTINGS_PER_FILE: usize = 5;

/// A connector ready to run: its section, its audience, its resolved endpoint.
#[derive(Debug, Clone)]
pub struct Connector {
    pub cfg: ConnectorConfig,
    pub audience: Audience,
    endpoint: Endpoint,
}

impl Connector {
    /// The connector `name` of the configuration.
    pub fn named(feeds: &Feeds, name: &str) -> Result<Connector> {
        let cfg = feeds
            .settings
            .connectors
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| anyhow!("no connector {name:?}"))?;
        Connector::build(feeds, cfg.clone())
    }

    fn build(feeds: &Feeds, cfg: ConnectorConfig) -> Result<Connector> {
        let audience = feeds.settings.audience(Some(&cfg.audience))?;
        let endpoint = Endpoint::parse(cfg.url(), cfg.ca_file.as_deref())
            .map_err(|e| anyhow!("feeds.connector {}: {e}", cfg.name))?;
        Ok(Connector {
            cfg,
            audience,
            endpoint,
        })
    }

    fn state_key(&self) -> String {
        format!("submit:{}", self.cfg.name)
    }
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PassStats {
    /// Store rows read.
    pub rows: u64,
    /// Items (indicators, files, events) in requests built.
    pub items: u64,
    pub requests: u64,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: u64,
    /// Payloads whose bytes were not at hand (raw message purged) or named the trap.
    pub files_missing: u64,
}

/// How a pass delivers: print the requests, or send them with up to `attempts` tries each.
pub enum Delivery<'a> {
    DryRun(&'a mut (dyn Write + Send)),
    Send { attempts: u32 },
}

/// One pass over everything changed since the cursor, at most `limit` indicators.
pub async fn pass(
    store: &store::Store,
    feeds: &Feeds,
    c: &Connector,
    limit: Option<usize>,
    mut delivery: Delivery<'_>,
) -> Result<PassStats> {
    let mut stats = PassStats::default();
    let mut cursor = load_cursor(store, &c.state_key())?;
    let mut offered = 0usize;
    let mut briefs: HashMap<CampaignId, Option<Arc<IntelCampaign>>> = HashMap::new();
    loop {
        let room = limit.map_or(usize::MAX, |l| l.saturating_sub(offered));
        if room == 0 {
            break;
        }
        let page = c.cfg.batch().min(room);
        let rows = store
            .intel_indicators(cursor, c.cfg.kind.kinds(), page)
            .context("cannot read indicators")?;
        let Some(last) = rows.last() else { break };
        let next = store::IntelCursor {
            at: i64::try_from(last.changed_at.unix_timestamp_nanos()).unwrap_or(i64::MAX),
            id: last.id,
        };
        stats.rows += rows.len() as u64;
        let now = model::now();
        let mut iocs = Vec::new();
        for row in rows {
            let campaign = match row.campaign {
                Some(id) => campaign(store, feeds, &c.audience, &mut briefs, id)?,
                None => None,
            };
            if let Some(ioc) = feeds.policy.ioc(row, campaign, now)
                && c.cfg.admits(&c.audience, &ioc)
            {
                iocs.push(ioc);
            }
        }
        offered += iocs.len();
        let requests = requests(store, feeds, c, &iocs, &mut stats)?;
        for request in requests {
            stats.requests += 1;
            stats.items += request.items as u64;
            deliver(c, request, &mut delivery, &mut stats).await?;
        }
        cursor = Some(next);
        if matches!(delivery, Delivery::Send { .. }) {
            save_cursor(store, &c.state_key(), next)?;
        }
    }
    Ok(stats)
}

/// The campaign as the audience may see it, read once per pass.
fn campaign(
    store: &store::Store,
    feeds: &Feeds,
    audience: &Audience,
    cache: &mut HashMap<CampaignId, Option<Arc<IntelCampaign>>>,
    id: CampaignId,
) -> Result<Option<Arc<IntelCampaign>>> {
    if let Some(c) = cache.get(&id) {
        return Ok(c.clone());
    }
    let brief = store.intel_campaign(id).context("cannot read a campaign")?;
    let c = brief
        .and_then(|b| feeds.policy.campaign(b))
        .filter(|c| audience.admits_campaign(c))
        .map(Arc::new);
    cache.insert(id, c.clone());
    Ok(c)
}

/// The service's requests for one batch of admitted indicators.
fn requests(
    store: &store::Store,
    feeds: &Feeds,
    c: &Connector,
    iocs: &[Ioc],
    stats: &mut PassStats,
) -> Result<Vec<Request>> {
    Ok(match c.cfg.kind {
        ConnectorKind::Urlhaus => abusech::urlhaus(&c.cfg, iocs).into_iter().collect(),
        ConnectorKind::Threatfox => abusech::threatfox(&c.cfg, iocs),
        ConnectorKind::Malwarebazaar => {
            let mut out = Vec::new();
            for ioc in iocs {
                match payload(store, feeds, &ioc.value)? {
                    Some(data) => out.push(abusech::malwarebazaar(&c.cfg, ioc, &data)),
                    None => stats.files_missing += 1,
                }
            }
            out
        }
        ConnectorKind::Misp => {
            let mut seen = Vec::new();
            let mut out = Vec::new();
            for campaign in iocs.iter().filter_map(|i| i.campaign.as_ref()) {
                if seen.contains(&campaign.id()) {
                    continue;
                }
                seen.push(campaign.id());
                let event = misp_event(store, feeds, c, campaign)?;
                out.push(misp::add(&c.cfg, c.endpoint.path(), &event));
            }
            out
        }
    })
}

/// The bytes of the payload `sha256`: a top-level attachment of a stored message that
/// carried it. `None` when retention removed the messages, or when the file's text names the
/// trap (a form pre-filled with a trap address must not leave).
fn payload(store: &store::Store, feeds: &Feeds, sha256: &str) -> Result<Option<Vec<u8>>> {
    let Some(record) = store
        .indicator(IndicatorKind::Sha256, sha256, MAX_SIGHTINGS_PER_FILE)
        .context("cannot read an indicator")?
    else {
        return Ok(None);
    };
    for id in record.sightings {
        let Some(sighting) = store.sighting(id).context("cannot read a sighting")? else {
            continue;
        };
        let store::RawLookup::Found(raw) = store
            .raw(&sighting.message_id)
            .context("cannot read a message")?
        else {
            continue;
        };
        let files = analysis::top_level_attachments(&raw, analysis::AttachmentLimits::default());
        if let Some((_, data)) = files
            .into_iter()
            .find(|(_, d)| abusech::sha256_hex(d) == sha256)
        {
            if feeds.policy.redactor.burns(&String::from_utf8_lossy(&data)) {
                tracing::info!(sha256, "payload names the trap; not uploaded");
                return Ok(None);
            }
            return Ok(Some(data));
        }
    }
    Ok(None)
}

/// The campaign's whole MISP event (every indicator the audience may read), built by the MISP
/// feed writer into a scratch directory and read back, so the API receives exactly what the
/// published feed holds.
fn misp_event(
    store: &store::Store,
    feeds: &Feeds,
    c: &Connector,
    campaign: &Arc<IntelCampaign>,
) -> Result<serde_json::Value> {
    let dir = std::env::temp_dir().join(format!(
        "spamhattan-submit-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    let meta = feeds.meta(c.audience.clone(), None, 0);
    let built = (|| -> Result<serde_json::Value> {
        let mut writer = Box::new(feeds::intel::misp::MispWriter::new(&meta, dir.clone())?);
        writer.campaign(campaign)?;
        let kinds = ConnectorKind::Misp.kinds();
        let mut failure = None;
        store.for_each_campaign_indicator(Some(campaign.id()), None, kinds, &mut |row| {
            if let Some(ioc) = feeds
                .policy
                .ioc(row, Some(campaign.clone()), meta.generated_at)
                && c.audience.admits(&ioc)
                && let Err(e) = writer.ioc(&ioc)
            {
                failure = Some(e);
                return Err(store::StoreError::Closed);
            }
            Ok(())
        })?;
        if let Some(e) = failure {
            return Err(e.into());
        }
        writer.finish()?;
        let path = dir.join(format!("{}.json", campaign.brief.uuid));
        let text =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        Ok(serde_json::from_slice(&text)?)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    built.context("cannot build the MISP event")
}

/// Prints or sends one request; a MISP add refused as "already exists" becomes an edit.
async fn deliver(
    c: &Connector,
    request: Request,
    delivery: &mut Delivery<'_>,
    stats: &mut PassStats,
) -> Result<()> {
    let attempts = match delivery {
        Delivery::DryRun(out) => {
            let line = request.describe(&c.cfg.name, c.cfg.url());
            writeln!(out, "{line}")?;
            return Ok(());
        }
        Delivery::Send { attempts } => *attempts,
    };
    let mut verdict = send(c, &request, attempts).await?;
    if c.cfg.kind == ConnectorKind::Misp && verdict == Verdict::Duplicate {
        let uuid = request.summary["Event"]["uuid"]
            .as_str()
            .and_then(|u| uuid::Uuid::parse_str(u).ok())
            .ok_or_else(|| anyhow!("MISP event without uuid"))?;
        let edit = misp::edit(&c.cfg, c.endpoint.path(), uuid, &request.summary);
        verdict = send(c, &edit, attempts).await?;
        if verdict == Verdict::Duplicate {
            verdict = Verdict::Accepted;
        }
    }
    match verdict {
        Verdict::Accepted => stats.accepted += 1,
        Verdict::Duplicate => stats.duplicates += 1,
        Verdict::Rejected(why) => {
            stats.rejected += 1;
            tracing::warn!(connector = %c.cfg.name, reason = %why, "submission refused; skipped");
        }
        Verdict::Stop(why) => bail!("{} refused the credentials: {why}", c.cfg.name),
        Verdict::Retry(why) => bail!("{} did not take the submission: {why}", c.cfg.name),
    }
    Ok(())
}

/// Sends with retries (backoff between attempts); the last verdict.
async fn send(c: &Connector, request: &Request, attempts: u32) -> Result<Verdict> {
    let seed = u64::from_le_bytes(
        abusech::sha256_hex(&request.body).as_bytes()[..8]
            .try_into()
            .expect("a SHA-256 hex string has 64 bytes"),
    );
    let mut attempt = 0;
    loop {
        attempt += 1;
        let post = Post {
            path: request.path.as_deref(),
            content_type: &request.content_type,
            headers: request
                .headers
                .iter()
                .map(|(n, v)| (*n, v.clone()))
                .collect(),
            body: request.body.clone(),
            read_success_body: true,
        };
        let verdict = match c.endpoint.post(post, c.cfg.timeout()).await {
            Ok(response) => judge(c.cfg.kind, &response),
            Err(e) if e.retry => Verdict::Retry(e.message),
            Err(e) => Verdict::Rejected(e.message),
        };
        match verdict {
            Verdict::Retry(why) if attempt < attempts.max(1) => {
                let wait = backoff(attempt, seed);
                tracing::info!(connector = %c.cfg.name, attempt, reason = %why, wait_ms = wait.as_millis() as u64, "submission failed; retrying");
                tokio::time::sleep(wait).await;
            }
            v => return Ok(v),
        }
    }
}

fn load_cursor(store: &store::Store, key: &str) -> Result<Option<store::IntelCursor>> {
    let Some(bytes) = store
        .feed_state(key)
        .context("cannot read the connector cursor")?
    else {
        return Ok(None);
    };
    let (at, id) = bytes
        .split_at_checked(8)
        .ok_or_else(|| anyhow!("bad cursor {key}"))?;
    let at: [u8; 8] = at.try_into().map_err(|_| anyhow!("bad cursor {key}"))?;
    let id: [u8; 8] = id.try_into().map_err(|_| anyhow!("bad cursor {key}"))?;
    Ok(Some(store::IntelCursor {
        at: i64::from_be_bytes(at),
        id: i64::from_be_bytes(id),
    }))
}

fn save_cursor(store: &store::Store, key: &str, c: store::IntelCursor) -> Result<()> {
    let mut v = c.at.to_be_bytes().to_vec();
    v.extend_from_slice(&c.id.to_be_bytes());
    store
        .set_feed_state(key, &v)
        .context("cannot save the connector cursor")
}

/// Runs every configured connector on its own timer until `shutdown` changes. A failed pass
/// is logged; the next one starts from the same cursor.
pub async fn run_connectors(
    store: store::Store,
    feeds: Arc<Feeds>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut tasks = Vec::new();
    for cfg in feeds.settings.connectors.clone() {
        let connector = match Connector::build(&feeds, cfg) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "connector not started");
                continue;
            }
        };
        let (store, feeds, mut shutdown) = (store.clone(), feeds.clone(), shutdown.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let run = pass(&store, &feeds, &connector, None, Delivery::Send {
                    attempts: SERVE_ATTEMPTS,
                });
                tokio::select! {
                    r = run => match r {
                        Ok(s) if s.requests > 0 => tracing::info!(connector = %connector.cfg.name, requests = s.requests, items = s.items, accepted = s.accepted, duplicates = s.duplicates, rejected = s.rejected, "submitted"),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(connector = %connector.cfg.name, error = format!("{e:#}"), "submission pass failed"),
                    },
                    _ = shutdown.changed() => return,
                }
                tokio::select! {
                    _ = tokio::time::sleep(connector.cfg.every()) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}
