//! `GET /events`: live updates for open console pages, as Server-Sent Events.
//!
//! One task per console polls the store once a second for new messages and alerts and
//! broadcasts what it found (`tokio::sync::broadcast`); every open page is a receiver. The
//! store is the only source (the web crate never hears the trap directly, see
//! `docs/ARCHITECTURE.md`), so a second's delay is the price of that separation. The task
//! starts with the first client and stops when the last one leaves. Clients are bounded
//! ([`MAX_SSE_CLIENTS`]); a client too slow to keep up skips the events it missed.
//!
//! Event names: `message-captured` (`{id, received, verdict, from, subject, peer, size}`) and
//! `alert-raised` (`{id, created, severity, rule, title, campaign, deliveries}`). The page's
//! script puts them in the columns a table names in its `data-live` attribute, as text only.

use super::when;
use crate::error::{ApiError, PlainError};
use crate::login::PageUser;
use crate::state::Console;
use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};

/// Open event streams at most. Each holds a connection and a receiver; an analyst team has
/// a few dozen tabs open, and a script opening thousands must not exhaust sockets.
pub const MAX_SSE_CLIENTS: usize = 64;

/// How often the store is asked for news.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Events buffered per client before a slow one starts skipping.
pub const CHANNEL_CAPACITY: usize = 256;

/// New messages or alerts read per poll; a burst larger than this shows its newest part
/// (the page's list is a reload away).
pub const MAX_PER_POLL: usize = 50;

/// Ids remembered to avoid announcing one twice (several arrivals in the same instant).
const REMEMBERED: usize = 4 * MAX_PER_POLL;

/// One live update, ready to send.
#[derive(Debug, Clone)]
pub struct Update {
    pub name: &'static str,
    pub json: String,
}

/// The broadcaster shared by the streams of one console (one per [`super::routes`] call,
/// reached through an `Extension`: the console state belongs to other modules).
#[derive(Debug)]
pub struct Live {
    tx: broadcast::Sender<Update>,
    clients: Arc<Semaphore>,
    poller: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Default for Live {
    fn default() -> Self {
        Live {
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
            clients: Arc::new(Semaphore::new(MAX_SSE_CLIENTS)),
            poller: Mutex::new(None),
        }
    }
}

pub(super) async fn stream(
    State(console): State<Arc<Console>>,
    Extension(live): Extension<Arc<Live>>,
    _user: PageUser,
) -> Result<Response, PlainError> {
    let permit = Arc::clone(&live.clients).try_acquire_owned().map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable",
            "too many live update streams are open; close a console tab and reload",
        )
    })?;
    let rx = live.tx.subscribe();
    live.ensure_poller(&console);
    Ok(Sse::new(events(rx, permit))
        .keep_alive(KeepAlive::default())
        .into_response())
}

fn events(
    rx: broadcast::Receiver<Update>,
    permit: OwnedSemaphorePermit,
) -> impl Stream<Item = Result<Event, Infallible>> {
    stream::unfold((rx, permit), |(mut rx, permit)| async move {
        loop {
            match rx.recv().await {
                Ok(u) => {
                    let event = Event::default().event(u.name).data(u.json);
                    return Some((Ok(event), (rx, permit)));
                }
                // Too slow: skip what was missed, keep the stream.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}

impl Live {
    fn ensure_poller(self: &Arc<Self>, console: &Arc<Console>) {
        let mut poller = self.poller.lock().unwrap_or_else(|p| p.into_inner());
        if poller.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let live = Arc::clone(self);
        let console = Arc::downgrade(console);
        // Taken now, not when the task first runs: what arrives after this request is news.
        let since = model::now();
        *poller = Some(tokio::spawn(async move { live.run(console, since).await }));
    }

    /// Polls until no client listens (or the console is gone). What arrived before `since`
    /// (the first client's connection) is on the page that client loaded.
    async fn run(self: Arc<Self>, console: std::sync::Weak<Console>, since: model::Timestamp) {
        let mut seen = Seen::default();
        let mut tick = tokio::time::interval(POLL_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if self.tx.receiver_count() == 0 {
                return;
            }
            let Some(console) = console.upgrade() else {
                return;
            };
            let found = tokio::task::spawn_blocking(move || {
                let updates = poll(&console.store, since, &mut seen);
                (seen, updates)
            })
            .await;
            let updates = match found {
                Ok((kept, updates)) => {
                    seen = kept;
                    updates
                }
                Err(e) => {
                    // The task panicked and took `seen` with it: start over quietly.
                    tracing::warn!(error = %e, "live updates: poll task failed");
                    seen = Seen::default();
                    continue;
                }
            };
            match updates {
                Ok(updates) => {
                    for update in updates {
                        let _ = self.tx.send(update);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "live updates: store read failed"),
            }
        }
    }
}

/// Ids already announced (bounded, oldest forgotten first).
#[derive(Debug, Default)]
struct Seen(VecDeque<uuid::Uuid>);

impl Seen {
    fn contains(&self, id: &uuid::Uuid) -> bool {
        self.0.contains(id)
    }

    fn insert(&mut self, id: uuid::Uuid) {
        if self.0.len() == REMEMBERED {
            self.0.pop_front();
        }
        self.0.push_back(id);
    }
}

/// Messages and alerts that arrived since `since` and are not in `seen` yet, oldest first
/// (they are added to `seen`).
fn poll(
    store: &store::Store,
    since: model::Timestamp,
    seen: &mut Seen,
) -> Result<Vec<Update>, store::StoreError> {
    let filter = store::MessageFilter {
        after: Some(since),
        ..store::MessageFilter::default()
    };
    let (rows, _) = store.search_messages(&filter, MAX_PER_POLL, None)?;
    let alerts = store.alerts(Some(since), MAX_PER_POLL)?;
    let mut out = Vec::new();
    for m in rows.iter().rev() {
        if seen.contains(&m.sighting) {
            continue;
        }
        seen.insert(m.sighting);
        let subject = m
            .subject
            .clone()
            .or_else(|| subject_of(store, m.sighting))
            .unwrap_or_default();
        let json = serde_json::json!({
            "id": m.sighting.hyphenated().to_string(),
            "received": when(m.received_at),
            "verdict": m.verdict.map(|v| v.as_str()).unwrap_or("pending"),
            "from": m.from.as_deref().unwrap_or(&m.envelope_from),
            "subject": subject,
            "peer": m.peer,
            "size": m.size,
        });
        out.push(Update {
            name: "message-captured",
            json: json.to_string(),
        });
    }
    for a in alerts.iter().rev() {
        if seen.contains(&a.alert.id) {
            continue;
        }
        seen.insert(a.alert.id);
        let deliveries: Vec<String> = a
            .deliveries
            .iter()
            .map(|d| format!("{}: {}", d.receiver, d.state))
            .collect();
        let json = serde_json::json!({
            "id": a.alert.id.hyphenated().to_string(),
            "created": when(a.alert.created_at),
            "severity": a.alert.severity.as_str(),
            "rule": a.alert.rule,
            "title": a.alert.title,
            "campaign": a.alert.campaign.map(|c| format!("#{c}")),
            "deliveries": deliveries.join(", "),
        });
        out.push(Update {
            name: "alert-raised",
            json: json.to_string(),
        });
    }
    Ok(out)
}

/// The subject of a message not analysed yet, from its raw header block.
fn subject_of(store: &store::Store, sighting: uuid::Uuid) -> Option<String> {
    let s = store.sighting(sighting).ok()??;
    match store.raw(&s.message_id).ok()? {
        store::RawLookup::Found(raw) => crate::mail_view::subject(&raw),
        _ => None,
    }
}
