//! The clustering step: analysed reports into campaigns, then the early-warning rules.
//!
//! One step ([`Clustering::try_cluster_next`]) takes up to [`CLUSTER_BATCH`] reports that are
//! in no campaign yet, oldest first, and for each: features (`analysis::cluster::features`),
//! candidate campaigns from the store's key index, the pure decision
//! (`analysis::cluster::decide`), the store update (new / join / merge), the facet values and
//! never-seen values, then the alert rules (`analysis::warning::evaluate`) whose alerts are
//! stored with their deliveries. All of it is one store transaction: a crash repeats the step.
//! Events and the outbox wake-up go out after the commit.

use super::facets;
use analysis::cluster::{self, Decision, Thresholds};
use analysis::warning::{Novelty, Rules, Situation};
use anyhow::Result;
use model::campaign::CampaignId;
use model::{Alert, CampaignProfile, Event, EventKind};
use std::sync::Arc;
use store::{CampaignTx, Store};
use trap::EventSink;

/// Reports clustered per transaction: large enough to amortise the commit, small enough that
/// the write lock is not held for long (about 1 ms per report at worst).
pub const CLUSTER_BATCH: usize = 64;

/// Candidate campaigns scored per message (most shared keys first).
pub const MAX_CANDIDATES: usize = 16;

/// Campaign sizes at which a `spamhattan.campaign.grew` event is emitted.
const GREW_AT: [u64; 10] = [2, 5, 10, 20, 50, 100, 200, 500, 1_000, 10_000];

/// Clusters reports of one store and raises alerts.
#[derive(Clone)]
pub struct Clustering {
    pub thresholds: Thresholds,
    pub rules: Arc<Rules>,
    /// The configured alert receivers with their minimum severity: each alert gets one
    /// delivery per receiver that wants it.
    pub receivers: Vec<(String, model::Severity)>,
    pub events: Arc<dyn EventSink>,
    /// Woken after a step raised alerts (the delivery runner waits on it).
    pub outbox: Arc<tokio::sync::Notify>,
    /// Alerts this process knows are stored: the rules return an alert again for every later
    /// message that matches, and skipping those spares a statement each (two per message on
    /// a typical stream, each a network round trip on PostgreSQL).
    pub raised: RaisedAlerts,
}

/// Dedup keys of alerts known to be stored (committed). Alerts are never deleted, so a key
/// stored once is refused for ever by the store's `ON CONFLICT (dedup_key) DO NOTHING`; this
/// only answers that refusal without asking. Bounded: when full it is emptied, and the store
/// answers again.
#[derive(Clone, Default)]
pub struct RaisedAlerts(Arc<std::sync::Mutex<std::collections::HashSet<String>>>);

/// Dedup keys remembered at most (a few MiB).
const MAX_REMEMBERED_ALERTS: usize = 65_536;

impl RaisedAlerts {
    fn known(&self, key: &str) -> bool {
        self.0.lock().map(|k| k.contains(key)).unwrap_or(false)
    }

    /// Called after the commit only: a key raised by a step that rolled back is not stored.
    fn remember(&self, keys: Vec<String>) {
        if let Ok(mut known) = self.0.lock() {
            if known.len() + keys.len() > MAX_REMEMBERED_ALERTS {
                known.clear();
            }
            known.extend(keys);
        }
    }
}

impl std::fmt::Debug for Clustering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clustering")
            .field("receivers", &self.receivers)
            .finish()
    }
}

/// What a step did, for events after the commit.
#[derive(Debug, Default)]
struct Done {
    clustered: usize,
    events: Vec<Event>,
    alerts: Vec<Alert>,
    /// Dedup keys the store now holds (raised now or before).
    stored_keys: Vec<String>,
}

impl Clustering {
    /// One step; returns how many reports were put into campaigns (0: nothing was waiting).
    pub fn try_cluster_next(&self, store: &Store) -> Result<usize> {
        self.try_cluster_next_timed(store, None)
    }

    /// One step, pushing the time each message's assignment took (features, candidates,
    /// decision, store update, rules) into `timings`: for `campaigns bench`.
    pub fn try_cluster_next_timed(
        &self,
        store: &Store,
        mut timings: Option<&mut Vec<std::time::Duration>>,
    ) -> Result<usize> {
        let done = store.cluster(|tx| -> Result<Done> {
            let mut done = Done::default();
            for u in tx.pending(CLUSTER_BATCH)? {
                let started = std::time::Instant::now();
                self.place(tx, &u, &mut done)?;
                if let Some(t) = timings.as_deref_mut() {
                    t.push(started.elapsed());
                }
                done.clustered += 1;
            }
            Ok(done)
        })?;
        self.raised.remember(done.stored_keys);
        ::metrics::counter!(crate::metrics::names::CLUSTERED)
            .increment(u64::try_from(done.clustered).unwrap_or(u64::MAX));
        for e in done.events {
            self.events.emit(e);
        }
        if !done.alerts.is_empty() {
            for a in &done.alerts {
                self.events.emit(alert_event(a));
            }
            self.outbox.notify_one();
        }
        Ok(done.clustered)
    }

    /// Clusters until nothing is waiting; returns the total.
    pub fn drain(&self, store: &Store) -> Result<usize> {
        let mut total = 0;
        loop {
            match self.try_cluster_next(store)? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    fn place(&self, tx: &CampaignTx<'_>, u: &store::Unclustered, done: &mut Done) -> Result<()> {
        let f = cluster::features(&u.report, Some(&u.sighting));
        let keys = cluster::keys(&f);
        let mut profiles: Vec<(CampaignId, CampaignProfile)> = Vec::new();
        for (id, _) in tx.candidates(&keys, MAX_CANDIDATES)? {
            if let Some(p) = tx.profile(id)? {
                profiles.push((id, p));
            }
        }
        let refs: Vec<(CampaignId, &CampaignProfile)> =
            profiles.iter().map(|(id, p)| (*id, p)).collect();
        let message = u.report.message_id.to_hex();
        let id = match cluster::decide(&f, &refs, &self.thresholds) {
            Decision::New => {
                let profile = cluster::new_profile(&f);
                let id = tx.create(f.received_at, &profile)?;
                tx.index_keys(id, &keys)?;
                done.events.push(
                    Event::new(EventKind::CampaignCreated, Some(u.sighting.session_id))
                        .field("campaign", id)
                        .field("message_id", &message)
                        .field("class", f.class.as_str()),
                );
                id
            }
            Decision::Join { campaign, .. } => {
                let mut profile = find(&profiles, campaign)?;
                cluster::absorb(&mut profile, &f);
                tx.set_profile(campaign, &profile)?;
                tx.index_keys(campaign, &keys)?;
                campaign
            }
            Decision::Merge { into, from, score } => {
                let mut profile = find(&profiles, into)?;
                let detail = format!(
                    "message {message} matched all of them ({})",
                    score
                        .signals
                        .iter()
                        .map(|(s, w)| format!("{s} {w:.2}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                for other in &from {
                    let other_profile = find(&profiles, *other)?;
                    cluster::merge_profiles(&mut profile, &other_profile);
                    tx.merge(*other, into, &profile, "cluster", &detail, f.received_at)?;
                    done.events.push(
                        Event::new(EventKind::CampaignMerged, None)
                            .field("campaign", into)
                            .field("merged", *other)
                            .field("by", "cluster"),
                    );
                }
                cluster::absorb(&mut profile, &f);
                tx.set_profile(into, &profile)?;
                tx.index_keys(into, &keys)?;
                into
            }
        };
        tx.assign(
            u.seq,
            id,
            f.received_at,
            f.class,
            &facets::of(&f, &u.report),
        )?;
        let seen = facets::novelty(&f);
        let fresh = tx.novel_all(&seen, f.received_at)?;
        let novel: Vec<Novelty> = seen
            .into_iter()
            .zip(fresh)
            .filter(|(_, fresh)| *fresh)
            .map(|((facet, value), _)| Novelty {
                facet: facet.to_string(),
                value,
            })
            .collect();
        let Some(campaign) = tx.campaign(id, f.received_at)? else {
            anyhow::bail!("campaign {id} vanished inside its own transaction");
        };
        if GREW_AT.contains(&campaign.messages) {
            done.events.push(
                Event::new(EventKind::CampaignGrew, None)
                    .field("campaign", id)
                    .field("messages", campaign.messages)
                    .field("class", campaign.verdict.as_str()),
            );
        }
        let hours = u32::try_from(self.rules.trap_rate_hours()).unwrap_or(u32::MAX);
        let trap_rate = tx.trap_rate(f.received_at, hours)?;
        let situation = Situation {
            now: f.received_at,
            features: &f,
            campaign: &campaign,
            novel: &novel,
            trap_rate: &trap_rate,
        };
        let known = |key: &str| self.raised.known(key);
        for mut alert in analysis::warning::evaluate_unless(&self.rules, &situation, known) {
            alert.id = uuid::Uuid::now_v7();
            alert.created_at = model::now();
            let to: Vec<String> = self
                .receivers
                .iter()
                .filter(|(_, min)| alert.severity >= *min)
                .map(|(name, _)| name.clone())
                .collect();
            done.stored_keys.push(alert.dedup_key.clone());
            if tx.raise(&alert, &to)? {
                done.alerts.push(alert);
            }
        }
        Ok(())
    }
}

/// Merges campaign `from` into `into` on an analyst's request.
pub fn merge_by_analyst(store: &Store, from: CampaignId, into: CampaignId) -> Result<()> {
    store.cluster(|tx| -> Result<()> {
        let Some(mut profile) = tx.profile(into)? else {
            anyhow::bail!("campaign {into} does not exist or was merged into another");
        };
        let Some(other) = tx.profile(from)? else {
            anyhow::bail!("campaign {from} does not exist or was merged into another");
        };
        cluster::merge_profiles(&mut profile, &other);
        tx.merge(from, into, &profile, "analyst", "", model::now())?;
        Ok(())
    })
}

fn find(profiles: &[(CampaignId, CampaignProfile)], id: CampaignId) -> Result<CampaignProfile> {
    profiles
        .iter()
        .find(|(c, _)| *c == id)
        .map(|(_, p)| p.clone())
        .ok_or_else(|| anyhow::anyhow!("the clusterer chose campaign {id}, not a candidate"))
}

fn alert_event(a: &Alert) -> Event {
    Event::new(EventKind::AlertRaised, None)
        .field("alert", a.id)
        .field("rule", &a.rule)
        .field("severity", a.severity.as_str())
        .field("campaign", a.campaign)
        .field("title", &a.title)
        .field("dedup_key", &a.dedup_key)
}

#[cfg(test)]
mod tests {
    use super::{MAX_REMEMBERED_ALERTS, RaisedAlerts};

    #[test]
    fn remembered_alert_keys_are_shared_by_clones_and_bounded() {
        let raised = RaisedAlerts::default();
        let clone = raised.clone();
        assert!(!raised.known("new-campaign:1"));
        clone.remember(vec!["new-campaign:1".into()]);
        assert!(
            raised.known("new-campaign:1"),
            "clones share what they learnt"
        );
        let many: Vec<String> = (0..MAX_REMEMBERED_ALERTS)
            .map(|i| format!("k{i}"))
            .collect();
        raised.remember(many);
        assert!(
            !raised.known("new-campaign:1"),
            "a full set is emptied, not grown"
        );
        assert!(raised.known("k7"));
    }
}
