//! Idempotent ingest for a collector: sightings and session records that arrive over the bus,
//! where a redelivery must never create a duplicate.
//!
//! The check is the writer's, under its write lock: a sighting (or session record) whose id is
//! stored already, or earlier in the same batch, is a replay; nothing of it is appended to the
//! journal and no job is created. (A plain [`Store::capture`] with a known sighting id already
//! indexed nothing twice, `INSERT OR IGNORE`, but appended the record again.)

use crate::error::{Result, StoreError};
use crate::writer::{Cmd, PendingSession};
use crate::{CaptureTicket, Store, index, segment};
use model::{SessionRecord, Sighting};
use std::future::Future;
use std::pin::Pin;
use std::sync::mpsc;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// Resolves when an ingested session record is durable: `true` if it was stored now, `false` if
/// its id was stored already (a redelivery). Await it, or [`SessionTicket::wait`].
#[derive(Debug)]
pub struct SessionTicket {
    rx: oneshot::Receiver<Result<bool>>,
}

impl SessionTicket {
    fn failed(e: StoreError) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(e));
        Self { rx }
    }

    /// Blocks the thread until the record is durable (synchronous callers only).
    pub fn wait(self) -> Result<bool> {
        self.rx.blocking_recv().unwrap_or(Err(StoreError::Closed))
    }
}

impl Future for SessionTicket {
    type Output = Result<bool>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(StoreError::Closed)))
    }
}

impl Store {
    /// [`Store::capture`] for a sighting that came over the bus: the same checks (plus the
    /// sensor tag's, since it arrived over the network), durability and analysis job, except
    /// that a sighting whose id is stored already, or earlier in the same batch, resolves
    /// `Captured { duplicate: true, replayed: true, .. }` and appends nothing.
    pub fn ingest(&self, raw: Vec<u8>, sighting: Sighting) -> CaptureTicket {
        if let Some(tag) = &sighting.sensor
            && let Err(e) = tag.validate()
        {
            let e = StoreError::invalid(format!("sighting {}: {e}", sighting.id));
            return CaptureTicket::failed(e);
        }
        self.queue_capture(raw, sighting, true)
    }

    /// [`Store::record_session`] for a record that came over the bus: a record whose id is
    /// stored already is skipped. Unlike `record_session` it is never dropped silently: the
    /// ticket says whether it was stored, or why not (a full queue fails at once).
    pub fn ingest_session(&self, record: SessionRecord) -> SessionTicket {
        let json = match serde_json::to_string(&record) {
            Ok(json) => json,
            Err(e) => return SessionTicket::failed(StoreError::corrupt(format!("session: {e}"))),
        };
        let (reply, rx) = oneshot::channel();
        let pending = PendingSession {
            digest: segment::digest(json.as_bytes()),
            row: index::SessionRow::new(&record, json),
            ingest: Some(reply),
        };
        match self.inner.tx.try_send(Cmd::Session(Box::new(pending))) {
            Ok(()) => SessionTicket { rx },
            Err(mpsc::TrySendError::Full(_)) => {
                let capacity = self.inner.cfg.queue_capacity;
                SessionTicket::failed(StoreError::Full {
                    detail: format!("{capacity} commands already wait for the store writer"),
                })
            }
            Err(mpsc::TrySendError::Disconnected(_)) => SessionTicket::failed(StoreError::Closed),
        }
    }

    /// The sensors this store received sightings from, by id.
    pub fn sensors(&self) -> Result<Vec<crate::SensorRow>> {
        self.on(crate::sensors::list, crate::pg::sensors::list)
    }
}
