//! The alert outbox runner: delivers stored alerts to their receivers (webhooks, chat, syslog),
//! never by mail.
//!
//! Alerts and one `pending` delivery per receiver are stored by the clustering step before
//! anything is sent. [`Outbox::try_deliver_due`] is one step: take the due deliveries, send them
//! (receivers in parallel, one receiver's alerts in order), record each outcome: delivered,
//! retry later with backoff (connection errors, timeouts, 408/425/429/5xx), or failed for good
//! (other 4xx, or the receiver is no longer configured). Rate limits per receiver delay
//! deliveries, never drop them. [`Outbox::run`] repeats the step when woken by the clustering
//! step, when the next retry is due, or every [`IDLE_CHECK`] (alerts raised by another process).

use anyhow::Result;
use feeds::alert::{RateLimiter, Sink};
use model::{Event, EventKind};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use store::{Attempt, Delivery, Store};
use tokio::sync::{Mutex, Notify};
use trap::EventSink;

/// Deliveries taken per step.
pub const OUTBOX_BATCH: usize = 256;

/// A delivery taken for sending ([`store::Store::claim_delivery`]) is due again after the
/// receiver's timeout plus this margin, if its outcome was never recorded (the process died
/// while sending): long enough for the `spawn_blocking` round trips around the attempt.
pub const CLAIM_MARGIN: Duration = Duration::from_secs(60);

/// The runner looks at the outbox at least this often: alerts raised by another process
/// (a `worker` next to `serve`) are delivered within it.
pub const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Shortest pause between steps that sent nothing.
const MIN_WAIT: Duration = Duration::from_millis(20);

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    /// Deliveries attempted (delivered, rescheduled or failed).
    pub attempted: usize,
    /// Some deliveries are due but a rate limit holds them back for this long.
    pub hold: Option<Duration>,
}

/// One receiver: its sink and its rate limiter.
struct Receiver {
    sink: Sink,
    limiter: Mutex<RateLimiter>,
}

/// Delivers the outbox of one store.
#[derive(Clone)]
pub struct Outbox {
    store: Store,
    receivers: Arc<HashMap<String, Arc<Receiver>>>,
    events: Arc<dyn EventSink>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("receivers", &self.receivers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Outbox {
    /// An outbox delivering to `sinks`, each with its deliveries-per-minute limit.
    pub fn new(store: Store, sinks: Vec<(Sink, u32)>, events: Arc<dyn EventSink>) -> Outbox {
        let receivers = sinks
            .into_iter()
            .map(|(sink, per_minute)| {
                let limiter = Mutex::new(RateLimiter::per_minute(per_minute));
                (
                    sink.name().to_string(),
                    Arc::new(Receiver { sink, limiter }),
                )
            })
            .collect();
        Outbox {
            store,
            receivers: Arc::new(receivers),
            events,
        }
    }

    /// One step: sends every delivery due now. When a rate limit holds some back, they stay
    /// due and [`Step::hold`] says how long until the limit lets the next one through.
    pub async fn try_deliver_due(&self) -> Result<Step> {
        let store = self.store.clone();
        let due =
            tokio::task::spawn_blocking(move || store.due_deliveries(model::now(), OUTBOX_BATCH))
                .await??;
        let mut by_receiver: HashMap<String, Vec<Delivery>> = HashMap::new();
        for d in due {
            by_receiver.entry(d.receiver.clone()).or_default().push(d);
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (name, list) in by_receiver {
            let this = self.clone();
            let receiver = self.receivers.get(&name).cloned();
            tasks.spawn(async move { this.deliver_all(receiver, list).await });
        }
        let mut step = Step::default();
        while let Some(r) = tasks.join_next().await {
            let s = r??;
            step.attempted += s.attempted;
            step.hold = match (step.hold, s.hold) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(step)
    }

    async fn deliver_all(
        &self,
        receiver: Option<Arc<Receiver>>,
        list: Vec<Delivery>,
    ) -> Result<Step> {
        let mut step = Step::default();
        for d in list {
            let outcome = match &receiver {
                None => Attempt::Failed {
                    error: format!("receiver {:?} is no longer configured", d.receiver),
                },
                Some(r) => {
                    let taken = r.limiter.lock().await.try_take(std::time::Instant::now());
                    if let Err(wait) = taken {
                        // Held back by the rate limit: stays due, a later step sends it.
                        step.hold = Some(wait);
                        break;
                    }
                    // Several collectors run this outbox on one store: whoever takes a
                    // delivery sends it, the others skip it.
                    let store = self.store.clone();
                    let claim = d.clone();
                    let lease = r.sink.timeout() + CLAIM_MARGIN;
                    let mine =
                        tokio::task::spawn_blocking(move || store.claim_delivery(&claim, lease))
                            .await??;
                    if !mine {
                        continue;
                    }
                    match r.sink.deliver(&d.alert).await {
                        Ok(()) => Attempt::Delivered,
                        Err(e) if e.retry => Attempt::Retry {
                            at: model::now()
                                + feeds::alert::backoff(
                                    d.attempts.saturating_add(1),
                                    feeds::alert::backoff_seed(&d.alert.id),
                                ),
                            error: e.message,
                        },
                        Err(e) => Attempt::Failed { error: e.message },
                    }
                }
            };
            step.attempted += 1;
            self.announce(&d, &outcome);
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || store.record_delivery(&d, &outcome)).await??;
        }
        Ok(step)
    }

    fn announce(&self, d: &Delivery, outcome: &Attempt) {
        let attempts = d.attempts.saturating_add(1);
        let event = match outcome {
            Attempt::Delivered => {
                let latency = model::now() - d.alert.triggered_at;
                Event::new(EventKind::AlertDelivered, None)
                    .field("alert", d.alert.id)
                    .field("receiver", &d.receiver)
                    .field("attempts", attempts)
                    .field("latency_ms", latency.whole_milliseconds())
            }
            Attempt::Retry { error, .. } | Attempt::Failed { error } => {
                Event::new(EventKind::AlertFailed, None)
                    .field("alert", d.alert.id)
                    .field("receiver", &d.receiver)
                    .field("attempts", attempts)
                    .field("retry", matches!(outcome, Attempt::Retry { .. }))
                    .field("error", error)
            }
        };
        self.events.emit(event);
    }

    /// Delivers until `shutdown` resolves: after each step, waits for a wake-up from the
    /// clustering step, the next due retry, or [`IDLE_CHECK`].
    pub async fn run(self, wake: Arc<Notify>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let step = match self.try_deliver_due().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "alert delivery step failed");
                    Step::default()
                }
            };
            if step.attempted > 0 && step.hold.is_none() {
                // More may be due (a full batch, or rate-limited ones): look again soon.
                tokio::select! {
                    _ = &mut shutdown => return,
                    _ = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
            let wait = match step.hold {
                Some(hold) => hold,
                None => self.until_next_due().await,
            }
            // Never spin: a step that failed leaves its deliveries due "now".
            .clamp(MIN_WAIT, IDLE_CHECK);
            tokio::select! {
                _ = &mut shutdown => return,
                _ = wake.notified() => {},
                _ = tokio::time::sleep(wait) => {},
            }
        }
    }

    async fn until_next_due(&self) -> Duration {
        let store = self.store.clone();
        let next = tokio::task::spawn_blocking(move || store.next_delivery()).await;
        match next {
            Ok(Ok(Some(at))) => {
                let d = at - model::now();
                Duration::try_from(d).unwrap_or(Duration::ZERO)
            }
            _ => IDLE_CHECK,
        }
    }
}
