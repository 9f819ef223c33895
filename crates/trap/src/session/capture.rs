//! The end of a message: build the sighting, make it durable, and only then say `250`.

use super::{Flow, Session};
use crate::persona::{Ctx, Say};
use model::{EventKind, MessageId, Sighting, SightingSource, Timings};

impl Session {
    /// Hands the finished message to the store and answers by the outcome: `250 ... queued as`
    /// once raw bytes, sighting and analysis job are on disk; `451` if the store failed.
    pub(super) async fn capture(&mut self) -> Flow {
        let Some(tx) = self.tx.take() else {
            return Flow::Continue;
        };
        let raw = tx.body;
        let message_id = MessageId::of(&raw);
        let queue_id = self.shared.persona.queue_id();
        let data_ms = tx
            .data_started
            .map(|t| t.elapsed().as_millis())
            .unwrap_or(0);
        let sighting = Sighting {
            id: uuid::Uuid::now_v7(),
            message_id,
            received_at: model::now(),
            source: SightingSource::Smtp,
            size: raw.len() as u64,
            session_id: self.record.id,
            listener: self.meta.listener.clone(),
            peer: self.record.peer.clone(),
            local: self.record.local.clone(),
            helo: self.helo.clone(),
            tls: self.tls.clone(),
            envelope: tx.envelope,
            anomalies: tx.anomalies,
            timings: Timings {
                session_ms: self.ms(),
                data_ms: u64::try_from(data_ms).unwrap_or(u64::MAX),
            },
            queue_id: queue_id.clone(),
        };
        let sighting_id = sighting.id;
        let size = sighting.size;
        let sender = sighting.envelope.mail_from.address.clone();
        let recipients: Vec<String> = sighting
            .envelope
            .accepted()
            .map(|r| r.address.clone())
            .collect();
        match self.shared.store.capture(raw, sighting).await {
            Ok(captured) => {
                self.record.sightings.push(sighting_id);
                self.emit(
                    self.event(EventKind::MessageStored)
                        .field("message_id", message_id)
                        .field("sighting", sighting_id)
                        .field("size", size)
                        .field("sender", &sender)
                        .field("recipients", &recipients)
                        .field("queue_id", &queue_id)
                        .field("duplicate", captured.duplicate),
                );
                self.say(
                    Say::Queued,
                    Ctx {
                        qid: &queue_id,
                        ..Ctx::default()
                    },
                );
                Flow::Continue
            }
            Err(e) => {
                tracing::error!(error = %e, session = %self.record.id, "capture failed; answering 451");
                self.emit(
                    self.event(EventKind::MessageStoreFailed)
                        .field("message_id", message_id)
                        .field("size", size)
                        .field("error", e.to_string()),
                );
                self.fail(Say::StoreFailed, Ctx::default()).await
            }
        }
    }
}
