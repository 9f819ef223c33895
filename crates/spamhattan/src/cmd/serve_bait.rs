//! The bait listener of `serve`: bound before the ready line when `[bait] listen` is set, its
//! visits written to the event log (and counted, on the way, by the metrics sink).

use crate::config::Config;
use anyhow::{Context, Result};
use model::{BaitVisit, Event, EventKind};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use trap::EventSink;
use web::bait::{Bait, VisitObserver};

/// Writes a `spamhattan.bait.visit` event for every stored visit.
pub struct VisitEvents {
    sink: Arc<dyn EventSink>,
}

impl std::fmt::Debug for VisitEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VisitEvents")
    }
}

impl VisitEvents {
    pub fn new(sink: Arc<dyn EventSink>) -> VisitEvents {
        VisitEvents { sink }
    }
}

impl VisitObserver for VisitEvents {
    fn visited(&self, visit: &BaitVisit, seeds: &[store::SeedRecord]) {
        let shown: Vec<serde_json::Value> = seeds
            .iter()
            .map(|s| {
                serde_json::json!({
                    "address": s.address,
                    "form": s.form.map(|f| f.as_str()),
                })
            })
            .collect();
        self.sink.emit(
            Event::new(EventKind::BaitVisit, None)
                .field("visit", visit.id)
                .field("ip", &visit.ip)
                .field("user_agent", &visit.user_agent)
                .field("referer", &visit.referer)
                .field("path", &visit.path)
                .field("seeds", shown),
        );
    }
}

/// Binds the bait listener when `[bait] listen` is set; `serve` does it with its other
/// sockets, before it gives up root.
pub fn bind(cfg: &Config) -> Result<Option<std::net::TcpListener>> {
    let Some(bait) = &cfg.bait else {
        return Ok(None);
    };
    let listener = super::serve::bind_tcp(bait.listen)
        .with_context(|| format!("cannot bind the bait listener {}", bait.listen))?;
    Ok(Some(listener))
}

/// Serves the bait listener bound by [`bind`] until `stop` completes. Returns the bound
/// address and the server task.
pub async fn start(
    cfg: &Config,
    listener: Option<std::net::TcpListener>,
    store: &store::Store,
    sink: Arc<dyn EventSink>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Option<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)>> {
    let (Some(bait), Some(listener)) = (&cfg.bait, listener) else {
        return Ok(None);
    };
    let listener = tokio::net::TcpListener::from_std(listener)
        .with_context(|| format!("cannot register the bait listener {}", bait.listen))?;
    let local = listener.local_addr()?;
    let state = Bait::new(Arc::new(store.clone()), bait.settings.clone())
        .with_observer(Arc::new(VisitEvents::new(sink)));
    let router = web::bait::app(Arc::new(state));
    let limits = web::conn::ConnLimits {
        proxies: bait.settings.trusted_proxies.clone(),
        ..web::conn::ConnLimits::default()
    };
    Ok(Some((
        local,
        tokio::spawn(web::serve_limited(listener, router, limits, stop)),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<Event>>);

    impl EventSink for Collect {
        fn emit(&self, event: Event) {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
        }
    }

    #[test]
    fn a_visit_becomes_one_event_with_its_seeds() {
        let sink = Arc::new(Collect::default());
        let visit = BaitVisit {
            id: uuid::Uuid::now_v7(),
            at: model::now(),
            ip: "192.0.2.7".into(),
            user_agent: "Harvester/1.0".into(),
            referer: String::new(),
            path: "/team".into(),
        };
        let seed = store::SeedRecord {
            id: 1,
            token: "k3x9q2m7wd1a".into(),
            address: "anna.k3x9q2m7wd1a@trap.example".into(),
            domain: "trap.example".into(),
            origin: model::SeedOrigin::Visit,
            form: Some(model::BaitForm::Mailto),
            label: "team/sales".into(),
            visit: Some(visit.id),
            issued_at: visit.at,
            hits: 0,
            first_hit: None,
            last_hit: None,
        };
        VisitEvents::new(sink.clone()).visited(&visit, &[seed]);
        let events = sink.0.lock().expect("events");
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind.id(), "spamhattan.bait.visit");
        let f = events[0].fields();
        assert_eq!(f["visit"], visit.id.to_string());
        assert_eq!(f["ip"], "192.0.2.7");
        assert_eq!(f["user_agent"], "Harvester/1.0");
        assert_eq!(f["path"], "/team");
        assert_eq!(f["seeds"][0]["address"], "anna.k3x9q2m7wd1a@trap.example");
        assert_eq!(f["seeds"][0]["form"], "mailto");
    }
}
