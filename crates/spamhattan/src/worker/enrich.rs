//! Enrichment of analysed reports: authentication results and ClamAV hits, then a rescore.

use super::Analyzed;
use analysis::Engine;
use model::report::ScanHit;
use std::net::IpAddr;

/// The network-facing enrichers a worker uses; each is optional.
#[derive(Debug, Default)]
pub struct Enricher {
    auth: Option<enrich::Authenticator>,
    clamd: Option<enrich::Clamd>,
}

impl Enricher {
    /// Nothing to enrich with (offline analysis, tests).
    #[cfg(test)]
    pub fn none() -> Enricher {
        Enricher::default()
    }

    /// Builds the enrichers of the resolved configuration. Must run inside a tokio runtime
    /// (the resolver binds to it).
    pub fn from_settings(s: &crate::config::AnalysisSettings) -> anyhow::Result<Enricher> {
        // A machine without a usable resolver (no resolv.conf in a container) still runs the
        // trap and the analysis: authentication is skipped, and the log says why.
        let auth = match &s.auth {
            Some(cfg) => match enrich::Authenticator::new(cfg) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!(error = %e, "authentication (SPF/DKIM/DMARC) is off: no resolver");
                    None
                }
            },
            None => None,
        };
        let clamd = match &s.clamav {
            Some(cfg) => Some(enrich::Clamd::new(cfg)?),
            None => None,
        };
        Ok(Enricher { auth, clamd })
    }

    pub fn is_empty(&self) -> bool {
        self.auth.is_none() && self.clamd.is_none()
    }

    /// Enriches every item concurrently and rescores it.
    pub async fn enrich_all(&self, engine: &Engine, items: &mut [Analyzed]) {
        if self.is_empty() {
            return;
        }
        let futures = items.iter_mut().map(|item| self.enrich(engine, item));
        futures_join_all(futures).await;
    }

    /// Enriches one item and rescores it.
    pub async fn enrich(&self, engine: &Engine, item: &mut Analyzed) {
        if self.is_empty() {
            return;
        }
        if let Some(auth) = &self.auth
            && let Some(ip) = peer_ip(&item.sighting.peer)
        {
            let helo = item.sighting.helo.clone().unwrap_or_default();
            let results = auth
                .evaluate(&item.raw, ip, &helo, item.sighting.sender())
                .await;
            item.report.auth = Some(results);
        }
        if let Some(clamd) = &self.clamd {
            match clamd.scan(&item.raw).await {
                Ok(Some(signature)) => item.report.scans.push(ScanHit {
                    engine: "clamav".into(),
                    rule: signature,
                    namespace: None,
                    tags: vec![],
                    at: "message".into(),
                }),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "clamd scan failed");
                    item.report.anomalies.push(model::report::ReportAnomaly {
                        kind: model::AnomalyKind::BudgetExceeded,
                        at: "message".into(),
                        detail: format!("clamav: {e}"),
                    });
                }
            }
        }
        engine.rescore(&mut item.report);
    }
}

/// Runs futures concurrently on the current task (no spawning, so borrowed items are fine).
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set: Vec<std::pin::Pin<Box<F>>> = futures.map(Box::pin).collect();
    std::future::poll_fn(move |cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}

/// The IP of a sighting's `ip:port` peer (empty for imports).
fn peer_ip(peer: &str) -> Option<IpAddr> {
    peer.parse::<std::net::SocketAddr>()
        .map(|a| a.ip())
        .ok()
        .or_else(|| peer.parse().ok())
}
