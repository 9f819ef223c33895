//! The collector's consumer: bus → store, acknowledged only once durable, never twice.
//!
//! Every collector fetches from the same durable pull consumer (work-queue retention: each
//! message goes to one of them). A batch is stored with [`store::Store::ingest`], idempotent on
//! the sighting id, and each message is acknowledged on the bus only after its capture ticket
//! resolved (fsync + index commit) — so a collector killed mid-batch loses nothing (the bus
//! redelivers after `ack_wait`) and a redelivery stores nothing twice. Session records go the same
//! way, with [`store::Store::ingest_session`]'s ticket. A payload that does
//! not decode, or that a store refuses for what it is (not for a full disk), is a *dead letter*:
//! copied to the dead-letter subject with the reason, logged, and taken off the work queue, so
//! it can neither stop the consumer nor come back.

use super::Backoff;
use crate::metrics::names;
use bus::{BusMessage, Delivery};
use std::time::Duration;
use store::{Store, StoreError};
use tokio::sync::watch;

/// How long one fetch waits for messages before it returns with fewer.
pub const FETCH_WAIT: Duration = Duration::from_millis(500);
/// Redelivery delay asked for a message the store could not take now (full queue, failing disk).
pub const RETRY_DELAY: Duration = Duration::from_secs(2);
/// Distinct sensors given their own metric labels; the rest count as `other`. Sensor ids come
/// from authenticated subjects, but a label set must stay bounded whatever the bus carries.
pub const MAX_SENSOR_LABELS: usize = 1000;

/// What one [`Collector::step`] did with the messages it fetched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Step {
    pub stored: usize,
    /// Already stored (a redelivery or a re-publish past the de-dup window).
    pub duplicates: usize,
    pub sessions: usize,
    pub dead_letters: usize,
    /// Handed back to the bus for a later try.
    pub retried: usize,
}

/// Consumes the bus into the store.
#[derive(Debug)]
pub struct Collector {
    store: Store,
    consumer: bus::Consumer,
    batch: usize,
    labels: std::collections::HashSet<String>,
}

enum Pending {
    Capture(Delivery, store::CaptureTicket, Option<String>),
    Session(Delivery, store::SessionTicket),
}

impl Collector {
    pub fn new(store: Store, consumer: bus::Consumer, batch: usize) -> Self {
        Collector {
            store,
            consumer,
            batch,
            labels: std::collections::HashSet::new(),
        }
    }

    /// Fetches one batch (waiting at most [`FETCH_WAIT`]), stores it and acknowledges it.
    pub async fn step(&mut self) -> anyhow::Result<Step> {
        let deliveries = self.consumer.fetch(self.batch, FETCH_WAIT).await?;
        let mut step = Step::default();
        let mut pending = Vec::with_capacity(deliveries.len());
        for mut d in deliveries {
            // Moved out: the raw bytes go to the store without a copy.
            match std::mem::replace(&mut d.payload, Err(bus::WireError::Truncated)) {
                Err(e) => {
                    self.dead_letter(d, &e.to_string(), &mut step).await?;
                }
                Ok(BusMessage::Capture { sighting, raw }) => {
                    let sensor = sighting.sensor.as_ref().map(|t| t.id.clone());
                    let ticket = self.store.ingest(raw, sighting);
                    pending.push(Pending::Capture(d, ticket, sensor));
                }
                Ok(BusMessage::Session(record)) => {
                    let ticket = self.store.ingest_session(record);
                    pending.push(Pending::Session(d, ticket));
                }
            }
        }
        let mut acks = Vec::with_capacity(pending.len());
        for p in pending {
            match p {
                Pending::Capture(d, ticket, sensor) => match ticket.await {
                    Ok(c) if c.replayed => {
                        step.duplicates += 1;
                        acks.push(d);
                    }
                    Ok(_) => {
                        step.stored += 1;
                        self.count_sensor(sensor.as_deref());
                        acks.push(d);
                    }
                    Err(e) if transient(&e) => {
                        step.retried += 1;
                        d.nak(RETRY_DELAY).await?;
                    }
                    Err(e) => self.dead_letter(d, &e.to_string(), &mut step).await?,
                },
                Pending::Session(d, ticket) => match ticket.await {
                    Ok(_) => {
                        step.sessions += 1;
                        acks.push(d);
                    }
                    Err(e) if transient(&e) => {
                        step.retried += 1;
                        d.nak(RETRY_DELAY).await?;
                    }
                    Err(e) => self.dead_letter(d, &e.to_string(), &mut step).await?,
                },
            }
        }
        // Unconfirmed: the store already holds these, and a redelivery of one is recognised.
        let results =
            futures_util::future::join_all(acks.iter().map(|d| d.ack_unconfirmed())).await;
        if let Some(Err(e)) = results.into_iter().find(|r| r.is_err()) {
            // Stored already: a lost ack only means a redelivery, which stores nothing twice.
            tracing::warn!(error = %e, "an acknowledgement did not reach the bus; the message will come again and be recognised");
        }
        let received = |kind: &'static str, outcome: &'static str, n: usize| {
            if n > 0 {
                ::metrics::counter!(names::BUS_RECEIVED, "kind" => kind, "outcome" => outcome)
                    .increment(n as u64);
            }
        };
        received("capture", "stored", step.stored);
        received("capture", "duplicate", step.duplicates);
        received("session", "stored", step.sessions);
        received("any", "retried", step.retried);
        Ok(step)
    }

    async fn dead_letter(&self, d: Delivery, reason: &str, step: &mut Step) -> anyhow::Result<()> {
        tracing::warn!(subject = %d.subject, sensor = d.sensor.as_deref().unwrap_or("-"), reason, "message on the bus rejected to the dead-letter subject");
        d.dead_letter(reason).await?;
        ::metrics::counter!(names::BUS_DEAD_LETTERS).increment(1);
        step.dead_letters += 1;
        Ok(())
    }

    fn count_sensor(&mut self, sensor: Option<&str>) {
        let Some(id) = sensor else { return };
        let label = if self.labels.contains(id) {
            id.to_owned()
        } else if self.labels.len() < MAX_SENSOR_LABELS {
            self.labels.insert(id.to_owned());
            id.to_owned()
        } else {
            "other".to_owned()
        };
        ::metrics::counter!(names::SENSOR_SIGHTINGS, "sensor" => label.clone()).increment(1);
        ::metrics::gauge!(names::SENSOR_LAST_SEEN, "sensor" => label)
            .set(model::now().unix_timestamp() as f64);
    }

    /// Runs until `stop` turns true; a batch in progress is finished (stored and acknowledged)
    /// first.
    pub async fn run(mut self, stop: watch::Receiver<bool>) {
        let mut backoff = Backoff::new();
        let mut failing = false;
        while !*stop.borrow() {
            match self.step().await {
                Ok(_) => {
                    if failing {
                        tracing::info!("consuming from the bus again");
                    }
                    failing = false;
                    backoff.reset();
                }
                Err(e) => {
                    let pause = backoff.next();
                    if !failing || pause == super::MAX_BACKOFF {
                        tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "consuming from the bus failed");
                    }
                    failing = true;
                    let mut stop = stop.clone();
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
        }
    }
}

/// A store error that may go away by itself (queue full, disk trouble) — worth a redelivery —
/// as opposed to one about the message itself.
fn transient(e: &StoreError) -> bool {
    !matches!(
        e,
        StoreError::TooLarge { .. } | StoreError::IdMismatch { .. } | StoreError::Invalid { .. }
    )
}
